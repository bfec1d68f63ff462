"""Native push end to end: a workspace's APNs provider carries a campaign's rich push to each
customer's device over HTTP/2; a token Apple calls gone is listed and taken off its device, and
the next campaign does not try it again."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loopline.store.sql.tables import devices
from tests.delivery.push_fakes import FakeApns, serving
from tests.engagement.conftest import customers

TEAM, TOPIC = "TEAM123456", "example.shop.app"
GONE = "ab" * 32


def _app_open(user: str, token: str) -> dict[str, object]:
    return {"type": "track", "event": "Application Opened", "userId": user,
            "context": {"device": {"id": f"d-{user}", "type": "ios", "token": token}, "os": {"name": "iOS"}}}


@pytest.fixture
def apple(shop):
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = secrets.token_hex(5).upper()
    fake = FakeApns(team_id=TEAM, key_id=key_id, public_key=private.public_key(), topic=TOPIC)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    with serving(fake) as url:
        put = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json={"channel": "push", "provider": {
            "kind": "apns", "team_id": TEAM, "key_id": key_id, "topic": TOPIC, "base_url": url, "private_key": pem}})
        assert put.status_code == 200, put.text
        assert "PRIVATE KEY" not in put.text
        yield fake


def test_a_campaign_push_reaches_devices_and_a_gone_token_is_removed(shop, apple):
    fake = apple
    fake.gone.add(GONE)
    shop.ingest([*customers(3), _app_open("u-00000", "01" * 32), _app_open("u-00001", "02" * 32),
                 _app_open("u-00002", GONE)])
    segment = shop.segment()
    campaign = shop.campaign(segment, channels=["push"], variants=[{"name": "A", "split": 100, "content": {"push": {
        "subject": "Hi {{ traits.firstName }}", "body": "20% off today", "url": "shop://sale",
        "push": {"image_url": "https://cdn.shop.example/sale.png", "badge": 1, "collapse_key": "sale",
                 "buttons": [{"id": "buy", "title": "Buy now", "url": "shop://sale/buy"}]}}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    delivered = {n.token: n for n in fake.notifications}
    assert sorted(delivered) == ["01" * 32, "02" * 32]
    first = delivered["01" * 32]
    assert first.payload["aps"]["alert"] == {"title": "Hi Kim0", "body": "20% off today"}
    assert first.payload["aps"]["badge"] == 1
    assert first.headers["apns-collapse-id"] == "sale"
    (gone,) = shop.sends("u-00002")
    assert (gone["state"], gone["reason"]) == ("failed", "apns_Unregistered")
    listed = shop.client.get(f"/api/v1/suppressions/push/{GONE}", headers=shop.headers)
    assert listed.json()["reason"] == "token_unregistered"
    with shop.runtime.services.engine.connect() as conn:
        tokens = set(conn.execute(sa.select(devices.c.push_token)).scalars())
    assert GONE not in tokens
    assert {"01" * 32, "02" * 32} <= tokens

    # The next campaign skips the customer whose only device is gone; nobody gets the first twice.
    again = shop.campaign(segment, name="Again", channels=["push"], variants=[
        {"name": "A", "split": 100, "content": {"push": {"body": "Still on"}}}])
    shop.move(again["id"], "schedule")
    shop.tick()
    assert [token for token, _, _ in fake.refused] == [GONE]  # asked once, in the first campaign only
    assert len(fake.notifications) == 4
    (skipped,) = shop.sends("u-00002", source_id=again["id"])
    assert skipped["state"] == "skipped"
