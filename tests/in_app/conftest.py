"""A shop whose customers get in-app messages, and the SDK's calls as a page or app makes them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import basic
from tests.engagement.conftest import Shop, customers

IN_APP = {"subject": "Hi {{ traits.firstName }}", "body": "20% off for {{ profile.user_id }}",
          "url": "https://shop.example/sale"}


class InAppShop(Shop):
    """The shop helpers, plus in-app campaigns and the SDK's requests."""

    def in_app_campaign(self, segment_id: str, *, name: str = "In-app sale", options: dict[str, Any] | None = None,
                        content: dict[str, Any] | None = None, **definition: Any) -> str:
        message = {**(content or IN_APP), **({"in_app": options} if options is not None else {})}
        campaign = self.campaign(segment_id, name=name, channels=["in_app"],
                                 variants=[{"name": "A", "split": 100, "content": {"in_app": message}}], **definition)
        self.move(campaign["id"], "schedule")
        self.tick()
        return str(campaign["id"])

    def messages(self, key: str | None = None, status: int = 200, **params: Any) -> Any:
        response = self.client.get("/v1/in-app/messages", headers=basic(key or self.workspace.write_key),
                                   params=params)
        assert response.status_code == status, response.text
        return response.json()["messages"] if status == 200 else response.json()

    def interact(self, send_key: str, action: str, key: str | None = None, status: int = 200, **body: Any) -> Any:
        response = self.client.post(f"/v1/in-app/messages/{send_key}/{action}",
                                    headers=basic(key or self.workspace.write_key), json=body)
        assert response.status_code == status, response.text
        return response.json()

    def timeline(self, reference: str, prefix: str = "In-App") -> list[dict[str, Any]]:
        self.runtime.projector.catch_up()
        view = self.client.get(f"/api/v1/profiles/{reference}", headers=self.headers)
        assert view.status_code == 200, view.text
        return [event for event in view.json()["recent_events"] if (event["event"] or "").startswith(prefix)]


@pytest.fixture
def shop(client: Any, runtime: Any, workspace: Any) -> InAppShop:
    """A shop with three customers who may get in-app messages, and a segment of them."""
    store = InAppShop(client, runtime, workspace)
    store.ingest(customers(3))
    return store
