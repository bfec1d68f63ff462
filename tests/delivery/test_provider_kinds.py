"""Every provider kind over the API: what each refuses at save time (keys that do not load, a webhook
into the platform's own network), what it shows (never a secret), and a webhook carrying a
channel end to end, signed."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from loopline.actions.delivery import do_deliver_due
from loopline.actions.providers import channel_for
from loopline.domain.webhooks import verify_signature
from loopline.store.secret_box import SecretBox
from tests.engagement.conftest import person


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


EC_KEY, RSA_KEY = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)
ACCOUNT = {"type": "service_account", "project_id": "shop-app", "client_email": "push@shop-app.iam.example",
           "private_key": _pem(RSA_KEY), "token_uri": "https://oauth2.googleapis.com/token"}
SECRET = "whsec_" + "d2ViaG9vay1zZWNyZXQtZm9yLXRlc3RzLTEyMzQ="


def _put(shop, channel: str, provider: dict[str, Any]):
    return shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                           json={"channel": channel, "provider": provider})


def _refused(answer, path: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_provider"
    assert path in {problem["path"] for problem in answer.json()["problems"]}, answer.text


def test_push_providers_check_their_keys_and_never_show_them(shop):
    fcm = {"kind": "fcm", "project_id": "shop-app", "service_account_json": orjson.dumps(ACCOUNT).decode()}
    shown = _put(shop, "push", fcm)
    assert shown.status_code == 200, shown.text
    assert shown.json()["secrets"] == {"service_account_json": True}
    assert "PRIVATE KEY" not in shown.text
    _refused(_put(shop, "push", {**fcm, "service_account_json": "{not json"}), "service_account_json")
    _refused(_put(shop, "push", {**fcm, "service_account_json": orjson.dumps(
        {**ACCOUNT, "type": "authorized_user"}).decode()}), "service_account_json")
    _refused(_put(shop, "push", {**fcm, "service_account_json": orjson.dumps(
        {k: v for k, v in ACCOUNT.items() if k != "token_uri"}).decode()}), "service_account_json")

    apns = {"kind": "apns", "team_id": "ABCDE12345", "key_id": "KEY1234567", "topic": "example.shop.app",
            "private_key": _pem(EC_KEY)}
    assert _put(shop, "push", apns).json()["secrets"] == {"private_key": True}
    _refused(_put(shop, "push", {**apns, "private_key": _pem(RSA_KEY)}), "private_key")
    _refused(_put(shop, "push", {**apns, "team_id": "short"}), "team_id")
    # A push provider carries push, not email.
    _refused(_put(shop, "email", apns), "kind")


def test_web_push_shows_the_public_key_the_browser_subscribes_with(shop):
    answer = _put(shop, "web_push", {"kind": "web_push", "vapid_subject": "mailto:ops@shop.example",
                                     "vapid_private_key": _pem(EC_KEY)})
    assert answer.status_code == 200, answer.text
    public = EC_KEY.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
    assert answer.json()["vapid_public_key"] == base64.urlsafe_b64encode(public).rstrip(b"=").decode()
    assert answer.json()["secrets"] == {"vapid_private_key": True}
    _refused(_put(shop, "web_push", {"kind": "web_push", "vapid_subject": "mailto:ops@shop.example",
                                     "vapid_private_key": _pem(RSA_KEY)}), "vapid_private_key")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://localhost:5432/",
                                 "http://127.0.0.1:8080/hook", "http://[::1]/", "http://[::ffff:10.0.0.1]/",
                                 "http://2130706433/", "http://10.1.2.3/hook", "http://0x7f.1/"])
def test_a_webhook_into_the_platform_network_is_refused_at_save(shop, url):
    _refused(_put(shop, "sms", {"kind": "webhook", "url": url, "signing_secret": SECRET}), "url")
    assert shop.client.get("/api/v1/channels/providers", headers=shop.headers).json()["items"] == []


def test_a_webhook_needs_a_real_secret_and_may_carry_any_channel(shop):
    _refused(_put(shop, "sms", {"kind": "webhook", "url": "https://93.184.216.34/hook", "signing_secret": "short"}),
             "signing_secret")
    for channel in ("sms", "email", "push"):
        answer = _put(shop, channel, {"kind": "webhook", "url": "https://93.184.216.34/hook", "signing_secret": SECRET})
        assert answer.status_code == 200, answer.text
        assert answer.json()["secrets"] == {"signing_secret": True}
        assert SECRET not in answer.text


class Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[int]:
    Receiver.got = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_webhook_carries_a_channel_signed_only_where_the_operator_allows(shop, receiver):
    shop.ingest([person("u-1", phone="+4915100000009", firstName="Ada")])
    shop.policy(opt_in_channels=[])
    url = f"http://127.0.0.1:{receiver}/loopline"
    provider = {"kind": "webhook", "url": url, "signing_secret": SECRET}
    _refused(_put(shop, "sms", provider), "url")  # loopback: not without the operator's leave
    services = shop.runtime.services
    services.settings = services.settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.1/32"]})
    assert _put(shop, "sms", provider).status_code == 200
    campaign = shop.campaign(shop.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Hi {{ traits.firstName }}"}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    ((headers, body),) = Receiver.got
    assert verify_signature(SECRET, headers, body, datetime.now(UTC))
    message = orjson.loads(body)
    (send,) = shop.sends("u-1")
    assert (message["send_key"], message["body"], send["state"]) == (send["send_key"], "Hi Ada", "sent")
    assert headers["webhook-id"] == send["send_key"]
    # The operator takes the leave back: the next call is refused before anything leaves.
    services.settings = services.settings.model_copy(update={"webhook_allowed_networks": []})
    second = shop.campaign(shop.segment(name="Again"), name="Again", channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Again"}}}])
    shop.move(second["id"], "schedule")
    shop.tick()
    assert len(Receiver.got) == 1
    (blocked,) = shop.sends("u-1", source_id=second["id"])
    assert (blocked["state"], blocked["reason"]) == ("failed", "blocked_destination")


def test_an_smtp_provider_spreads_batches_over_its_connections(shop):
    relay = {"kind": "smtp", "host": "127.0.0.1", "port": 2525, "sender_address": "news@shop.example",
             "connections": 3}
    assert _put(shop, "email", relay).json()["connections"] == 3
    carrier = channel_for(shop.runtime.services, workspace_id=shop.workspace.id, channel="email")
    assert carrier.settings.connections == 3  # type: ignore[attr-defined]
    _refused(_put(shop, "email", {**relay, "connections": 0}), "connections")
    _refused(_put(shop, "email", {**relay, "connections": 50}), "connections")


def test_a_provider_that_cannot_be_built_holds_its_messages_until_it_is_fixed(shop, receiver):
    shop.ingest([person("u-1", phone="+4915100000009", firstName="Ada")])
    shop.policy(opt_in_channels=[])
    services = shop.runtime.services
    services.settings = services.settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.1/32"]})
    url = f"http://127.0.0.1:{receiver}/loopline"
    assert _put(shop, "sms", {"kind": "webhook", "url": url, "signing_secret": SECRET}).status_code == 200
    right_key = services.secrets
    services.secrets = SecretBox(Fernet.generate_key())  # the operator changed secrets_key: nothing opens
    campaign = shop.campaign(shop.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Hi"}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    (held,) = shop.sends("u-1")
    assert (held["state"], held["reason"]) == ("queued", "provider_unusable")
    assert Receiver.got == []
    services.secrets = right_key  # fixed: the message goes on its next try, once
    do_deliver_due(services, now=shop.clock.at + timedelta(hours=1))
    assert len(Receiver.got) == 1
    assert shop.sends("u-1")[0]["state"] == "sent"
