"""The console's segments pages: the list with built-in segments and trends, one segment with its
members and history, the builder's live estimate, saving, refreshing and deleting (audited), and
who may do what in which workspace."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from loopline.domain.segments.builtin import BUILTIN_SEGMENTS
from loopline.domain.segments.wording import in_words, lines
from tests.conftest import basic, settle
from tests.console.conftest import csrf_of, member, sign_in

JSON = {"Accept": "application/json"}
VIP_BUYERS = {"type": "and", "conditions": [
    {"type": "trait", "trait": "vip", "operator": "eq", "value": True},
    {"type": "performed", "event": "Order Completed", "count": {"operator": "at_least", "value": 1},
     "window": {"last_days": 30}},
]}
VIPS = {"type": "trait", "trait": "vip", "operator": "eq", "value": True}


def _plant(client: Any, workspace: Any, runtime: Any) -> set[str]:
    """Plant 3 VIPs who ordered, 2 VIPs who did not and 2 others who did; return the 3 matching user ids."""
    people = [("vip-buyer", True, True, 3), ("vip-idle", True, False, 2), ("buyer", False, True, 2)]
    batch: list[dict[str, Any]] = []
    for prefix, vip, ordered, many in people:
        for n in range(many):
            user = f"{prefix}-{n}"
            batch.append({"type": "identify", "userId": user,
                          "traits": {"vip": vip, "email": f"{user}@example.com", "firstName": f"Kim {user}"}})
            if ordered:
                batch.append({"type": "track", "userId": user, "event": "Order Completed"})
    answer = client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": batch})
    assert answer.status_code == 200, answer.text
    settle(runtime)
    return {f"vip-buyer-{n}" for n in range(3)}


def _as(client: Any, runtime: Any, workspace_id: str, role: str) -> str:
    client.cookies.clear()
    email = member(runtime, workspace_id, role=role, email=f"{role}@example.com")
    assert sign_in(client, email).status_code == 303
    return csrf_of(client, workspace_id)


def _estimate(client: Any, workspace_id: str, csrf: str, condition: Any, name: str = "") -> Any:
    return client.post(f"/console/w/{workspace_id}/segments/estimate", json={"name": name, "condition": condition},
                       headers=JSON | {"X-CSRF-Token": csrf})


def _actions(runtime: Any, workspace_id: str) -> list[tuple[str, str]]:
    entries = runtime.services.accounts.list_audit(workspace_id=workspace_id)
    return sorted((entry["action"], entry["target"]) for entry in entries if entry["action"].startswith("segment."))


def test_an_analyst_builds_saves_refreshes_edits_and_deletes_a_segment(client, runtime, workspace) -> None:
    buyers = _plant(client, workspace, runtime)
    csrf = _as(client, runtime, workspace.id, "analyst")
    base = f"/console/w/{workspace.id}/segments"
    builder = client.get(f"{base}/new")
    assert builder.status_code == 200
    assert 'x-data="segmentBuilder"' in builder.text
    assert 'name="condition"' in builder.text
    assert client.get(f"{base}/new", headers=JSON).json()["mode"] == "new"

    # The live estimate counts exactly the planted matches, with each of them in the sample.
    found = _estimate(client, workspace.id, csrf, VIP_BUYERS)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["count"], body["exact"]) == (3, True)
    assert {person["user_id"] for person in body["sample"]} == buyers
    # An analyst may not open customer pages: the sample names them without links.
    assert [person["href"] for person in body["sample"]] == [None, None, None]
    assert body["words"] == "(trait vip is true and did “Order Completed” at least 1 time in the last 30 days)"
    assert _estimate(client, workspace.id, csrf, VIPS).json()["count"] == 5

    # Saving counts the members at once and goes to the segment's page.
    saved = client.post(f"{base}/new", data={"csrf_token": csrf, "name": "VIP buyers", "description": "Ordered",
                                             "condition": orjson.dumps(VIP_BUYERS).decode()}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    segment_id = saved.headers["location"].rsplit("/", 1)[-1]
    assert saved.headers["location"] == f"{base}/{segment_id}"
    page = client.get(f"{base}/{segment_id}", headers=JSON).json()
    assert (page["name"], page["description"], page["member_count"]) == ("VIP buyers", "Ordered", 3)
    assert {person["user_id"] for person in page["members"]} == buyers
    assert [(point["members"], point["entered"], point["exited"]) for point in page["counts"]] == [(3, 3, 0)]
    assert [(line["depth"], line["text"]) for line in page["lines"]] == [
        (0, "All of these hold:"), (1, "trait vip is true"),
        (1, "did “Order Completed” at least 1 time in the last 30 days")]
    html = client.get(f"{base}/{segment_id}").text
    assert html.count('data-testid="member-name"') == 3
    assert 'data-testid="member-link"' not in html
    assert 'id="counts-chart"' in html
    assert 'data-testid="edit-segment"' in html

    # The list has the new segment and every built-in one; one refresh draws no line yet.
    listing = client.get(base, headers=JSON).json()
    assert len(listing["items"]) == len(BUILTIN_SEGMENTS) + 1
    assert sum(1 for item in listing["items"] if item["builtin"]) == len(BUILTIN_SEGMENTS)
    mine = listing["items"][0]
    assert (mine["id"], mine["member_count"], mine["trend"], mine["sparkline"]) == (segment_id, 3, [3], "")

    # The refresh button evaluates everyone again: nobody moved, one more point.
    refreshed = client.post(f"{base}/{segment_id}/refresh", data={"csrf_token": csrf}, follow_redirects=False)
    assert refreshed.status_code == 303
    page = client.get(f"{base}/{segment_id}", headers=JSON).json()
    assert [(point["members"], point["entered"]) for point in page["counts"]] == [(3, 3), (3, 0)]

    # Editing replaces the definition (version 2) and counts again: the trend rises.
    edit = client.get(f"{base}/{segment_id}/edit", headers=JSON).json()
    stored = {**VIP_BUYERS, "conditions": [VIPS, {**VIP_BUYERS["conditions"][1], "where": []}]}
    assert (edit["mode"], edit["name"], edit["condition"]) == ("edit", "VIP buyers", stored)
    edited = client.post(f"{base}/{segment_id}/edit", data={
        "csrf_token": csrf, "name": "VIPs", "description": "", "condition": orjson.dumps(VIPS).decode()},
        follow_redirects=False)
    assert edited.status_code == 303, edited.text
    page = client.get(f"{base}/{segment_id}", headers=JSON).json()
    assert (page["name"], page["version"], page["member_count"]) == ("VIPs", 2, 5)
    mine = client.get(base, headers=JSON).json()["items"][0]
    assert mine["trend"] == [3, 3, 5]
    assert mine["sparkline"] == "0.0,26.0 60.0,26.0 120.0,2.0"
    assert 'data-testid="sparkline"' in client.get(base).text

    # A marketer may open customers: members and the estimate's sample link to each one's page.
    marketer_csrf = _as(client, runtime, workspace.id, "marketer")
    html = client.get(f"{base}/{segment_id}").text
    assert html.count('data-testid="member-link"') == 5
    assert f'href="/console/w/{workspace.id}/customers/' in html
    sample = _estimate(client, workspace.id, marketer_csrf, VIP_BUYERS).json()["sample"]
    assert sorted(person["href"] for person in sample) == sorted(
        f"/console/w/{workspace.id}/customers/{person['profile_id']}" for person in sample)
    assert len(sample) == 3
    csrf = _as(client, runtime, workspace.id, "analyst")

    # Deleting needs the confirmation button; then the segment is gone.
    unconfirmed = client.post(f"{base}/{segment_id}/delete", data={"csrf_token": csrf}, headers=JSON)
    assert (unconfirmed.status_code, unconfirmed.json()["code"]) == (400, "not_confirmed")
    deleted = client.post(f"{base}/{segment_id}/delete", data={"csrf_token": csrf, "confirm": "yes"},
                          follow_redirects=False)
    assert (deleted.status_code, deleted.headers["location"]) == (303, base)
    assert client.get(f"{base}/{segment_id}", headers=JSON).status_code == 404
    assert _actions(runtime, workspace.id) == sorted([
        ("segment.created", segment_id), ("segment.refreshed", segment_id), ("segment.updated", segment_id),
        ("segment.deleted", segment_id)])
    created = next(entry for entry in runtime.services.accounts.list_audit(workspace_id=workspace.id)
                   if entry["action"] == "segment.created")
    assert (created["actor"], created["detail"]) == ("analyst@example.com", {"name": "VIP buyers", "members": 3})


def test_invalid_definitions_get_the_parsers_message_and_the_form_keeps_what_was_typed(
        client, runtime, workspace) -> None:
    csrf = _as(client, runtime, workspace.id, "marketer")
    base = f"/console/w/{workspace.id}/segments"
    wrong = {"type": "trait", "trait": "vip", "operator": "between", "value": 3}
    refused = _estimate(client, workspace.id, csrf, wrong)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "invalid_segment"
    assert "operator 'between' takes high and low, got value" in body["message"]
    assert body["problems"] == [{"code": "invalid_segment", "path": "condition",
                                 "message": "operator 'between' takes high and low, got value"}]
    for condition in (None, "text", [1], {"type": "nonsense"}, {"type": "and", "conditions": []}):
        answer = _estimate(client, workspace.id, csrf, condition)
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_segment"), condition
    garbled = client.post(f"{base}/estimate", content=b"{not json", headers=JSON | {"X-CSRF-Token": csrf})
    assert (garbled.status_code, garbled.json()["code"]) == (400, "invalid_json")
    unknown = _estimate(client, workspace.id, csrf, {"type": "in_segment", "segment_id": "seg_missing"})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_segment")

    # Saving a refused definition shows the builder again with the message and the person's input.
    typed = orjson.dumps(wrong).decode()
    page = client.post(f"{base}/new", data={"csrf_token": csrf, "name": "Mid VIPs", "description": "kept",
                                            "condition": typed})
    assert page.status_code == 422
    assert "operator &#39;between&#39; takes high and low, got value" in page.text
    assert 'value="Mid VIPs"' in page.text
    assert 'value="kept"' in page.text
    assert re.search(r'<textarea name="condition"[^>]*>' + re.escape(typed.replace('"', "&#34;")), page.text)
    for text, message in (("", "the definition has no condition yet"), ("{oops", "the condition is not valid JSON")):
        answer = client.post(f"{base}/new", data={"csrf_token": csrf, "name": "X", "condition": text}, headers=JSON)
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_segment")
        assert message in answer.json()["message"]
    # A name in use is a conflict; nothing was saved by any of the refused attempts.
    taken = client.post(f"{base}/new", headers=JSON, data={
        "csrf_token": csrf, "name": BUILTIN_SEGMENTS["has_app"]["name"], "condition": orjson.dumps(VIPS).decode()})
    assert (taken.status_code, taken.json()["code"]) == (409, "segment_name_taken")
    assert len(client.get(base, headers=JSON).json()["items"]) == len(BUILTIN_SEGMENTS)
    assert _actions(runtime, workspace.id) == []


def test_built_in_segments_cannot_be_changed_and_say_why(client, runtime, workspace) -> None:
    csrf = _as(client, runtime, workspace.id, "admin")
    base = f"/console/w/{workspace.id}/segments"
    builtin = next(item for item in client.get(base, headers=JSON).json()["items"] if item["builtin"] == "has_app")
    page = client.get(builtin["href"], headers=JSON).json()
    assert (page["editable"], page["lines"]) == (False, [
        {"depth": 0, "text": "a device's platform is one of “ios”, “android”"}])
    html = client.get(builtin["href"]).text
    assert "Built-in segments cannot be changed or deleted" in html
    assert 'data-testid="edit-segment"' not in html
    assert client.get(f"{builtin['href']}/edit", headers=JSON).json()["code"] == "builtin_segment"
    changed = client.post(f"{builtin['href']}/edit", headers=JSON,
                          data={"csrf_token": csrf, "name": "Mine", "condition": "{}"})
    assert (changed.status_code, changed.json()["code"]) == (409, "builtin_segment")
    gone = client.post(f"{builtin['href']}/delete", headers=JSON, data={"csrf_token": csrf, "confirm": "yes"})
    assert (gone.status_code, gone.json()["code"]) == (409, "builtin_segment")
    copy = client.get(f"{base}/new?copy={builtin['id']}", headers=JSON).json()
    assert copy["name"] == "Copy of Has the app"
    assert copy["condition"] == BUILTIN_SEGMENTS["has_app"]["condition"]
    assert client.get(builtin["href"], headers=JSON).json()["name"] == "Has the app"


def test_roles_workspaces_and_csrf_guard_every_segments_page(client, runtime, workspace, other_workspace) -> None:
    base = f"/console/w/{workspace.id}/segments"
    csrf = _as(client, runtime, workspace.id, "admin")
    saved = client.post(f"{base}/new", follow_redirects=False,
                        data={"csrf_token": csrf, "name": "VIPs", "condition": orjson.dumps(VIPS).decode()})
    segment = saved.headers["location"]
    # Without the CSRF token nothing changes.
    form = {"name": "Other", "condition": orjson.dumps(VIPS).decode()}
    for url, data in ((f"{base}/new", form), (f"{segment}/edit", form), (f"{segment}/refresh", {}),
                      (f"{segment}/delete", {"confirm": "yes"})):
        answer = client.post(url, data=data, headers=JSON)
        assert (answer.status_code, answer.json()["code"]) == (403, "csrf_failed"), url
    estimate = client.post(f"{base}/estimate", json={"condition": VIPS}, headers=JSON)
    assert (estimate.status_code, estimate.json()["code"]) == (403, "csrf_failed")
    assert client.get(segment, headers=JSON).json()["name"] == "VIPs"
    # A segment another builds on stays until that one changes; its page names who builds on it.
    segment_id = segment.rsplit("/", 1)[-1]
    on_top = {"type": "in_segment", "segment_id": segment_id}
    form_on_top = {"csrf_token": csrf, "name": "VIPs too", "condition": orjson.dumps(on_top).decode()}
    assert client.post(f"{base}/new", data=form_on_top, follow_redirects=False).status_code == 303
    kept = client.post(f"{segment}/delete", headers=JSON, data={"csrf_token": csrf, "confirm": "yes"})
    assert (kept.status_code, kept.json()["code"]) == (409, "segment_in_use")
    assert [other["name"] for other in client.get(segment, headers=JSON).json()["used_by"]] == ["VIPs too"]
    assert "is in the segment “VIPs”" in client.get(base).text

    # An agent may not open segments at all; a member of another workspace does not find them.
    agent_csrf = _as(client, runtime, workspace.id, "agent")
    for url in (base, f"{base}/new", segment, f"{segment}/edit"):
        answer = client.get(url, headers=JSON)
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), url
    assert _estimate(client, workspace.id, agent_csrf, VIPS).status_code == 403
    assert client.post(f"{segment}/refresh", data={"csrf_token": agent_csrf}).status_code == 403
    assert client.get(segment, headers=JSON).status_code == 403

    client.cookies.clear()
    outsider = member(runtime, other_workspace.id, role="admin", email="out@example.com")
    assert sign_in(client, outsider).status_code == 303
    outsider_csrf = csrf_of(client, other_workspace.id)
    for url in (base, f"{base}/new", segment, f"{segment}/edit"):
        answer = client.get(url, headers=JSON)
        assert (answer.status_code, answer.json()["code"]) == (404, "workspace_not_found"), url
    assert _estimate(client, workspace.id, outsider_csrf, VIPS).status_code == 404
    deleted = client.post(f"{segment}/delete", data={"csrf_token": outsider_csrf, "confirm": "yes"})
    assert deleted.status_code == 404
    # Their own workspace has no such segment either.
    theirs = segment.replace(workspace.id, other_workspace.id)
    assert client.get(theirs, headers=JSON).json()["code"] == "segment_not_found"
    assert len(client.get(f"/console/w/{other_workspace.id}/segments", headers=JSON).json()["items"]) == len(
        BUILTIN_SEGMENTS)


@pytest.mark.parametrize(("condition", "expected"), [
    ({"type": "inactive", "activity": "event", "event": "App Opened", "days": 14}, "no “App Opened” for 14 days"),
    ({"type": "engagement", "action": "opened", "channel": "email", "count": {"exactly": 0}, "of_last": 5},
     "opened exactly 0 of their last 5 email messages"),
    ({"type": "sequence", "first": {"event": "Cart Updated"}, "then": {"event": "Order Completed"},
      "within_minutes": 60, "then_absent": True, "window": {"last_days": 7}},
     "did “Cart Updated”, did not do “Order Completed” within 60 minutes, in the last 7 days"),
    ({"type": "not", "condition": {"type": "reachable", "channel": "sms", "topic": "news"}},
     "not can be reached by sms about “news”"),
    ({"type": "or", "conditions": [
        {"type": "location", "country": "de", "near": {"latitude": 52.5, "longitude": 13.4, "radius_km": 10}},
        {"type": "computed", "property": "net_revenue", "operator": "between", "low": 10, "high": 20},
        {"type": "in_segment", "segment_id": "seg_1"},
        {"type": "device", "field": "has_push_token", "operator": "eq", "value": False},
        {"type": "performed", "event": "Viewed", "where": [{"property": "product.category", "operator": "in",
                                                             "values": ["shoes", "hats"]}]},
        {"type": "trait", "trait": "birthday", "operator": "anniversary_within_next_days", "days": 1}]},
     "(was last seen in country DE, within 10 km of 52.5, 13.4 or net revenue is between 10 and 20 or "
     "is in the segment “Shoe lovers” or has no device with a push token or did “Viewed” where product.category "
     "is one of “shoes”, “hats” at least 1 time ever or trait birthday has its anniversary within the next 1 day)"),
])
def test_every_condition_type_reads_as_words(condition: dict[str, Any], expected: str) -> None:
    assert in_words(condition, {"seg_1": "Shoe lovers"}) == expected
    assert len(lines(condition, {})) >= 1
