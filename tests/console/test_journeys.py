"""The console's journeys pages: the list with its counts, a journey's flow with per-step counts equal
to what its enrolments did, status moves and the definition editor, and who may see and change them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any

from loopline.actions.journeys import JourneyEngine
from loopline.store.sql.tables import journeys
from tests.console.conftest import member, sign_in
from tests.engagement.conftest import NOW, customers, shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}
ONBOARDING = {
    "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "once"},
    "goal": {"event": "Order Completed"},
    "steps": [
        {"id": "greet", "type": "send", "channels": ["email"], "next": "day",
         "content": {"email": {"subject": "Welcome {{ traits.firstName }}", "body": "<p>Hello</p>"}}},
        {"id": "day", "type": "wait", "minutes": 1_440, "next": "vip"},
        {"id": "vip", "type": "branch", "then": "offer", "otherwise": "bye",
         "condition": {"source": "trait", "path": "plan", "test": {"operator": "eq", "value": "pro"}}},
        {"id": "offer", "type": "send", "channels": ["email"],
         "content": {"email": {"subject": "A gift for pro members", "body": "<p>Code PRO10</p>"}}},
        {"id": "bye", "type": "exit"},
    ],
}


def _signed_up(shop: Any, users: list[str]) -> None:  # noqa: F811
    shop.ingest([{"type": "track", "userId": user, "event": "Signed Up", "timestamp": shop.clock.at.isoformat()}
                 for user in users])


def _active_journey(shop: Any, name: str, definition: dict[str, Any]) -> str:  # noqa: F811
    """Create a journey through the API and activate it; return its id."""
    created = shop.client.post("/api/v1/journeys", headers=shop.headers, json={"name": name, "definition": definition})
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    assert shop.client.post(f"/api/v1/journeys/{journey_id}/activate", headers=shop.headers).status_code == 200
    return journey_id


def _plant(shop: Any) -> str:  # noqa: F811
    """Run six customers through the onboarding journey; return its id.

    Five sign up: all get the greeting and wait a day; one orders meanwhile (the goal). After
    the day, three pro customers get the offer and the free one exits. A sixth signs up late
    and waits at the day's wait.
    """
    shop.ingest(customers(6))
    shop.ingest([{"type": "identify", "userId": "u-00004", "traits": {"plan": "free"},
                  "timestamp": "2026-06-02T10:00:00Z"}])
    shop.policy(opt_in_channels=[])
    engine = JourneyEngine(shop.runtime.services, shop.runtime.pipeline)
    journey_id = _active_journey(shop, "Onboarding", ONBOARDING)
    _signed_up(shop, [f"u-{n:05d}" for n in range(5)])
    assert engine.process_events().entered == 5
    shop.clock.at = NOW + timedelta(hours=1)
    shop.ingest([{"type": "track", "userId": "u-00000", "event": "Order Completed",
                  "timestamp": shop.clock.at.isoformat()}])
    assert engine.process_events().goals == 1
    shop.clock.at = NOW + timedelta(days=1, minutes=1)
    assert engine.wake_due(now=shop.clock.at) == 4
    shop.clock.at = NOW + timedelta(days=1, minutes=2)
    _signed_up(shop, ["u-00005"])
    assert engine.process_events().entered == 1
    return journey_id


def _ledger(shop: Any, step: str) -> dict[str, int]:  # noqa: F811
    """Count the journey's ledger decisions of one step by state, through the profiles' sends API."""
    found: dict[str, int] = {}
    for n in range(6):
        for row in shop.sends(f"u-{n:05d}"):
            if row["source_kind"] == "journey" and row["step"] == step:
                found[row["state"]] = found.get(row["state"], 0) + 1
    return found


def test_the_flow_shows_per_step_counts_equal_to_what_the_enrolments_did(shop: Any) -> None:  # noqa: F811
    journey_id = _plant(shop)
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    (item,) = client.get(f"/console/w/{workspace.id}/journeys", headers=JSON).json()["items"]
    assert {key: item[key] for key in ("name", "status", "trigger", "goal", "enrolled", "active", "completed",
                                       "converted")} == {
        "name": "Onboarding", "status": "active", "trigger": "When Signed Up happens", "goal": "Order Completed",
        "enrolled": 6, "active": 1, "completed": 4, "converted": 1}
    data = client.get(f"/console/w/{workspace.id}/journeys/{journey_id}", headers=JSON).json()
    nodes = {node["id"]: node for node in data["flow"]["nodes"]}
    assert set(nodes) == {"trigger", "greet", "day", "vip", "offer", "bye", "end:offer"}
    reached = {node_id: node["counts"]["entered"] for node_id, node in nodes.items()}
    assert reached == {"trigger": 6, "greet": 6, "day": 6, "vip": 4, "offer": 3, "bye": 1, "end:offer": 3}
    assert {node_id: node["counts"]["here_now"] for node_id, node in nodes.items() if node["counts"]["here_now"]} == {
        "day": 1}
    assert nodes["day"]["counts"]["converted"] == 1
    greet, offer = _ledger(shop, "greet"), _ledger(shop, "offer")
    assert sum(greet.values()) == 6
    assert sum(offer.values()) == 3
    for step, ledger in (("greet", greet), ("offer", offer)):
        counts = nodes[step]["counts"]
        assert (counts["sent"], counts["skipped"]) == (ledger.get("sent", 0), ledger.get("skipped", 0)), step
    assert greet == {"sent": 6}
    edges = {(edge["source"], edge["target"]): (edge["label"], edge["count"]) for edge in data["flow"]["edges"]}
    assert edges == {("trigger", "greet"): ("", 6), ("greet", "day"): ("", 6), ("day", "vip"): ("", 4),
                     ("vip", "offer"): ("yes", 3), ("vip", "bye"): ("no", 1), ("offer", "end:offer"): ("", 3)}
    assert nodes["vip"]["lines"] == ["If trait plan is pro"]
    assert nodes["offer"]["lines"] == ["Send by email", "A gift for pro members"]
    assert {key: data["totals"][key] for key in (
        "enrolled", "active", "completed", "exited", "converted")} == {
        "enrolled": 6, "active": 1, "completed": 3, "exited": 1, "converted": 1}
    api = client.get(f"/api/v1/journeys/{journey_id}/enrollments", headers=shop.headers).json()["items"]
    assert len(api) == 6
    page = client.get(f"/console/w/{workspace.id}/journeys/{journey_id}")
    assert page.status_code == 200
    drawn = dict(re.findall(r'data-node="([^"]+)".*?data-count="entered">([^<]+)<', page.text, re.S))
    assert drawn == {"trigger": "6", "greet": "6", "day": "6", "vip": "4", "offer": "3", "bye": "1", "end:offer": "3"}
    labels = dict(re.findall(r'data-edge="([^"]+)">(.*?)</span>', page.text, re.S))
    assert unescape(labels["vip offer"]) == "yes · <b>3</b>"
    assert unescape(labels["vip bye"]) == "no · <b>1</b>"
    assert page.text.count('marker-end="url(#arrow)"') == 6  # one drawn path per edge
    assert "data-testid=\"move-paused\"" not in page.text  # an analyst sees no buttons to change it
    listing = client.get(f"/console/w/{workspace.id}/journeys")
    assert re.search(r'data-count="enrolled">6<.*data-count="active">1<.*data-count="completed">4<.*'
                     r'data-count="converted">1<', listing.text, re.S)
    assert "journey-templates" not in listing.text


def test_roles_workspaces_and_the_csrf_token_guard_the_journey_pages(shop: Any, other_workspace: Any) -> None:  # noqa: F811
    created = shop.client.post("/api/v1/journeys", headers=shop.headers,
                               json={"name": "Onboarding", "definition": ONBOARDING}).json()
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    base = f"/console/w/{workspace.id}/journeys"
    move = f"{base}/{created['id']}/status"
    assert sign_in(client, member(runtime, workspace.id, role="agent", email="al@example.com")).status_code == 303
    assert client.get(base, headers=JSON).status_code == 403
    assert client.get(f"{base}/{created['id']}", headers=JSON).status_code == 403
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="analyst", email="an@example.com")).status_code == 303
    token = _csrf(client, workspace.id)
    assert client.get(f"{base}/{created['id']}").status_code == 200
    refused = client.post(move, data={"csrf_token": token, "status": "active"}, headers=JSON)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert client.get(f"{base}/new", headers=JSON).status_code == 403
    assert client.post(f"{base}/new", data={"csrf_token": token, "name": "X", "definition": "{}"}).status_code == 403
    client.cookies.clear()
    assert sign_in(client, member(runtime, other_workspace.id, role="admin", email="ot@example.com")).status_code == 303
    assert client.get(base, headers=JSON).status_code == 404
    assert client.get(f"{base}/{created['id']}", headers=JSON).status_code == 404
    assert client.get(f"/console/w/{other_workspace.id}/journeys/{created['id']}", headers=JSON).status_code == 404
    client.cookies.clear()
    assert sign_in(client, member(runtime, workspace.id, role="marketer", email="ma@example.com")).status_code == 303
    forged = client.post(move, data={"status": "active"}, headers=JSON)
    assert (forged.status_code, forged.json()["code"]) == (403, "csrf_failed")
    assert _status(shop, created["id"]) == "draft"
    token = _csrf(client, workspace.id)
    moved = client.post(move, data={"csrf_token": token, "status": "active"}, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (303, f"{base}/{created['id']}")
    assert _status(shop, created["id"]) == "active"
    wrong = client.post(move, data={"csrf_token": token, "status": "active"}, headers=JSON)
    assert (wrong.status_code, wrong.json()["code"]) == (409, "status_not_allowed")
    unknown = client.post(move, data={"csrf_token": token, "status": "deleted"}, headers=JSON)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_status")
    paused = client.post(move, data={"status": "paused"}, headers=JSON | {"X-CSRF-Token": token})
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    (entry, first) = [e for e in runtime.services.accounts.list_audit(workspace_id=workspace.id)
                      if e["action"] == "journey.status_changed"]
    assert (entry["actor"], entry["target"], entry["detail"]) == ("ma@example.com", created["id"],
                                                                  {"from": "active", "to": "paused"})
    assert first["detail"] == {"from": "draft", "to": "active"}
    page = client.get(f"{base}/{created['id']}")
    assert 'data-testid="move-active"' in page.text
    assert 'data-testid="move-archived"' in page.text
    assert 'data-testid="move-paused"' not in page.text
    assert client.get(f"{base}/jny_nothing", headers=JSON).status_code == 404


def _csrf(client: Any, workspace_id: str) -> str:
    """Return the CSRF token the journeys page carries (in its sign-out form)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/console/w/{workspace_id}/journeys").text)
    assert found
    return found.group(1)


def _status(shop: Any, journey_id: str) -> str:  # noqa: F811
    return str(shop.client.get(f"/api/v1/journeys/{journey_id}", headers=shop.headers).json()["status"])


def _journeys(shop: Any) -> list[dict[str, Any]]:  # noqa: F811
    return list(shop.client.get("/api/v1/journeys", headers=shop.headers).json()["items"])


def test_the_editor_refuses_an_invalid_definition_with_its_problems_keeps_the_input_and_stores_nothing(
        shop: Any) -> None:  # noqa: F811
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    base = f"/console/w/{workspace.id}/journeys"
    assert sign_in(client, member(runtime, workspace.id, role="marketer")).status_code == 303
    token = _csrf(client, workspace.id)
    broken = dict(ONBOARDING, steps=[{**ONBOARDING["steps"][0], "next": "nowhere"}])  # type: ignore[dict-item]
    text = json.dumps(broken)
    page = client.post(f"{base}/new", data={"csrf_token": token, "name": "Onboarding <draft>", "definition": text})
    assert page.status_code == 422
    assert "step &#39;greet&#39; leads to &#39;nowhere&#39;, which is not a step" in page.text
    assert 'value="Onboarding &lt;draft&gt;"' in page.text
    textarea = re.search(r'data-testid="definition-input">(.*?)</textarea>', page.text, re.S)
    assert textarea
    assert unescape(textarea.group(1)) == text
    answer = client.post(f"{base}/new", data={"csrf_token": token, "name": "Onboarding", "definition": text},
                         headers=JSON)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_journey")
    assert any("nowhere" in problem["message"] for problem in answer.json()["problems"])
    not_json = client.post(f"{base}/new", data={"csrf_token": token, "name": "Onboarding", "definition": "{oops"},
                           headers=JSON)
    assert (not_json.status_code, not_json.json()["code"]) == (422, "invalid_json")
    assert not_json.json()["message"].startswith("the definition is not valid JSON")
    bad_template = dict(ONBOARDING, steps=[{**ONBOARDING["steps"][0], "next": None, "content": {
        "email": {"subject": "Hi {{ traits.firstName", "body": "x"}}}])  # type: ignore[dict-item]
    refused = client.post(f"{base}/new", headers=JSON, data={"csrf_token": token, "name": "Onboarding",
                                                             "definition": json.dumps(bad_template)})
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_template")
    assert _journeys(shop) == []
    assert not [e for e in runtime.services.accounts.list_audit(workspace_id=workspace.id)
                if e["action"].startswith("journey.")]


def test_a_journey_is_created_from_a_template_and_edited_into_a_new_version(shop: Any) -> None:  # noqa: F811
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    base = f"/console/w/{workspace.id}/journeys"
    assert sign_in(client, member(runtime, workspace.id, role="marketer")).status_code == 303
    listing = client.get(base)
    assert f'href="{base}/new?template=cart_abandonment"' in listing.text
    form = client.get(f"{base}/new?template=cart_abandonment", headers=JSON).json()
    assert form["name"] == "Cart abandonment with an incentive"
    assert client.get(f"{base}/new?template=nothing", headers=JSON).status_code == 404
    token = _csrf(client, workspace.id)
    made = client.post(f"{base}/new", data={"csrf_token": token, "name": form["name"],
                                            "definition": form["definition_text"]}, follow_redirects=False)
    assert made.status_code == 303
    (stored,) = _journeys(shop)
    assert made.headers["location"] == f"{base}/{stored['id']}"
    assert (stored["name"], stored["status"], stored["version"]) == (form["name"], "draft", 1)
    assert [step["id"] for step in stored["definition"]["steps"]] == ["hour", "remind", "day", "incentive", "bought"]
    editor = client.get(f"{base}/{stored['id']}/edit")
    assert editor.status_code == 200
    assert "Saving makes version 2" in editor.text
    changed = json.loads(form["definition_text"])
    changed["steps"][2]["minutes"] = 0
    refused = client.post(f"{base}/{stored['id']}/edit", data={
        "csrf_token": token, "name": form["name"], "definition": json.dumps(changed)})
    assert refused.status_code == 422
    assert "<code>definition.steps.2.wait.minutes</code>" in refused.text
    assert "Saving makes version 2" in refused.text
    assert _journeys(shop)[0]["version"] == 1
    changed["steps"][2]["minutes"] = 2_880
    saved = client.post(f"{base}/{stored['id']}/edit", headers=JSON, data={
        "csrf_token": token, "name": form["name"], "definition": json.dumps(changed)})
    assert saved.status_code == 200
    assert saved.json()["version"] == 2
    day = next(node for node in saved.json()["flow"]["nodes"] if node["id"] == "day")
    assert day["lines"] == ["Wait 2 days"]
    actions = [(e["action"], e["detail"]) for e in runtime.services.accounts.list_audit(workspace_id=workspace.id)
               if e["action"].startswith("journey.")]
    assert actions == [("journey.updated", {"version": 2}), ("journey.created", {"name": form["name"], "version": 1})]


LOOPING = {
    "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "once"},
    "steps": [
        {"id": "greet", "type": "send", "channels": ["email"], "next": "check",
         "content": {"email": {"subject": "Welcome", "body": "<p>Hello</p>"}}},
        {"id": "check", "type": "branch", "then": "tag", "otherwise": "nap",
         "condition": {"source": "trait", "path": "plan", "test": {"operator": "eq", "value": "pro"}}},
        {"id": "tag", "type": "update_trait", "trait": "welcomed", "value": True},
        {"id": "nap", "type": "wait", "minutes": 60, "next": "check"},
    ],
}


def _loop_plant(shop: Any) -> str:  # noqa: F811
    """Run four customers through a journey that loops until they are pro; return its id.

    Two pro customers are greeted and tagged at once. Two free ones wait an hour, are
    checked again and wait again; then one of them turns pro and is tagged on the next
    check, while the other waits a third time.
    """
    shop.ingest(customers(4))
    shop.ingest([{"type": "identify", "userId": user, "traits": {"plan": "free"},
                  "timestamp": "2026-06-02T10:00:00Z"} for user in ("u-00002", "u-00003")])
    shop.policy(opt_in_channels=[])
    engine = JourneyEngine(shop.runtime.services, shop.runtime.pipeline)
    journey_id = _active_journey(shop, "Until pro", LOOPING)
    _signed_up(shop, [f"u-{n:05d}" for n in range(4)])
    assert engine.process_events().entered == 4
    shop.clock.at = NOW + timedelta(minutes=61)
    assert engine.wake_due(now=shop.clock.at) == 2
    shop.ingest([{"type": "identify", "userId": "u-00002", "traits": {"plan": "pro"},
                  "timestamp": shop.clock.at.isoformat()}])
    shop.clock.at = NOW + timedelta(minutes=122)
    assert engine.wake_due(now=shop.clock.at) == 2
    engine.process_events()  # the tag's identify reaches the profiles
    return journey_id


def test_paths_through_a_loop_and_below_a_branch_without_sends_have_exact_counts(shop: Any) -> None:  # noqa: F811
    journey_id = _loop_plant(shop)
    client, runtime, workspace = shop.client, shop.runtime, shop.workspace
    assert sign_in(client, member(runtime, workspace.id, role="analyst")).status_code == 303
    data = client.get(f"/console/w/{workspace.id}/journeys/{journey_id}", headers=JSON).json()
    reached = {node["id"]: node["counts"]["entered"] for node in data["flow"]["nodes"]}
    assert reached == {"trigger": 4, "greet": 4, "check": 8, "tag": 3, "nap": 5, "end:tag": 3}
    edges = {(edge["source"], edge["target"]): edge["count"] for edge in data["flow"]["edges"]}
    assert edges == {("trigger", "greet"): 4, ("greet", "check"): 4, ("check", "tag"): 3, ("check", "nap"): 5,
                     ("nap", "check"): 4, ("tag", "end:tag"): 3}
    here = {node["id"]: node["counts"]["here_now"] for node in data["flow"]["nodes"] if node["counts"]["here_now"]}
    assert here == {"nap": 1}
    profile = client.get("/api/v1/profiles/u-00002", headers=shop.headers).json()
    assert profile["traits"]["welcomed"] is True  # the step below the branch did run for the customer who turned pro
    page = client.get(f"/console/w/{workspace.id}/journeys/{journey_id}")
    drawn = dict(re.findall(r'data-node="([^"]+)".*?data-count="entered">([^<]+)<', page.text, re.S))
    assert drawn == {"trigger": "4", "greet": "4", "check": "8", "tag": "3", "nap": "5", "end:tag": "3"}


def test_a_journey_whose_enrolments_walked_before_moves_were_counted_keeps_the_implied_counts(
        shop: Any) -> None:  # noqa: F811
    journey_id = _loop_plant(shop)
    services = shop.runtime.services
    with services.engine.begin() as conn:  # as the migration leaves a journey that had enrolments
        conn.execute(journeys.update().where(journeys.c.id == journey_id).values(moves_counted=False))
    assert sign_in(shop.client, member(shop.runtime, shop.workspace.id, role="analyst")).status_code == 303
    data = shop.client.get(f"/console/w/{shop.workspace.id}/journeys/{journey_id}", headers=JSON).json()
    reached = {node["id"]: node["counts"]["entered"] for node in data["flow"]["nodes"]}
    assert reached == {"trigger": 4, "greet": 4, "check": None, "tag": None, "nap": None, "end:tag": None}


def test_a_walk_repeated_from_a_stale_position_counts_its_moves_once(shop: Any) -> None:  # noqa: F811
    journey_id = _loop_plant(shop)
    engine = JourneyEngine(shop.runtime.services, shop.runtime.pipeline)
    shop.clock.at = NOW + timedelta(minutes=183)
    stale = shop.runtime.services.journeys.due(now=shop.clock.at, limit=10)  # as a second worker read them
    assert len(stale) == 1  # the customer still looping
    assert engine.wake_due(now=shop.clock.at) == 1
    engine.walker.walk(stale, now=shop.clock.at)  # the second worker walks the same enrolment again
    assert sign_in(shop.client, member(shop.runtime, shop.workspace.id, role="analyst")).status_code == 303
    data = shop.client.get(f"/console/w/{shop.workspace.id}/journeys/{journey_id}", headers=JSON).json()
    edges = {(edge["source"], edge["target"]): edge["count"] for edge in data["flow"]["edges"]}
    assert (edges[("nap", "check")], edges[("check", "nap")]) == (5, 6)  # one more pass each, not two
