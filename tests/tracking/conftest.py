"""A shop whose customers get emails and texts with links, and a browser (or a machine) that follows them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.engagement.conftest import NOW, Shop, customers

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
PIXEL_8 = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.6367.82 Mobile Safari/537.36")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/125.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
EMAIL = {"subject": "Summer sale, {{ traits.firstName }}",
         "body": '<html><body><p>Hi {{ traits.firstName }}</p>'
                 '<p><a href="https://shop.example/sale?ref=mail&amp;x=1">Shop the <b>sale</b></a></p>'
                 '<p><a href="https://blog.example/post">Read the story</a> or '
                 '<a href="mailto:help@shop.example">write to us</a></p></body></html>'}
APPS = {"web_domains": ["shop.example"], "scheme": "shopapp",
        "ios": {"team_id": "ABCDE12345", "bundle_id": "com.shop.app",
                "app_store_url": "https://apps.apple.com/app/id123456789"},
        "android": {"package": "com.shop.app", "sha256_cert_fingerprints": [":".join(["AB"] * 32)]}}


class TrackingShop(Shop):
    """The shop helpers, plus campaigns with links, link settings, and clicks as browsers and machines make them."""

    def send(self, channel: str = "email", content: dict[str, Any] | None = None, *, name: str = "Summer sale",
             opt_in: bool = True) -> str:
        """Send a one-variant campaign on ``channel`` to every customer now, then let ten minutes pass."""
        if opt_in:
            self.policy(opt_in_channels=[])
        campaign = self.campaign(self.segment(), name=name, channels=[channel], variants=[
            {"name": "A", "split": 100, "content": {channel: content or EMAIL}}])
        self.move(campaign["id"], "schedule")
        self.tick(at=NOW)
        self.clock.at = NOW + timedelta(minutes=10)  # a person reads their mail a while after it arrived
        return str(campaign["id"])

    def message(self, user: str = "u-00000") -> dict[str, Any]:
        profile = self.client.get(f"/api/v1/profiles/{user}", headers=self.headers).json()["id"]
        (found,) = [m for m in self.outbox() if m["profile_id"] == profile]
        return found

    def link_settings(self, status: int = 200, **document: Any) -> Any:
        response = self.client.put("/api/v1/link-settings", headers=self.headers, json=document)
        assert response.status_code == status, response.text
        return response.json()

    def follow(self, url: str, agent: str = DESKTOP, method: str = "GET", **headers: str) -> Any:
        """Follow a tracked link (or fetch a pixel) as ``agent`` would, without following redirects."""
        path = urlsplit(url).path
        return self.client.request(method, path, headers={"User-Agent": agent, **headers}, follow_redirects=False)

    def links(self, send_key: str | None = None) -> list[dict[str, Any]]:
        params = {"send_key": send_key} if send_key else {}
        response = self.client.get("/api/v1/tracked-links", headers=self.headers, params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def timeline(self, reference: str = "u-00000", *names: str) -> list[dict[str, Any]]:
        self.runtime.projector.catch_up()
        view = self.client.get(f"/api/v1/profiles/{reference}", headers=self.headers)
        assert view.status_code == 200, view.text
        return [event for event in view.json()["recent_events"] if not names or event["event"] in names]


@pytest.fixture
def shop(client: Any, runtime: Any, workspace: Any) -> TrackingShop:
    """A shop with two customers who may get email and texts, and a segment of them."""
    store = TrackingShop(client, runtime, workspace)
    store.ingest(customers(2))
    return store
