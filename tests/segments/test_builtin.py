"""Built-in segments: lifecycle stages, RFM tiers and app vs web, kept current in the background."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from loopline.actions.segment_maintenance import do_maintain_segments
from loopline.actions.workspaces import do_create_workspace
from loopline.api.app import create_app
from loopline.bootstrap import build_runtime
from loopline.config import Settings
from loopline.domain.segments.builtin import BUILTIN_SEGMENTS
from tests.conftest import ADMIN_TOKEN, GENEROUS, basic, bearer, settle

IOS = {"device": {"id": "d-ios", "type": "ios", "token": "tok"}, "os": {"name": "iOS"}}


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _visits(user: str, *days_ago: float, context: dict | None = None) -> list[dict]:
    return [{"type": "track", "userId": user, "event": "Product Viewed", "timestamp": _ago(days),
             "context": context or {}} for days in days_ago]


def _orders(user: str, *orders: tuple[float, float]) -> list[dict]:
    return [{"type": "track", "userId": user, "event": "Order Completed", "timestamp": _ago(days),
             "properties": {"order_id": f"{user}-{index}", "revenue": revenue}}
            for index, (days, revenue) in enumerate(orders)]


def _members(client: TestClient, secret: dict, segment_id: str) -> list[str]:
    items = client.get(f"/api/v1/segments/{segment_id}/members", headers=secret).json()["items"]
    return sorted(uid for item in items for uid in item["identifiers"].get("user_id", []))


def test_lifecycle_rfm_and_app_segments_sort_customers(client, runtime, workspace):
    web = {"userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "device": {"id": "d-web"}}
    batch = [
        *_visits("new", 2, 1),
        *_visits("active", 20, 3, context=IOS),
        *_visits("at-risk", 25, 10, context=web),
        *_visits("dormant", 60, 40),
        *_visits("churned", 200, 100),
        *_orders("champion", (5, 100), (15, 80), (25, 90)), *_visits("champion", 40),
        *_orders("loyal", (40, 20), (50, 20), (60, 20)),
        *_orders("promising", (20, 35)), *_visits("promising", 30),
        *_orders("attention", (120, 50), (150, 50)),
        *_orders("lost", (300, 50)),
    ]
    assert client.post("/v1/batch", headers=basic(workspace.write_key), json={"batch": batch}).status_code == 200
    settle(runtime)
    report = do_maintain_segments(runtime.services, runtime.pipeline)
    assert report.failed == 0
    assert report.segments == len(BUILTIN_SEGMENTS)

    secret = bearer(workspace.secret_key)
    by_key = {s["builtin"]: s for s in client.get("/api/v1/segments", headers=secret).json()["items"]}
    assert set(by_key) == set(BUILTIN_SEGMENTS)
    expected = {
        "lifecycle_new": ["new"],
        "lifecycle_active": ["active", "champion"],
        "lifecycle_at_risk": ["at-risk", "promising"],
        "lifecycle_dormant": ["dormant", "loyal"],
        "lifecycle_churned": ["attention", "churned", "lost"],
        "rfm_champions": ["champion"],
        "rfm_loyal": ["loyal"],
        "rfm_promising": ["promising"],
        "rfm_need_attention": ["attention"],
        "rfm_lost": ["lost"],
        "has_app": ["active"],
        "web_only": ["at-risk"],
    }
    got = {key: _members(client, secret, by_key[key]["id"]) for key in expected}
    assert got == expected
    refused = client.put(f"/api/v1/segments/{by_key['has_app']['id']}", headers=secret,
                         json={"name": "mine", "condition": {"type": "trait", "trait": "a", "operator": "exists"}})
    assert (refused.status_code, refused.json()["code"]) == (409, "builtin_segment")


def test_the_background_pass_keeps_segments_current(tmp_path):
    runtime = build_runtime(Settings(data_dir=tmp_path, **{**GENEROUS, "segment_refresh_interval_s": 0.2}))
    shop = do_create_workspace(runtime.services, name="Background")
    with TestClient(create_app(runtime, admin_token=ADMIN_TOKEN)) as client:
        secret = bearer(shop.secret_key)
        segment = client.post("/api/v1/segments", headers=secret, json={
            "name": "Viewers", "condition": {"type": "performed", "event": "Product Viewed"}}).json()
        client.post("/v1/batch", headers=basic(shop.write_key), json={"batch": _visits("u1", 1)})
        settle(runtime)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _members(client, secret, segment["id"]) != ["u1"]:
            time.sleep(0.1)
        assert _members(client, secret, segment["id"]) == ["u1"]
        assert runtime.segments.last_error is None
        assert client.get("/health").json()["segments_error"] is None
