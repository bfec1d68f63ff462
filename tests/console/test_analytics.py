"""The analytics explorer over HTTP: every report kind answers the planted events' exact numbers
(the engine's own answer, through the console), refusals say why, and the page keeps to its
roles and its workspace."""

from __future__ import annotations

from typing import Any

import pytest

from loopline.console.web import csrf_for
from loopline.ports import QueryTooSlow
from tests.console.conftest import member, sign_in
from tests.engagement.conftest import shop  # noqa: F401 - the shop fixture serves these tests too

JSON = {"Accept": "application/json"}
SINCE, UNTIL = "2026-06-10", "2026-06-12"  # a Wednesday and a Thursday; the shop's clock is 2026-06-15 10:00
RANGE = {"since": SINCE, "until": UNTIL}


def _event(user: str, event: str, at: str, country: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at, "properties": properties,
            "context": {"location": {"country": country}}}


def _plant(shop: Any) -> None:  # noqa: F811
    """Three customers over two days: four product views, two orders with their categories, one live event."""
    products = [{"category": "shoes"}, {"category": "socks"}]
    shop.ingest([
        _event("u1", "Product Viewed", "2026-06-10T10:00:00Z", "DE", platform="ios", price=10),
        _event("u1", "Product Viewed", "2026-06-10T11:00:00Z", "DE", platform="ios", price=30),
        _event("u1", "Order Completed", "2026-06-10T12:00:00Z", "DE", products=products),
        _event("u2", "Product Viewed", "2026-06-10T10:30:00Z", "DE", platform="android", price=20),
        _event("u3", "Product Viewed", "2026-06-11T09:00:00Z", "FR", platform="ios", price=50),
        _event("u3", "Order Completed", "2026-06-11T09:20:00Z", "FR", products=products),
        _event("u-live", "App Opened", "2026-06-15T09:58:00Z", "FR"),
    ])


def csrf_of(client: Any) -> str:
    """Return the CSRF token of the signed-in session (derived from its cookie, as every page derives it)."""
    return csrf_for(client.cookies["loopline_session"])


def _run(client: Any, workspace_id: str, request: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
    answer = client.post(f"/console/w/{workspace_id}/analytics/run", json=request,
                         headers={"X-CSRF-Token": csrf_of(client), **JSON})
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
def planted(shop: Any) -> Any:  # noqa: F811
    _plant(shop)
    assert sign_in(shop.client, member(shop.runtime, shop.workspace.id, role="analyst")).status_code == 303
    return shop


def test_every_report_kind_answers_the_planted_numbers(planted: Any) -> None:
    client, ws = planted.client, planted.workspace.id

    trend = _run(client, ws, {"report": "events", **RANGE, "event": "Product Viewed"})
    assert trend["series"] == [{"date": "2026-06-10", "value": 3}, {"date": "2026-06-11", "value": 1}]
    assert trend["total"] == 4
    by_platform = _run(client, ws, {"report": "events", **RANGE, "event": "Product Viewed",
                                    "group_by": {"source": "event", "path": "platform"}})
    assert [(g["group"], g["total"], [p["value"] for p in g["series"]]) for g in by_platform["groups"]] == [
        ("ios", 3, [2, 1]), ("android", 1, [1, 0])]
    users = _run(client, ws, {"report": "events", **RANGE, "measure": "users",
                              "where": [{"property": "price", "operator": "gte", "value": 20}]})
    assert users["total"] == 3  # u1 (30), u2 (20), u3 (50)

    funnel = _run(client, ws, {"report": "funnel", **RANGE, "steps": [{"event": "Product Viewed"},
                                                                       {"event": "Order Completed"}]})
    assert [(s["event"], s["users"], s["conversion"]) for s in funnel["steps"]] == [
        ("Product Viewed", 3, 1.0), ("Order Completed", 2, 0.6667)]
    assert funnel["steps"][1]["median_seconds_to_step"] == 4200.0  # u1: 2 h, u3: 20 min; the mean of the two

    retention = _run(client, ws, {"report": "retention", **RANGE, "period": "day", "periods": 2})
    assert retention["cohorts"] == [{"cohort": "2026-06-10", "size": 2, "retained": [2, 0, 0]},
                                    {"cohort": "2026-06-11", "size": 1, "retained": [1, 0, 0]}]

    paths = _run(client, ws, {"report": "paths", **RANGE, "from": "Product Viewed", "depth": 1})
    assert {(link["target"], link["count"]) for link in paths["links"]} == {
        ("1:Product Viewed", 1), ("1:Order Completed", 2), ("1:(end)", 1)}
    assert paths["nodes"][0] == {"id": "0:Product Viewed", "step": 0, "event": "Product Viewed", "count": 4}

    spread = _run(client, ws, {"report": "distribution", **RANGE, "event": "Product Viewed", "property": "price",
                               "bounds": [25]})
    assert spread["buckets"] == [{"from": None, "to": 25.0, "count": 2}, {"from": 25.0, "to": None, "count": 2}]
    assert (spread["count"], spread["min"], spread["max"], spread["average"]) == (4, 10.0, 50.0, 27.5)

    sessions = _run(client, ws, {"report": "sessions", **RANGE})
    assert (sessions["sessions"], sessions["users"]) == (5, 3)  # u1: 3 (an hour apart), u2: 1, u3: 1
    cells = {(c["weekday"], c["hour"]): c["events"] for c in sessions["heatmap"] if c["events"]}
    assert cells == {(2, 10): 2, (2, 11): 1, (2, 12): 1, (3, 9): 2}

    places = _run(client, ws, {"report": "geography", **RANGE})
    assert places["places"] == [{"place": "DE", "users": 2}, {"place": "FR", "users": 1}]

    active = _run(client, ws, {"report": "active_users", **RANGE})
    assert [(p["date"], p["dau"], p["wau"]) for p in active["series"]] == [("2026-06-10", 2, 2), ("2026-06-11", 1, 3)]
    fresh = _run(client, ws, {"report": "new_vs_returning", **RANGE})
    assert fresh["series"] == [{"date": "2026-06-10", "new": 2, "returning": 0},
                               {"date": "2026-06-11", "new": 1, "returning": 0}]
    together = _run(client, ws, {"report": "affinity", **RANGE})
    assert together["pairs"] == [{"a": "shoes", "b": "socks", "orders": 2}]
    live = _run(client, ws, {"report": "live"})
    assert [(p["minute"][11:16], p["events"]) for p in live["series"] if p["events"]] == [("09:58", 1)]
    assert len(live["series"]) == 5


def test_the_console_answers_what_the_management_api_answers(planted: Any) -> None:
    request = {"report": "events", **RANGE, "group_by": {"source": "context", "path": "location.country"}}
    api = planted.client.post("/api/v1/reports", headers=planted.headers, json=request)
    assert api.status_code == 200, api.text
    assert _run(planted.client, planted.workspace.id, request) == api.json()


def test_invalid_reports_get_the_engines_message(planted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, ws = planted.client, planted.workspace.id
    backwards = _run(client, ws, {"report": "events", "since": UNTIL, "until": SINCE}, status=422)
    assert backwards["error"]["code"] == "invalid_report"
    assert backwards["error"]["message"] == "until must be after since"
    unknown = _run(client, ws, {"report": "weather", **RANGE}, status=422)
    assert unknown["problems"][0]["path"] == "report"
    ungroupable = _run(client, ws, {"report": "paths", **RANGE, "from": "Product Viewed",
                                    "group_by": {"source": "event", "path": "platform"}}, status=422)
    assert ungroupable["problems"] == [{"path": "group_by", "message": "the paths report takes no group_by"}]
    no_segment = _run(client, ws, {"report": "events", **RANGE, "group_by": {"source": "segment",
                                                                             "segment_id": "seg_none"}}, status=422)
    assert no_segment["error"]["code"] == "unknown_segment"
    token = csrf_of(client)
    broken = client.post(f"/console/w/{ws}/analytics/run", content=b"{not json",
                         headers={"X-CSRF-Token": token, "Content-Type": "application/json", **JSON})
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"

    def too_slow(sql: str, *, timeout_s: float, limit: int | None = None) -> list[tuple[Any, ...]]:
        raise QueryTooSlow(f"the query ran past {timeout_s} s")

    monkeypatch.setattr(planted.runtime.services.mart, "fetch", too_slow)
    slow = _run(client, ws, {"report": "events", **RANGE}, status=503)
    assert slow["error"]["code"] == "report_query_too_slow"
    assert "shorten the range or add filters" in slow["error"]["message"]
    # The explorer still opens: its event names are only suggestions.
    assert client.get(f"/console/w/{ws}/analytics", headers=JSON).json()["events"] == []


def test_the_explorer_page_and_its_json(planted: Any) -> None:
    client, ws = planted.client, planted.workspace.id
    data = client.get(f"/console/w/{ws}/analytics", headers=JSON).json()
    assert [kind["report"] for kind in data["reports"]] == [
        "events", "funnel", "retention", "paths", "distribution", "sessions", "geography", "active_users",
        "new_vs_returning", "affinity", "live"]
    assert data["events"] == ["Product Viewed", "Order Completed", "App Opened"]  # most frequent first
    assert (data["since"], data["until"]) == ("2026-05-17", "2026-06-16")  # the last 30 days, today included
    assert data["dashboards"] == []
    page = client.get(f"/console/w/{ws}/analytics")
    assert page.status_code == 200
    assert 'x-data="explorer"' in page.text
    assert '<option value="Order Completed">' in page.text
    assert page.text.count('data-kinds=') >= 8
    assert "Content-Security-Policy" in page.headers


def test_roles_workspaces_and_csrf(planted: Any, other_workspace: Any) -> None:
    client, runtime, ws = planted.client, planted.runtime, planted.workspace.id
    request = {"report": "events", **RANGE}
    token = csrf_of(client)
    refused = client.post(f"/console/w/{ws}/analytics/run", json=request, headers=JSON)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    wrong = client.post(f"/console/w/{ws}/analytics/run", json=request, headers={"X-CSRF-Token": "x" * 64, **JSON})
    assert wrong.status_code == 403
    # Another workspace is as unknown as one that does not exist.
    elsewhere = client.post(f"/console/w/{other_workspace.id}/analytics/run", json=request,
                            headers={"X-CSRF-Token": token, **JSON})
    assert elsewhere.status_code == 404
    assert client.get(f"/console/w/{other_workspace.id}/analytics", headers=JSON).status_code == 404
    for role, status in (("marketer", 200), ("admin", 200), ("agent", 403)):
        client.cookies.clear()
        email = member(runtime, ws, role=role, email=f"{role}@example.com")
        assert sign_in(client, email).status_code == 303
        assert client.get(f"/console/w/{ws}/analytics", headers=JSON).status_code == status
        token = csrf_of(client)
        ran = client.post(f"/console/w/{ws}/analytics/run", json=request, headers={"X-CSRF-Token": token, **JSON})
        assert ran.status_code == status
        if status == 200:
            assert ran.json()["total"] == 6  # every planted event but the live one
