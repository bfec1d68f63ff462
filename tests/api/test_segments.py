"""Segments over the API: definitions and their errors, live estimates, refreshes that write
Segment Entered / Exited events, members, exports and counts over time."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from loopline.ports import QueryTooSlow
from tests.conftest import basic, bearer, settle

BUYERS = {"name": "Buyers", "condition": {"type": "performed", "event": "Order Completed"}}
PRO = {"name": "Pro plan", "condition": {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"}}


@pytest.fixture
def shop(client, runtime, workspace):
    """Three customers: Ana (pro, bought twice), Bo (free, bought once), Cy (pro, never bought)."""
    response = client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": [
        {"type": "identify", "userId": "u-ana", "traits": {"plan": "pro", "email": "ana@example.com",
                                                           "firstName": "=cmd|' /C calc'!A0"}},
        {"type": "identify", "userId": "u-bo", "traits": {"plan": "free", "email": "bo@example.com"}},
        {"type": "identify", "userId": "u-cy", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "u-ana", "event": "Order Completed", "properties": {"revenue": 30}},
        {"type": "track", "userId": "u-ana", "event": "Order Completed", "properties": {"revenue": 50}},
        {"type": "track", "userId": "u-bo", "event": "Order Completed", "properties": {"revenue": 10}},
    ]})
    assert response.status_code == 200, response.text
    settle(runtime)
    return bearer(workspace.secret_key)


def _user_ids(items):
    return sorted(uid for item in items for uid in item["identifiers"].get("user_id", []))


def test_create_estimate_refresh_and_list_members(client, runtime, workspace, shop):
    created = client.post("/api/v1/segments", headers=shop, json=BUYERS)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert (segment["version"], segment["member_count"]) == (1, None)

    estimate = client.post("/api/v1/segments/estimate", headers=shop, json={
        "name": "Big buyers", "condition": {"type": "performed", "event": "Order Completed",
                                            "count": {"operator": "at_least", "value": 2}}})
    assert estimate.status_code == 200, estimate.text
    body = estimate.json()
    assert body["count"] == 1
    assert _user_ids(body["sample"]) == ["u-ana"]
    assert body["sample"][0]["traits"]["plan"] == "pro"
    assert body["warnings"] == []

    refreshed = client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=shop)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json() | {"refreshed": None} == {
        "segment_id": segment["id"], "members": 2, "entered": 2, "exited": 0, "full": True, "refreshed": None}
    page = client.get(f"/api/v1/segments/{segment['id']}/members", headers=shop, params={"limit": 1}).json()
    second = client.get(f"/api/v1/segments/{segment['id']}/members", headers=shop,
                        params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert second["next_cursor"] is None
    assert _user_ids(page["items"] + second["items"]) == ["u-ana", "u-bo"]
    assert client.get(f"/api/v1/segments/{segment['id']}", headers=shop).json()["member_count"] == 2

    # The change is on each member's timeline, as an event journeys can trigger on.
    settle(runtime)
    ana = client.get("/api/v1/profiles/u-ana", headers=shop).json()
    entered = [e for e in ana["recent_events"] if e["event"] == "Segment Entered"]
    assert [e["properties"]["segment_id"] for e in entered] == [segment["id"]]
    assert ana["computed"]["events"] == 3  # the membership event is not activity


def test_new_events_move_people_in_and_out_incrementally(client, runtime, workspace, shop):
    segment = client.post("/api/v1/segments", headers=shop, json={
        "name": "Pro without orders", "condition": {"type": "and", "conditions": [
            PRO["condition"], {"type": "performed", "event": "Order Completed",
                               "count": {"operator": "exactly", "value": 0}}]}}).json()
    first = client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=shop).json()
    assert (first["members"], first["entered"]) == (1, 1)  # Cy

    client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": [
        {"type": "track", "userId": "u-cy", "event": "Order Completed", "properties": {"revenue": 5}},
        {"type": "identify", "userId": "u-dee", "traits": {"plan": "pro"}},
    ]})
    settle(runtime)
    second = client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=shop, params={"full": False}).json()
    assert (second["full"], second["members"], second["entered"], second["exited"]) == (False, 1, 1, 1)
    members = client.get(f"/api/v1/segments/{segment['id']}/members", headers=shop).json()["items"]
    assert _user_ids(members) == ["u-dee"]

    counts = client.get(f"/api/v1/segments/{segment['id']}/counts", headers=shop).json()["items"]
    assert [(c["members"], c["entered"], c["exited"], c["full"]) for c in counts] == [(1, 1, 0, True), (1, 1, 1, False)]
    settle(runtime)
    cy = client.get("/api/v1/profiles/u-cy", headers=shop).json()
    assert [e["event"] for e in cy["recent_events"] if (e["event"] or "").startswith("Segment")] == [
        "Segment Exited", "Segment Entered"]


def test_a_segment_can_build_on_another_but_not_on_itself(client, workspace, shop):
    pro = client.post("/api/v1/segments", headers=shop, json=PRO).json()
    buyers = client.post("/api/v1/segments", headers=shop, json={
        "name": "Pro buyers", "condition": {"type": "and", "conditions": [
            {"type": "in_segment", "segment_id": pro["id"]}, BUYERS["condition"]]}}).json()
    refreshed = client.post(f"/api/v1/segments/{buyers['id']}/refresh", headers=shop).json()
    assert refreshed["refreshed"] == [pro["id"], buyers["id"]]  # the segment it builds on first
    assert refreshed["members"] == 1

    cycle = client.put(f"/api/v1/segments/{pro['id']}", headers=shop, json={
        "name": "Pro plan", "condition": {"type": "in_segment", "segment_id": buyers["id"]}})
    assert cycle.status_code == 422
    assert cycle.json()["code"] == "segment_cycle"
    assert pro["id"] in cycle.json()["message"]
    itself = client.put(f"/api/v1/segments/{pro['id']}", headers=shop, json={
        "name": "Pro plan", "condition": {"type": "in_segment", "segment_id": pro["id"]}})
    assert itself.json()["code"] == "segment_cycle"

    in_use = client.delete(f"/api/v1/segments/{pro['id']}", headers=shop)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "segment_in_use"
    assert client.delete(f"/api/v1/segments/{buyers['id']}", headers=shop).status_code == 204
    assert client.delete(f"/api/v1/segments/{pro['id']}", headers=shop).status_code == 204
    assert client.get(f"/api/v1/segments/{pro['id']}", headers=shop).status_code == 404


@pytest.mark.parametrize(("body", "code", "path"), [
    ({"name": "x", "condition": {"type": "trait", "trait": "plan", "operator": "eq"}}, "invalid_segment",
     "condition"),
    ({"name": "x", "condition": {"type": "performed", "event": "A", "colour": "red"}}, "invalid_segment",
     "condition.colour"),
    ({"name": "x", "condition": {"type": "performed", "event": 5}}, "invalid_segment", "condition.event"),
    ({"name": "x", "condition": {"type": "in_segment", "segment_id": "seg_nope"}}, "unknown_segment", ""),
    ({"name": "x", "condition": {"type": "telepathy"}}, "invalid_segment", "condition"),
    ([1, 2], "invalid_segment", ""),
    # Text no event or trait can hold (ingest refuses it), and no engine takes in a literal.
    ({"name": "x", "condition": {"type": "inactive", "activity": "event", "event": "Or\u0000der", "days": 3}},
     "invalid_segment", "condition.event"),
    ({"name": "x", "condition": {"type": "trait", "trait": "plan", "operator": "in", "value": ["a", "\u0000"]}},
     "invalid_segment", "condition.value.1"),
])
def test_invalid_definitions_get_422_with_where_and_why(client, shop, body, code, path):
    for route in ("/api/v1/segments", "/api/v1/segments/estimate"):
        response = client.post(route, headers=shop, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert response.json()["problems"][0]["path"] == path
        assert response.json()["message"]


def test_malformed_json_and_a_taken_name_are_refused(client, shop):
    broken = client.post("/api/v1/segments", headers={**shop, "Content-Type": "application/json"}, content=b"{")
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert client.post("/api/v1/segments", headers=shop, json=PRO).status_code == 201
    taken = client.post("/api/v1/segments", headers=shop, json=PRO)
    assert (taken.status_code, taken.json()["code"]) == (422, "segment_name_taken")


def test_unknown_names_are_warnings_not_errors(client, shop):
    response = client.post("/api/v1/segments/estimate", headers=shop, json={
        "name": "Typos", "condition": {"type": "or", "conditions": [
            {"type": "performed", "event": "Order Complete"},
            {"type": "performed", "event": "Order Completed",
             "where": [{"property": "revenu", "operator": "gt", "value": 1}]},
            {"type": "trait", "trait": "plna", "operator": "exists"}]}})
    assert response.status_code == 200, response.text
    assert {w["code"] for w in response.json()["warnings"]} == {"unknown_event", "unknown_property", "unknown_trait"}
    assert response.json()["count"] == 0


def test_a_query_past_the_time_limit_is_a_clear_422(client, runtime, shop, monkeypatch):
    def too_slow(*_args, **_kwargs):
        raise QueryTooSlow("the query ran longer than 5 s and was stopped")

    monkeypatch.setattr(runtime.services.mart, "fetch", too_slow)
    response = client.post("/api/v1/segments/estimate", headers=shop, json=BUYERS)
    assert response.status_code == 422
    assert response.json()["code"] == "segment_query_too_slow"
    assert "narrow the definition" in response.json()["message"]


def test_members_stream_and_export_as_csv(client, shop):
    segment = client.post("/api/v1/segments", headers=shop, json=PRO).json()
    client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=shop)
    lines = client.get(f"/api/v1/segments/{segment['id']}/members.ndjson", headers=shop).content.splitlines()
    assert _user_ids([orjson.loads(line) for line in lines]) == ["u-ana", "u-cy"]
    exported = client.get(f"/api/v1/segments/{segment['id']}/export.csv", headers=shop,
                          params={"traits": "plan,firstName"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["user_id"] for r in rows) == ["u-ana", "u-cy"]
    ana = next(r for r in rows if r["user_id"] == "u-ana")
    assert (ana["email"], ana["plan"]) == ("ana@example.com", "pro")
    assert ana["firstName"].startswith("'=")  # a formula stays text in a spreadsheet


def test_erased_people_leave_segments_at_once(client, runtime, shop):
    segment = client.post("/api/v1/segments", headers=shop, json=PRO).json()
    client.post(f"/api/v1/segments/{segment['id']}/refresh", headers=shop)
    assert client.post("/api/v1/profiles/u-ana/erase", headers=shop).status_code == 202
    members = client.get(f"/api/v1/segments/{segment['id']}/members", headers=shop).json()["items"]
    assert _user_ids(members) == ["u-cy"]
