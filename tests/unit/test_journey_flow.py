"""A journey drawn as a flow: every step once, edges as the definition links them, paths side by side,
conditions in words, and counts that follow from what is recorded (and only where they do)."""

from __future__ import annotations

from typing import Any

from loopline.domain.journey_flow import END, TRIGGER, Recorded, counts_of, flow_of
from loopline.domain.journey_templates import templates
from loopline.domain.journeys import parse_journey

MAIL = {"email": {"subject": "Hello {{ traits.firstName }}", "body": "<p>Hi</p>"}}


def _send(step_id: str, next_step: str | None = None, subject: str = "Hello") -> dict[str, Any]:
    return {"id": step_id, "type": "send", "channels": ["email"], "next": next_step,
            "content": {"email": {"subject": subject, "body": "<p>Hi</p>"}}}


BRANCHED = {
    "trigger": {"type": "event", "event": "Signed Up",
                "where": [{"property": "plan", "operator": "eq", "value": "pro"}]},
    "goal": {"event": "Order Completed"},
    "steps": [
        {"id": "day", "type": "wait", "minutes": 1_440, "next": "vip"},
        {"id": "vip", "type": "branch", "then": "gold", "otherwise": "check",
         "condition": {"source": "trait", "path": "orders", "test": {"operator": "gte", "value": 3}}},
        _send("gold", "bye", subject="For our <b>best</b> customers"),
        {"id": "check", "type": "branch", "then": "bye",
         "condition": {"source": "engagement", "step": "gold", "action": "opened"}},
        {"id": "bye", "type": "exit"},
    ],
}


def test_every_step_appears_once_with_the_trigger_and_the_ends_its_paths_reach() -> None:
    flow = flow_of(parse_journey(BRANCHED))
    ids = [node.id for node in flow.nodes]
    assert sorted(ids) == sorted([TRIGGER, "day", "vip", "gold", "check", "bye", END + "check"])
    assert len(ids) == len(set(ids))
    kinds = {node.id: node.kind for node in flow.nodes}
    assert kinds == {TRIGGER: "trigger", "day": "wait", "vip": "branch", "gold": "send", "check": "branch",
                     "bye": "exit", END + "check": "end"}


def test_edges_follow_the_definition_with_what_takes_each() -> None:
    flow = flow_of(parse_journey(BRANCHED))
    assert {(edge.source, edge.target, edge.label) for edge in flow.edges} == {
        (TRIGGER, "day", ""), ("day", "vip", ""), ("vip", "gold", "yes"), ("vip", "check", "no"),
        ("gold", "bye", ""), ("check", "bye", "yes"), ("check", END + "check", "no")}
    # Two paths meeting at "bye": the tree reaches it from gold first; the other link draws as a cross edge.
    assert {(edge.source, edge.target) for edge in flow.edges if not edge.forward} == {("check", "bye")}


def test_branches_lay_out_side_by_side_below_the_branch() -> None:
    flow = flow_of(parse_journey(BRANCHED))
    at = {node.id: (node.row, node.column) for node in flow.nodes}
    assert [at[TRIGGER][0], at["day"][0], at["vip"][0]] == [0, 1, 2]
    assert at["gold"][0] == at["check"][0] == 3
    assert at["gold"][1] < at["check"][1]  # "yes" on the left, "no" on the right
    assert at["vip"][1] == (at["gold"][1] + at["check"][1]) / 2  # the branch sits over its paths
    assert (flow.columns, flow.rows) == (2, 5)
    split = flow_of(parse_journey({"trigger": {"event": "Signed Up"}, "steps": [
        {"id": "ab", "type": "split", "paths": [{"percent": 20, "next": "a"}, {"percent": 30, "next": "b"},
                                                 {"percent": 50}]},
        _send("a"), _send("b")]}))
    rows = {node.id: node.row for node in split.nodes}
    columns = sorted((node.column, node.id) for node in split.nodes if node.row == 2)
    assert rows["a"] == rows["b"] == rows[END + "ab"] == 2
    assert [node for _, node in columns] == ["a", "b", END + "ab"]
    assert len({column for column, _ in columns}) == 3
    assert {edge.label for edge in split.edges if edge.source == "ab"} == {"20 %", "30 %", "50 %"}


def test_each_step_is_described_in_words() -> None:
    nodes = {node.id: node for node in flow_of(parse_journey(BRANCHED)).nodes}
    assert nodes[TRIGGER].lines == ("When Signed Up where plan is pro happens", "Each customer enters once",
                                    "Goal: Order Completed (ends it at any step)")
    assert nodes["day"].lines == ("Wait 1 day",)
    assert nodes["vip"].lines == ("If trait orders is at least 3",)
    assert nodes["check"].lines == ("If the message of step gold was opened",)
    assert nodes["gold"].lines == ("Send by email", "For our best customers")
    low_balance = next(t for t in templates({}) if t.key == "low_balance_alert")
    below = next(node for node in flow_of(parse_journey(low_balance.definition)).nodes if node.id == "below")
    assert below.lines == ("If the trigger's balance is below their own alert_threshold (10 when unset)",)
    waits = flow_of(parse_journey({"trigger": {"type": "segment_entered", "segment_id": "seg_1"}, "steps": [
        {"id": "hold", "type": "wait", "minutes": 90, "until_event": {"event": "Order Completed"},
         "next": "nudge", "on_event": "done"},
        _send("nudge"), {"id": "done", "type": "exit"}]}), segment_names={"seg_1": "Lapsed"})
    by_id = {node.id: node for node in waits.nodes}
    assert by_id[TRIGGER].lines[0] == "On entering segment Lapsed"
    assert by_id["hold"].lines == ("Wait for Order Completed, at most 90 minutes",)
    assert {(edge.source, edge.target, edge.label) for edge in waits.edges if edge.source == "hold"} == {
        ("hold", "done", "on Order Completed"), ("hold", "nudge", "timeout")}


def test_every_template_draws_with_each_of_its_steps_once() -> None:
    for template in templates({"win_back": "seg_1", "classified_ad_expiring": "seg_2"}):
        definition = parse_journey(template.definition)
        flow = flow_of(definition)
        step_nodes = [node.id for node in flow.nodes if node.id != TRIGGER and not node.id.startswith(END)]
        assert sorted(step_nodes) == sorted(step.id for step in definition.steps), template.key


def test_counts_follow_from_positions_and_sends_where_the_shape_determines_them() -> None:
    flow = flow_of(parse_journey(BRANCHED))
    recorded = Recorded(
        positions={("active", "day", ""): 3, ("done", "vip", "goal_reached"): 0, ("done", None, "exited"): 5,
                   ("done", None, "completed"): 2, ("done", "gold", "goal_reached"): 1},
        sends={("gold", "sent", ""): 3, ("gold", "skipped", "quiet_hours"): 1})
    counts = counts_of(flow, recorded)
    entered = {node: values["entered"] for node, values in counts.nodes.items()}
    assert entered[TRIGGER] == 11
    assert entered["day"] == 11
    assert counts.nodes["day"]["here_now"] == 3
    assert entered["vip"] == 8  # 11 arrived, 3 still wait at "day"
    assert entered["gold"] == 4
    assert counts.nodes["gold"]["sent"] == 3
    assert counts.nodes["gold"]["skipped"] == 1
    assert counts.nodes["gold"]["skip_reasons"] == {"quiet_hours": 1}
    assert counts.nodes["gold"]["converted"] == 1
    assert counts.edges[("vip", "gold")] == 4
    assert counts.edges[("vip", "check")] == 4
    assert counts.edges[("gold", "bye")] == 3  # one of the four converted while at gold
    # Nothing recorded tells how "check" split: its paths, and what they reach, stay unknown.
    assert counts.edges[("check", "bye")] is None
    assert counts.edges[("check", END + "check")] is None
    assert entered["check"] == 4
    assert entered["bye"] is None
    assert {key: counts.nodes[TRIGGER][key] for key in ("enrolled", "active", "completed", "exited", "converted")} == {
        "enrolled": 11, "active": 3, "completed": 2, "exited": 5, "converted": 1}


def test_a_loop_leaves_the_counts_it_makes_unknowable_unknown() -> None:
    flow = flow_of(parse_journey({"trigger": {"event": "Signed Up"}, "steps": [
        _send("ping", "pause"), {"id": "pause", "type": "wait", "minutes": 60, "next": "ping"}]}))
    assert {(edge.source, edge.target, edge.forward) for edge in flow.edges} == {
        (TRIGGER, "ping", True), ("ping", "pause", True), ("pause", "ping", False)}
    counts = counts_of(flow, Recorded(positions={("active", "pause", ""): 2}, sends={("ping", "sent", ""): 5}))
    assert counts.nodes["ping"]["entered"] == 5  # passes through the send step, as the ledger decided them
    assert counts.nodes["pause"]["entered"] == 5
    assert counts.edges[("pause", "ping")] == 3
    assert counts.nodes[TRIGGER]["enrolled"] == 2


def test_counted_links_give_every_path_of_a_loop_its_count() -> None:
    flow = flow_of(parse_journey({"trigger": {"event": "Signed Up"}, "steps": [
        _send("ping", "pause"), {"id": "pause", "type": "wait", "minutes": 60, "next": "check"},
        {"id": "check", "type": "branch", "then": "ping", "otherwise": "tag",
         "condition": {"source": "trait", "path": "plan", "test": {"operator": "eq", "value": "pro"}}},
        {"id": "tag", "type": "update_trait", "trait": "lapsed", "value": True}]}))
    recorded = Recorded(positions={("active", "pause", ""): 1, ("done", None, "completed"): 1},
                        sends={("ping", "sent", ""): 4},
                        moves={("ping", "pause"): 4, ("pause", "check"): 3, ("check", "ping"): 2,
                               ("check", "tag"): 1, ("tag", None): 1})
    counts = counts_of(flow, recorded)
    assert {node: counts.nodes[node]["entered"] for node in ("ping", "pause", "check", "tag", END + "tag")} == {
        "ping": 4, "pause": 4, "check": 3, "tag": 1, END + "tag": 1}
    assert counts.edges[("check", "ping")] == 2
    implied = counts_of(flow, Recorded(positions=recorded.positions, sends=recorded.sends))
    assert (implied.edges[("check", "ping")], implied.nodes["tag"]["entered"]) == (None, None)  # unknowable so
