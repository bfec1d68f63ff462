"""A small shop with reachable customers, a segment over them, and a way to run the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopline.actions.campaign_runs import CampaignRunner, TickReport
from loopline.store.sql.tables import sends
from tests.conftest import basic, bearer, settle

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Berlin


def customers(count: int, *, plan: str = "pro") -> list[dict[str, Any]]:
    """Return identify calls for ``count`` customers with email, phone and a Berlin time zone."""
    return [{"type": "identify", "userId": f"u-{index:05d}", "timestamp": "2026-06-01T10:00:00Z",
             "traits": {"plan": plan, "email": f"c{index:05d}@example.com", "phone": f"+4915112{index:05d}",
                        "firstName": f"Kim{index}", "timezone": "Europe/Berlin"}}
            for index in range(count)]


def person(user_id: str, **traits: str) -> dict[str, object]:
    """Return an identify call for one more pro customer."""
    return {"type": "identify", "userId": user_id, "timestamp": "2026-06-01T10:00:00Z",
            "traits": {"plan": "pro", **traits}}


class MovableClock:
    """A clock a test sets."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class Shop:
    """Helpers over one workspace of the API client."""

    def __init__(self, client: Any, runtime: Any, workspace: Any) -> None:
        self.client, self.runtime, self.workspace = client, runtime, workspace
        self.headers = bearer(workspace.secret_key)
        self.clock = MovableClock(NOW)
        runtime.services.clock = self.clock

    def ingest(self, calls: list[dict[str, Any]]) -> None:
        for start in range(0, len(calls), 200):
            response = self.client.post("/v1/batch", headers=basic(self.workspace.write_key),
                                        json={"batch": calls[start:start + 200]})
            assert response.status_code == 200, response.text
        settle(self.runtime)

    def opt_in(self, user_ids: list[str], channel: str = "email", status: str = "opted_in") -> None:
        for user_id in user_ids:
            response = self.client.put(f"/api/v1/profiles/{user_id}/consents", headers=self.headers,
                                       json={"choices": [{"channel": channel, "status": status}]})
            assert response.status_code == 200, response.text

    def segment(self, name: str = "Pro", plan: str = "pro") -> str:
        created = self.client.post("/api/v1/segments", headers=self.headers, json={
            "name": name, "condition": {"type": "trait", "trait": "plan", "operator": "eq", "value": plan}})
        assert created.status_code == 201, created.text
        segment_id: str = created.json()["id"]
        refreshed = self.client.post(f"/api/v1/segments/{segment_id}/refresh", headers=self.headers)
        assert refreshed.status_code == 200, refreshed.text
        return segment_id

    def campaign(self, segment_id: str, *, name: str = "Summer sale", **definition: Any) -> dict[str, Any]:
        body = {"name": name, "definition": {
            "objective": "Sell the summer collection",
            "success_metric": {"event": "Order Completed", "within_days": 7},
            "audience": {"segments": [segment_id]},
            "channels": ["email"],
            "variants": [{"name": "A", "split": 100, "content": {
                "email": {"subject": "Hi {{ traits.firstName }}", "body": "<p>20% off for {{ profile.user_id }}</p>"},
            }}],
            **definition,
        }}
        created = self.client.post("/api/v1/campaigns", headers=self.headers, json=body)
        assert created.status_code == 201, created.text
        return dict(created.json())

    def move(self, campaign_id: str, move: str, status: int = 200) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/campaigns/{campaign_id}/{move}", headers=self.headers)
        assert response.status_code == status, response.text
        return dict(response.json())

    def policy(self, **document: Any) -> None:
        response = self.client.put("/api/v1/contact-policy", headers=self.headers, json=document)
        assert response.status_code == 200, response.text

    def tick(self, at: datetime | None = None, runner: CampaignRunner | None = None, **kwargs: Any) -> TickReport:
        if at is not None:
            self.clock.at = at
        return (runner or CampaignRunner(self.runtime.services)).tick(now=self.clock.at, **kwargs)

    def outbox(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/outbox", headers=self.headers, params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def sends(self, reference: str, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/profiles/{reference}/sends", headers=self.headers, params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def record_sent(self, reference: str, at: datetime, *, source_id: str, send_key: str) -> None:
        """Write a sent message of another campaign straight into the ledger, as if it went out at ``at``."""
        profile_id = self.client.get(f"/api/v1/profiles/{reference}/sends", headers=self.headers).json()["profile_id"]
        with self.runtime.services.engine.begin() as conn:
            conn.execute(sends.insert().values(
                send_key=send_key, workspace_id=self.workspace.id, source_kind="campaign", source_id=source_id,
                profile_id=profile_id, channel="email", priority="marketing", topic="promotions", state="sent",
                created_at=at, updated_at=at, sent_at=at))

    def report(self, campaign_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def shop(client: Any, runtime: Any, workspace: Any) -> Shop:
    """The shop helpers over a fresh workspace."""
    return Shop(client, runtime, workspace)


__all__ = ["NOW", "Shop", "customers", "person", "timedelta"]
