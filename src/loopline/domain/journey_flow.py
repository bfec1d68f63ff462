"""A journey drawn as a flow: its steps as nodes in rows and columns, their links as edges, in words.

The layout is a tree laid over the graph: each step sits one row below the step that first
reaches it (breadth first from the trigger), and the paths out of a branch, a split or an
event wait sit side by side, each as wide as what hangs below it. Links the tree does not
use (two paths meeting again, a loop back) are still edges; only their drawing differs.

The counts come from what is recorded: how many enrolments there are, where each stands
(or stood when it ended on a goal), the send ledger's decision for each pass through a
send step, and how many enrolments followed each link (counted as they walk). A journey
whose first enrolments walked before links were counted has no such record; there how
many went down each path follows from the rest where the graph's shape determines it
(what left a step went to its one next step; a path that leads straight to a send step
carried as many as that step decided), and where it does not (a loop, two paths with
nothing recorded after them) the count is None, not a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopline.domain.journeys import (
    BranchStep,
    Condition,
    Engaged,
    EventMatch,
    ExitStep,
    JourneyDefinition,
    SendStep,
    SplitStep,
    TraitStep,
    Trigger,
    WaitStep,
)
from loopline.domain.segments.definition import Comparison, Operator

TRIGGER = "trigger"
END = "end:"  # an end node's id is this and the step it follows (a colon is never in a step id)
SUMMARY_LENGTH = 80


@dataclass(frozen=True, slots=True)
class Node:
    """One box of the flow: the trigger, a step, or the end a path reaches; ``column`` may be a half."""

    id: str
    kind: str
    title: str
    lines: tuple[str, ...]
    row: int
    column: float


@dataclass(frozen=True, slots=True)
class Edge:
    """A link from one node to the next, with what takes it ("yes", "40 %", "on Order Completed"…)."""

    source: str
    target: str
    label: str
    forward: bool  # False for a link back up the flow or across it (a loop, paths meeting again)


@dataclass(frozen=True, slots=True)
class Flow:
    """The nodes and edges of a journey, and how many columns and rows they take."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    columns: int
    rows: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the store knows of a journey's enrolments and sends.

    ``positions``: (state, step id or None, done reason) → enrolments. ``sends``: (step id,
    ledger state, reason) → decisions, one per pass through a send step. ``moves``: (from
    step, to step or None where the path ends) → how many times enrolments followed that
    link; None when some enrolments walked before links were counted.
    """

    positions: Mapping[tuple[str, str | None, str], int] = field(default_factory=dict)
    sends: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    moves: Mapping[tuple[str, str | None], int] | None = None


def flow_of(definition: JourneyDefinition, *, segment_names: Mapping[str, str] | None = None) -> Flow:
    """Return the journey as nodes laid out in rows and columns, and the edges between them."""
    links = _links(definition)
    children, depth = _tree(links)
    widths: dict[str, int] = {}

    def width(node: str) -> int:
        widths[node] = max(1, sum(width(child) for child in children[node]))
        return widths[node]

    width(TRIGGER)
    columns: dict[str, float] = {}

    def place(node: str, left: float) -> None:
        columns[node] = left + (widths[node] - 1) / 2
        for child in children[node]:
            place(child, left)
            left += widths[child]

    place(TRIGGER, 0)
    words = _words(definition, segment_names or {})
    nodes = tuple(Node(node, *words[node], row=depth[node], column=columns[node]) for node in depth)
    edges = tuple(Edge(source, target, label, forward=target in children[source])
                  for source, targets in links.items() for target, label in targets)
    return Flow(nodes, edges, columns=widths[TRIGGER], rows=max(depth.values()) + 1)


def _links(definition: JourneyDefinition) -> dict[str, list[tuple[str, str]]]:
    """Return each node's outgoing links in order: (target, label); a missing next leads to an end node."""
    links: dict[str, list[tuple[str, str]]] = {TRIGGER: [(definition.steps[0].id, "")]}
    for step in definition.steps:
        outs: list[tuple[str | None, str]]
        if isinstance(step, BranchStep):
            outs = [(step.then, "yes"), (step.otherwise, "no")]
        elif isinstance(step, SplitStep):
            outs = [(path.next, f"{path.percent:g} %") for path in step.paths]
        elif isinstance(step, WaitStep) and step.until_event is not None and step.on_event is not None:
            outs = [(step.on_event, f"on {step.until_event.event}"), (step.next, "timeout")]
        elif isinstance(step, ExitStep):
            outs = []
        else:
            outs = [(step.next, "")]
        mine: list[tuple[str, str]] = []
        for target, label in outs:
            link = (target if target is not None else END + step.id, label)
            if link[0] in [known for known, _ in mine]:
                continue  # two ways to the same step draw as one edge
            mine.append(link)
            links.setdefault(link[0], [])
        links[step.id] = mine
    return links


def _tree(links: Mapping[str, list[tuple[str, str]]]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Return each node's children in the breadth-first tree from the trigger, and each node's row."""
    depth = {TRIGGER: 0}
    children: dict[str, list[str]] = {node: [] for node in links}
    queue = [TRIGGER]
    for node in queue:
        for target, _ in links[node]:
            if target not in depth:
                depth[target] = depth[node] + 1
                children[node].append(target)
                queue.append(target)
    for node in links:  # a step nothing leads to still appears, below the rest
        if node not in depth:
            depth[node] = max(depth.values()) + 1
            children[TRIGGER].append(node)
    return children, depth


Words = dict[str, tuple[str, str, tuple[str, ...]]]


def _words(definition: JourneyDefinition, segment_names: Mapping[str, str]) -> Words:
    """Return each node's kind, title and lines of description."""
    trigger = [_trigger_text(definition.trigger, segment_names), _entry_text(definition)]
    if definition.goal is not None:
        trigger.append(f"Goal: {_event_text(definition.goal)} (ends it at any step)")
    words: Words = {TRIGGER: ("trigger", "Trigger", tuple(trigger))}
    for step in definition.steps:
        words[step.id] = (step.type, step.id, tuple(_step_lines(step)))
        if _ends_of(step):
            words[END + step.id] = ("end", "End", ("The journey is complete",))
    return words


def _ends_of(step: Any) -> list[str]:
    if isinstance(step, BranchStep):
        return [name for name, target in (("then", step.then), ("otherwise", step.otherwise)) if target is None]
    if isinstance(step, SplitStep):
        return ["path" for path in step.paths if path.next is None]
    if isinstance(step, ExitStep):
        return []
    return ["next"] if getattr(step, "next", None) is None else []


def _step_lines(step: Any) -> list[str]:
    if isinstance(step, SendStep):
        first = step.content[step.channels[0]]
        return [f"Send by {' or '.join(step.channels)}", summary(first.subject or first.body)]
    if isinstance(step, WaitStep):
        return [_wait_text(step)]
    if isinstance(step, BranchStep):
        return [f"If {condition_text(step.condition)}"]
    if isinstance(step, SplitStep):
        return [f"Split at random: {' / '.join(f'{path.percent:g} %' for path in step.paths)}"]
    if isinstance(step, TraitStep):
        return [f"Set trait {step.trait} to {_value(step.value)}"]
    return ["Exit the journey"]


def _trigger_text(trigger: Trigger, segment_names: Mapping[str, str]) -> str:
    if trigger.type in ("segment_entered", "segment_exited"):
        segment = segment_names.get(trigger.segment_id or "", trigger.segment_id or "")
        return f"On {'entering' if trigger.type == 'segment_entered' else 'leaving'} segment {segment}"
    text = f"When {_event_text(trigger.as_match())} happens"
    if trigger.type == "past_buyers":
        buyers = trigger.buyers
        order = buyers.event if buyers else "Order Completed"
        text += f": everyone whose {order} names that product"
    return text


def _entry_text(definition: JourneyDefinition) -> str:
    entry = definition.entry
    return {"once": "Each customer enters once", "every_time": "Enters every time (one run at a time)",
            "digest": "Later triggers join the running enrolment's digest"}.get(
        entry.rule, f"Enters at most once every {entry.days} days")


def _event_text(match: EventMatch) -> str:
    conditions = [f"{condition.property} {comparison_text(condition)}" for condition in match.where]
    return match.event + (f" where {' and '.join(conditions)}" if conditions else "")


def _wait_text(step: WaitStep) -> str:
    if step.until_local_time is not None:
        return f"Wait until {step.until_local_time.strftime('%H:%M')} their local time"
    span = duration_text(step.minutes or 0)
    if step.until_event is not None:
        return f"Wait for {_event_text(step.until_event)}, at most {span}"
    return f"Wait {span}"


def duration_text(minutes: int) -> str:
    """Return a span in the largest whole unit: "90 minutes", "2 hours", "3 days"."""
    for unit, size in (("day", 1_440), ("hour", 60)):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def condition_text(condition: Condition | Engaged) -> str:
    """Return a branch's condition in words: "trait plan is pro", "the message of step hello was opened"."""
    if isinstance(condition, Engaged):
        return f"the message of step {condition.step} was {condition.action}"
    where = {"trait": "trait", "computed": "computed property", "event": "the trigger's"}[condition.source]
    test = comparison_text(condition.test)
    if condition.against_trait is not None:
        default = _value(condition.test.value)
        test = f"{_OPERATOR_WORDS.get(condition.test.operator, condition.test.operator.value)} their own " \
               f"{condition.against_trait} ({default} when unset)"
    return f"{where} {condition.path} {test}"


_OPERATOR_WORDS = {
    Operator.EQ: "is", Operator.NE: "is not", Operator.LT: "is below", Operator.LTE: "is at most",
    Operator.GT: "is above", Operator.GTE: "is at least", Operator.CONTAINS: "contains",
}


def comparison_text(test: Comparison) -> str:
    """Return a comparison in words, without the value's name: "is below 10", "is one of a, b"."""
    op = test.operator
    if op in _OPERATOR_WORDS:
        return f"{_OPERATOR_WORDS[op]} {_value(test.value)}"
    if op is Operator.BETWEEN:
        return f"is between {_value(test.low)} and {_value(test.high)}"
    if op in (Operator.IN, Operator.NOT_IN):
        listed = ", ".join(_value(value) for value in test.values or [])
        return f"is {'one' if op is Operator.IN else 'none'} of {listed}"
    if op in (Operator.EXISTS, Operator.NOT_EXISTS):
        return "is set" if op is Operator.EXISTS else "is not set"
    return {Operator.WITHIN_NEXT_DAYS: f"falls within the next {test.days} days",
            Operator.WITHIN_LAST_DAYS: f"fell within the last {test.days} days"}.get(
        op, f"has its anniversary within the next {test.days} days")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "nothing" if value is None else str(value)


def summary(text: str) -> str:
    """Return a message's text without markup, cut to ``SUMMARY_LENGTH`` characters."""
    plain = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return plain if len(plain) <= SUMMARY_LENGTH else plain[:SUMMARY_LENGTH - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Counts:
    """Per node: how many arrived (None when not determined), are there now, and what its sends did;
    per edge (source, target): how many went that way (None when not determined)."""

    nodes: dict[str, dict[str, Any]]
    edges: dict[tuple[str, str], int | None]


def counts_of(flow: Flow, recorded: Recorded) -> Counts:
    """Return the counts of each node and edge, from what is recorded and what the graph's shape implies."""
    total = sum(recorded.positions.values())
    stayed: dict[str | None, int] = {}
    for (_, step_id, _), count in recorded.positions.items():
        stayed[step_id] = stayed.get(step_id, 0) + count
    nodes = {node.id: _node_counts(node, recorded) for node in flow.nodes}
    entered: dict[str, int | None] = {node.id: None for node in flow.nodes}
    entered[TRIGGER] = total
    for node in flow.nodes:
        if node.kind == "send":
            entered[node.id] = nodes[node.id]["decided"]
    edges: dict[tuple[str, str], int | None] = {(edge.source, edge.target): _moved(edge, recorded.moves)
                                                for edge in flow.edges}
    outgoing = {node.id: [key for key in edges if key[0] == node.id] for node in flow.nodes}
    incoming = {node.id: [key for key in edges if key[1] == node.id] for node in flow.nodes}
    for _ in range(len(flow.nodes) + len(edges) + 1):  # each round settles at least one number, or none can be
        before = (dict(entered), dict(edges))
        for node in flow.nodes:
            arrivals = [edges[key] for key in incoming[node.id]]
            if entered[node.id] is None and arrivals and all(value is not None for value in arrivals):
                entered[node.id] = sum(value for value in arrivals if value is not None)
            _settle_edges(node.id, entered, stayed=stayed.get(node.id, 0) if node.id != TRIGGER else 0,
                          outgoing=outgoing[node.id], incoming=incoming, edges=edges)
        if (entered, edges) == before:
            break
    for node_id, value in entered.items():
        nodes[node_id]["entered"] = value
    nodes[TRIGGER].update(_totals(recorded))
    return Counts(nodes, edges)


def _moved(edge: Edge, moves: Mapping[tuple[str, str | None], int] | None) -> int | None:
    """Return how many followed a link, where links are counted (the trigger's is every enrolment: inferred)."""
    if moves is None or edge.source == TRIGGER:
        return None
    return moves.get((edge.source, None if edge.target.startswith(END) else edge.target), 0)


def _settle_edges(node_id: str, entered: dict[str, int | None], *, stayed: int, outgoing: list[tuple[str, str]],
                  incoming: Mapping[str, list[tuple[str, str]]], edges: dict[tuple[str, str], int | None]) -> None:
    """Fill in what left a node along its edges where the numbers determine it."""
    arrived = entered[node_id]
    if arrived is None or not outgoing:
        return
    left = arrived - stayed
    for key in outgoing:  # a path that is the only way into a step with a known count carried that count
        target = key[1]
        if edges[key] is None and len(incoming[target]) == 1 and entered[target] is not None:
            edges[key] = entered[target]
    unknown = [key for key in outgoing if edges[key] is None]
    if len(unknown) == 1:
        rest = left - sum(edges[key] or 0 for key in outgoing if key != unknown[0])
        edges[unknown[0]] = rest if rest >= 0 else None  # below zero: the records disagree (an older version)


def _node_counts(node: Node, recorded: Recorded) -> dict[str, Any]:
    here = sum(count for (state, step_id, _), count in recorded.positions.items()
               if state == "active" and step_id == node.id)
    converted = sum(count for (state, step_id, reason), count in recorded.positions.items()
                    if reason == "goal_reached" and step_id == node.id)
    counts: dict[str, Any] = {"entered": None, "here_now": here, "converted": converted}
    if node.kind == "send":
        states: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for (step_id, state, reason), count in recorded.sends.items():
            if step_id == node.id:
                states[state] = states.get(state, 0) + count
                if state == "skipped":
                    reasons[reason or "unknown"] = reasons.get(reason or "unknown", 0) + count
        counts.update(decided=sum(states.values()), sent=states.get("sent", 0), skipped=states.get("skipped", 0),
                      skip_reasons=dict(sorted(reasons.items())), states=dict(sorted(states.items())))
    return counts


def _totals(recorded: Recorded) -> dict[str, int]:
    """Return the journey's totals: enrolled, active, done, and why the done ones ended."""
    totals = {"enrolled": 0, "active": 0, "completed": 0, "converted": 0, "exited": 0, "other_ends": 0}
    for (state, _, reason), count in recorded.positions.items():
        totals["enrolled"] += count
        if state == "active":
            totals["active"] += count
        elif reason in ("completed", "exited"):
            totals[reason] += count
        elif reason == "goal_reached":
            totals["converted"] += count
        else:
            totals["other_ends"] += count
    return totals
