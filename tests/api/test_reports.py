"""Analytics reports over the API: answers, errors, and the time limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loopline.ports import QueryTooSlow
from tests.conftest import basic, bearer, settle

TODAY = datetime.now(UTC).date()


def _at(days_ago: int, minute: int = 0) -> str:
    moment = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC)
    return (moment + timedelta(hours=10, minutes=minute)).isoformat()


@pytest.fixture
def shop(client, runtime, workspace):
    batch = []
    for user, days in (("u-ana", (3, 2, 1)), ("u-bo", (2,)), ("u-cy", (1,))):
        for day in days:
            batch += [
                {"type": "track", "userId": user, "event": "Product Viewed", "timestamp": _at(day, 0),
                 "context": {"os": {"name": "iOS" if user == "u-ana" else "Android"}}},
                {"type": "track", "userId": user, "event": "Product Added", "timestamp": _at(day, 5)},
            ]
    batch.append({"type": "track", "userId": "u-ana", "event": "Order Completed", "timestamp": _at(1, 20),
                  "properties": {"revenue": 42, "products": [{"category": "shoes"}, {"category": "bags"}]}})
    batch.append({"type": "identify", "userId": "u-bo", "traits": {"plan": "pro"}})
    assert client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": batch}).status_code == 200
    settle(runtime)
    return bearer(workspace.secret_key)


def _range(days: int = 4) -> dict[str, str]:
    return {"since": (TODAY - timedelta(days=days)).isoformat(), "until": TODAY.isoformat()}


def test_daily_active_users_and_a_funnel(client, shop):
    active = client.post("/api/v1/reports", headers=shop, json={"report": "active_users", **_range()})
    assert active.status_code == 200, active.text
    assert [(p["dau"], p["wau"]) for p in active.json()["series"]] == [(0, 0), (1, 1), (2, 2), (2, 3)]
    funnel = client.post("/api/v1/reports", headers=shop, json={
        "report": "funnel", **_range(), "window_minutes": 60,
        "steps": [{"event": "Product Viewed"}, {"event": "Product Added"}, {"event": "Order Completed"}]})
    assert [s["users"] for s in funnel.json()["steps"]] == [3, 3, 0]  # Ana's order is a day after her first view
    grouped = client.post("/api/v1/reports", headers=shop, json={
        "report": "events", **_range(), "measure": "users", "event": "Product Viewed",
        "group_by": {"source": "context", "path": "os.name"}}).json()
    assert {g["group"]: g["total"] for g in grouped["groups"]} == {"Android": 2, "iOS": 1}
    pairs = client.post("/api/v1/reports", headers=shop, json={"report": "affinity", **_range()}).json()["pairs"]
    assert pairs == [{"a": "bags", "b": "shoes", "orders": 1}]


def test_a_filter_narrows_the_users(client, shop):
    only_pro = client.post("/api/v1/reports", headers=shop, json={
        "report": "events", **_range(), "measure": "users",
        "filter": {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"}})
    assert only_pro.json()["total"] == 1


@pytest.mark.parametrize(("body", "code", "path"), [
    ({"report": "weather"}, "invalid_report", "report"),
    ({"report": "active_users", "since": "2026-05-02", "until": "2026-05-01"}, "invalid_report", ""),
    ({"report": "paths", "since": "2026-05-01", "until": "2026-05-02", "from": "A",
      "group_by": {"source": "trait", "path": "plan"}}, "invalid_report", "group_by"),
    ({"report": "events", "since": "2026-05-01", "until": "2026-05-02", "measure": "sum"}, "invalid_report", ""),
    ({"report": "events", "since": "2026-05-01", "until": "2026-05-02",
      "group_by": {"source": "segment", "segment_id": "seg_nope"}}, "unknown_segment", ""),
    ({"report": "distribution", "since": "2026-05-01", "until": "2026-05-02"}, "invalid_report", ""),
    ({"report": "events", "since": "2026-05-01", "until": "2026-05-02", "event": "A\u0000"}, "invalid_report",
     "event"),
    ({"report": "distribution", "since": "2026-05-01", "until": "2026-05-02", "property": "revenue",
      "bounds": [50, 10]}, "invalid_report", ""),
    ({"report": "distribution", "since": "2026-05-01", "until": "2026-05-02", "property": "revenue",
      "buckets": 0}, "invalid_report", "buckets"),
])
def test_bad_requests_get_422_with_where_and_why(client, shop, body, code, path):
    response = client.post("/api/v1/reports", headers=shop, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.json()["problems"][0]["path"] == path


def test_a_report_past_the_time_limit_is_a_clear_422(client, runtime, shop, monkeypatch):
    def too_slow(*_args, **_kwargs):
        raise QueryTooSlow("the query ran longer than 30 s and was stopped")

    monkeypatch.setattr(runtime.services.mart, "fetch", too_slow)
    response = client.post("/api/v1/reports", headers=shop, json={"report": "active_users", **_range()})
    assert (response.status_code, response.json()["code"]) == (422, "report_query_too_slow")
