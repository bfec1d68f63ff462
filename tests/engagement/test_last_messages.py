"""Segments on a customer's last messages, through the API: campaigns send to the sandbox, some
sends are opened, and "opened none of the last 2 emails" holds exactly for the expected people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.engagement.conftest import NOW, customers, person, shop  # noqa: F401 - the shop fixture serves these tests

DAY = timedelta(days=1)
OPENED_NONE_OF_LAST_2 = {"type": "engagement", "action": "opened", "channel": "email", "of_last": 2,
                         "count": {"exactly": 0}}


def _send_once(shop: Any, segment_id: str, name: str) -> str:  # noqa: F811
    campaign = shop.campaign(segment_id, name=name)
    shop.move(campaign["id"], "schedule")
    shop.tick()
    return str(campaign["id"])


def _key(shop: Any, user: str, campaign_id: str) -> str:  # noqa: F811
    (row,) = shop.sends(user, source_id=campaign_id)
    assert row["state"] == "sent", row
    return str(row["send_key"])


def _opened(user: str, send_key: str, at: Any, event: str = "Email Opened") -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at.isoformat(),
            "properties": {"send_key": send_key}}


def _members(shop: Any, condition: dict[str, Any], name: str) -> set[str]:  # noqa: F811
    created = shop.client.post("/api/v1/segments", headers=shop.headers, json={"name": name, "condition": condition})
    assert created.status_code == 201, created.text
    segment_id = created.json()["id"]
    refreshed = shop.client.post(f"/api/v1/segments/{segment_id}/refresh", headers=shop.headers)
    assert refreshed.status_code == 200, refreshed.text
    page = shop.client.get(f"/api/v1/segments/{segment_id}/members", headers=shop.headers, params={"limit": 100})
    assert page.status_code == 200, page.text
    return {uid for item in page.json()["items"] for uid in item["identifiers"].get("user_id", [])}


def test_opened_none_of_the_last_two_emails(shop: Any) -> None:  # noqa: F811
    shop.ingest([*customers(5), person("u-later", email="later@example.com", firstName="Lee"),
                 person("u-never", email="never@example.com", firstName="Nev", plan="free")])
    shop.policy(opt_in_channels=[])
    first = _send_once(shop, shop.segment("Pro"), "First")

    # u-00004 leaves the audience: they get the first email only, fewer than the two looked at.
    shop.ingest([{"type": "identify", "userId": "u-00004", "traits": {"plan": "free"}}])
    shop.clock.at = NOW + 2 * DAY
    second = _send_once(shop, shop.segment("Pro, later"), "Second")
    shop.clock.at = NOW + 4 * DAY
    third = _send_once(shop, shop.segment("Pro, latest"), "Third")

    opened = NOW + 5 * DAY
    shop.clock.at = opened + DAY
    shop.ingest([
        _opened("u-00000", _key(shop, "u-00000", third), opened),  # opened the newest: not a member
        _opened("u-00001", _key(shop, "u-00001", first), opened),  # opened only the oldest, not among the last 2
        _opened("u-00002", _key(shop, "u-00002", second), opened),  # opened the second newest
        # A tap carrying an email's key is no email open; nor is an open naming no send of theirs.
        _opened("u-00003", _key(shop, "u-00003", third), opened, event="Push Notification Tapped"),
        _opened("u-00003", "not-a-send", opened),
        _opened("u-later", _key(shop, "u-later", second), opened - 3 * DAY),
    ])
    assert len(shop.sends("u-00004")) == 1
    assert shop.sends("u-never") == []

    # u-00004 had one email and did not open it: judged over the one they have. u-never was
    # sent nothing, and "none of the last messages" needs a message.
    assert _members(shop, OPENED_NONE_OF_LAST_2, "Ignored the last 2 emails") == {"u-00001", "u-00003", "u-00004"}
    opened_one = {**OPENED_NONE_OF_LAST_2, "count": {"at_least": 1}}
    assert _members(shop, opened_one, "Opened one of the last 2") == {"u-00000", "u-00002", "u-later"}
    of_first = {**OPENED_NONE_OF_LAST_2, "of_last": 3, "campaign_id": first, "count": {"at_least": 1}}
    assert _members(shop, of_first, "Opened the first campaign") == {"u-00001"}
