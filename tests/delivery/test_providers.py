"""A workspace's own email relay, set over the API: its secrets are sealed and never shown, and its
journeys' email goes out over SMTP, DKIM-signed, until the relay is removed."""

from __future__ import annotations

import email
import email.policy
import logging

import dkim
import pytest
import sqlalchemy as sa

from loopline.actions.journeys import JourneyEngine
from loopline.store.secret_box import SecretBox, SecretsUnreadable
from loopline.store.sql.tables import channel_providers
from tests.engagement.conftest import customers
from tests.engagement.test_journeys import _journey, _track

WELCOME = {
    "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "every_time"},
    "steps": [{"id": "hello", "type": "send", "channels": ["email"],
               "content": {"email": {"subject": "Willkommen, {{ traits.firstName }}", "body": "<p>Hallo!</p>"}}}],
}


def _relay(port, pem, **extra):
    return {"kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
            "sender_address": "news@shop.example", "sender_name": "Shop", "password": "relay-password-1",
            "dkim_domain": "shop.example", "dkim_selector": "s1", "dkim_private_key": pem.decode(), **extra}


def test_a_workspace_relay_carries_its_email_signed_and_its_secrets_never_come_back(shop, relay, key, caplog):
    caplog.set_level(logging.DEBUG)
    handler, port = relay
    pem, record = key
    shop.ingest(customers(1))
    shop.policy(opt_in_channels=[])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                          json={"channel": "email", "provider": _relay(port, pem)})
    assert put.status_code == 200, put.text
    shown = put.json()
    assert shown["secrets"] == {"password": True, "dkim_private_key": True, "events_secret": False}
    assert "relay-password-1" not in put.text
    assert "PRIVATE KEY" not in put.text
    # At rest: sealed, not in the clear.
    with shop.runtime.services.engine.connect() as conn:
        (row,) = conn.execute(sa.select(channel_providers)).all()
    assert b"relay-password-1" not in bytes(row.sealed)
    assert "relay-password-1" not in str(row.settings)
    # A change that leaves the secrets out keeps them.
    changed = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json={
        "channel": "email", "provider": {k: v for k, v in _relay(port, pem, sender_name="Shop Berlin").items()
                                         if k not in ("password", "dkim_private_key")}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["secrets"] == {"password": True, "dkim_private_key": True, "events_secret": False}
    listed = shop.client.get("/api/v1/channels/providers", headers=shop.headers)
    assert [(p["channel"], p["sender_name"]) for p in listed.json()["items"]] == [("email", "Shop Berlin")]

    engine = JourneyEngine(shop.runtime.services, shop.runtime.pipeline)
    _journey(shop, WELCOME, name="Welcome")
    _track(shop, "u-00000", "Signed Up")
    engine.process_events()
    (_, recipients, raw) = handler.received[0]
    assert recipients == ["c00000@example.com"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "Willkommen, Kim0"
    assert mail["From"].addresses[0].display_name == "Shop Berlin"
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record.encode())
    assert shop.outbox() == []  # the relay carried it, not the sandbox
    (why,) = shop.sends("u-00000")
    assert (why["channel"], why["state"]) == ("email", "sent")

    assert shop.client.delete("/api/v1/channels/providers/email", headers=shop.headers).status_code == 204
    _track(shop, "u-00000", "Signed Up")
    engine.process_events()
    assert len(handler.received) == 1
    assert [m["subject"] for m in shop.outbox()] == ["Willkommen, Kim0"]  # back to the sandbox
    assert "relay-password-1" not in caplog.text


@pytest.mark.parametrize(("body", "code", "path"), [
    ({"channel": "fax", "provider": {"kind": "smtp"}}, "unknown_channel", ""),
    ({"channel": "sms", "provider": {"kind": "smtp", "host": "h", "sender_address": "a@b.co"}},
     "invalid_provider", "kind"),
    ({"channel": "email", "provider": {"kind": "smtp", "host": "h", "sender_address": "nobody"}},
     "invalid_provider", "sender_address"),
    ({"channel": "email", "provider": {"kind": "smtp", "host": "h", "sender_address": "a@b.co",
                                       "dkim_domain": "b.co", "dkim_selector": "s", "dkim_private_key": "nope"}},
     "invalid_provider", "dkim_private_key"),
    ({"channel": "sms", "provider": {"kind": "sms_gateway", "shape": "twilio", "base_url": "https://api.example",
                                     "sender": "+1555", "account": "AC1"}}, "invalid_provider", "secret"),
    ({"channel": "sms", "provider": {"kind": "sms_gateway", "shape": "carrier-pigeon", "base_url": "x",
                                     "sender": "+1555", "account": "AC1", "secret": "t"}},
     "invalid_provider", "shape"),
])
def test_a_provider_that_cannot_work_is_refused_with_where_and_why(shop, body, code, path):
    response = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert path in {problem["path"] for problem in response.json()["problems"]}


def test_removing_a_provider_that_is_not_there_is_a_clear_404(shop):
    response = shop.client.delete("/api/v1/channels/providers/email", headers=shop.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "provider_not_found")


def test_sealed_secrets_open_only_with_their_key(tmp_path):
    box = SecretBox.for_settings(None, tmp_path)
    sealed = box.seal({"password": "pw"})
    assert SecretBox.for_settings(None, tmp_path).open(sealed) == {"password": "pw"}  # the same key file
    assert (tmp_path / "secrets.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(SecretsUnreadable):
        SecretBox.for_settings(None, tmp_path / "elsewhere").open(sealed)
