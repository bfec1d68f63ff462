"""Web push to a local push service on a real socket: the service checks each request as a browser
vendor's would (the VAPID token against the key in ``k=``, the encoding, TTL, Urgency, Topic), and
the test decrypts what arrived with the browser's own keys."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypercorn.asyncio import serve
from hypercorn.config import Config

from loopline.channels.web_push import WebPushChannel, WebPushSettings
from loopline.domain.push import PushButton, PushOptions
from loopline.domain.web_push import (
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    SubscriptionInvalid,
    encode_payload,
    encrypted_size,
    notification,
    parse_subscription,
    topic_for,
)
from loopline.ports import Outbound
from tests.delivery.conftest import free_port

SUBJECT = "mailto:ops@shop.example"
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@dataclass
class Vapid:
    """The workspace's VAPID key pair, as the settings and the push service see it."""

    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    @property
    def public(self) -> str:
        return _b64url(_point(self.key))


@dataclass
class Browser:
    """A browser's push subscription keys: it hands out the public half, and reads what arrives."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def address(self, endpoint: str) -> str:
        """The subscription as the SDK stores it: compact JSON."""
        return json.dumps({"endpoint": endpoint, "expirationTime": None,
                           "keys": {"p256dh": _b64url(_point(self.key)), "auth": _b64url(self.auth)}},
                          separators=(",", ":"))

    def read(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@dataclass
class Arrived:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """An ASGI push service: refuses (400) any request a real one would, keeps the rest, and answers
    by the endpoint's path: ``gone`` 410, ``missing`` 404, ``busy`` 429, ``down`` 503 with a date,
    ``broken`` 500, ``big`` 413, ``slow`` after 1.5 s, ``wait`` after 0.2 s, anything else 201."""

    def __init__(self, vapid_public: str) -> None:
        self.vapid_public = vapid_public
        self.origin = ""
        self.arrived: list[Arrived] = []
        self.problems: list[str] = []
        self.in_flight = self.most_in_flight = 0

    def _check(self, method: str, headers: dict[str, str], body: bytes) -> str:
        """Return what is wrong with a request, or ''."""
        if method != "POST":
            return f"method {method}"
        if headers.get("content-encoding") != "aes128gcm":
            return f"content-encoding {headers.get('content-encoding')}"
        if not headers.get("ttl", "").isdigit():
            return f"ttl {headers.get('ttl')}"
        if headers.get("urgency") not in ("very-low", "low", "normal", "high"):
            return f"urgency {headers.get('urgency')}"
        topic = headers.get("topic")
        if topic is not None and not (1 <= len(topic) <= 32 and set(topic) <= B64URL):
            return f"topic {topic}"
        if len(body) > MAX_MESSAGE_BYTES:
            return f"body of {len(body)} bytes"
        scheme, _, params = headers.get("authorization", "").partition(" ")
        parts = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        if scheme.lower() != "vapid" or set(parts) != {"t", "k"}:
            return f"authorization {headers.get('authorization')}"
        if parts["k"] != self.vapid_public:
            return "unknown vapid key"  # the subscription was made with another applicationServerKey
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), base64.urlsafe_b64decode(parts["k"] + "=" * (-len(parts["k"]) % 4)))
        try:
            claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.origin,
                                options={"require": ["aud", "exp", "sub"]})
        except jwt.InvalidTokenError as error:
            return f"token {error}"
        if jwt.get_unverified_header(parts["t"]).get("typ") != "JWT":
            return "token type"
        if not time.time() < claims["exp"] <= time.time() + 24 * 3600:
            return f"exp {claims['exp']}"
        if claims["sub"] != SUBJECT:
            return f"sub {claims['sub']}"
        return ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (event := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        problem = self._check(scope["method"], headers, body)
        if problem:
            self.problems.append(problem)
            await self._reply(send, 403 if problem == "unknown vapid key" else 400, problem)
            return
        self.arrived.append(Arrived(scope["path"], headers, body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._answer(scope["path"].rsplit("/", 1)[-1].split("-")[0], send)
        finally:
            self.in_flight -= 1

    async def _answer(self, behaviour: str, send: Any) -> None:
        if behaviour == "wait":
            await asyncio.sleep(0.2)
        if behaviour == "slow":
            await asyncio.sleep(1.5)
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
        status, extra = {"gone": (410, {}), "missing": (404, {}), "busy": (429, {"retry-after": "120"}),
                         "down": (503, {"retry-after": later}), "broken": (500, {}),
                         "big": (413, {})}.get(behaviour, (201, {"location": "/message/1"}))
        await self._reply(send, status, behaviour, extra)

    @staticmethod
    async def _reply(send: Any, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        headers = [(b"content-type", b"text/plain")] + [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": text.encode()})


@pytest.fixture(scope="module")
def vapid() -> Vapid:
    return Vapid(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def service(vapid: Vapid) -> Iterator[tuple[PushService, str]]:
    """The push service on hypercorn in a thread; yields it and its base URL."""
    app, port = PushService(vapid.public), free_port()
    app.origin = f"http://127.0.0.1:{port}"
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 2
    loop, stop = asyncio.new_event_loop(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(serve(app, config, shutdown_trigger=stop.wait),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the push service did not start"
            time.sleep(0.02)
    try:
        yield app, app.origin
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _settings(vapid: Vapid, **overrides: Any) -> WebPushSettings:
    return WebPushSettings(**{"vapid_private_key": vapid.pem, "vapid_subject": SUBJECT,
                              "allow_insecure_endpoints": True, **overrides})


def _push(key: str, address: str | None, *, title: str | None = "Spring sale", body: str = "20 % off today",
          url: str | None = "https://shop.example/sale", options: PushOptions | None = None) -> Outbound:
    dumped = options.model_dump(mode="json", exclude_defaults=True) if options is not None else None
    return Outbound(key, "ws_a", "cmp_1", "p_1", "web_push", address, title, body, url, dumped or None)


def _answers(answers: list[Any]) -> list[tuple[Any, ...]]:
    return [(a.send_key, a.accepted, a.permanent, a.reason, a.suppress, a.retry_after_s) for a in answers]


def test_a_rich_notification_arrives_encrypted_to_the_subscription_with_vapid_ttl_urgency_and_topic(service, vapid):
    app, base = service
    browser = Browser()
    rich = PushOptions(image_url="https://cdn.shop.example/sale.png", badge=3, sound="chime", ttl_s=3600,
                       collapse_key="spring-sale", data={"campaign": "spring"},
                       buttons=[PushButton(id="buy", title="Buy now", url="https://shop.example/cart"),
                                PushButton(id="later", title="Later")])
    channel = WebPushChannel(_settings(vapid, urgency="high", default_ttl_s=600,
                                       icon_url="https://shop.example/icon.png"))
    answers = channel.deliver([
        _push("k1", browser.address(f"{base}/push/ok-1"), body="Alles 20 % günstiger — nur heute", options=rich),
        _push("k2", browser.address(f"{base}/push/ok-1"), title=None, url=None),
    ])
    assert _answers(answers) == [("k1", True, True, "", "", None), ("k2", True, True, "", "", None)]
    assert app.problems == []
    rich_one, plain_one = sorted(app.arrived, key=lambda a: browser.read(a.body)["data"]["send_key"])
    assert browser.read(rich_one.body) == {
        "title": "Spring sale", "body": "Alles 20 % günstiger — nur heute", "icon": "https://shop.example/icon.png",
        "image": "https://cdn.shop.example/sale.png", "badge_count": 3, "tag": "spring-sale",
        "actions": [{"action": "buy", "title": "Buy now"}, {"action": "later", "title": "Later"}],
        "data": {"send_key": "k1", "url": "https://shop.example/sale", "action_urls": {"buy": "https://shop.example/cart"},
                 "custom": {"campaign": "spring"}}}
    assert rich_one.path == "/push/ok-1"
    assert (rich_one.headers["ttl"], rich_one.headers["urgency"], rich_one.headers["topic"]) == ("3600", "high",
                                                                                                 "spring-sale")
    assert rich_one.headers["authorization"].startswith("vapid t=")
    assert rich_one.headers["authorization"].endswith(f"k={vapid.public}")
    # Without options: the settings' TTL, no topic, and only what there is to show.
    assert browser.read(plain_one.body) == {"title": "", "body": "20 % off today", "icon": "https://shop.example/icon.png",
                                            "data": {"send_key": "k2"}}
    assert plain_one.headers["ttl"] == "600"
    assert "topic" not in plain_one.headers
    # Each message has its own salt and sender key: the 86-byte headers differ.
    assert rich_one.body[:86] != plain_one.body[:86]
    assert len(rich_one.body) == encrypted_size(len(encode_payload(browser.read(rich_one.body))))


def test_a_collapse_key_that_is_no_topic_is_hashed_to_a_stable_one(service, vapid):
    app, base = service
    browser = Browser()
    odd, other = "Spring sale / week 12 — everything must go!", "Summer sale / week 30 — everything must go!"
    channel = WebPushChannel(_settings(vapid))
    answers = channel.deliver([_push(f"k{index}", browser.address(f"{base}/push/ok-{index}"),
                                     options=PushOptions(collapse_key=key))
                               for index, key in enumerate([odd, odd, other])])
    assert all(a.accepted for a in answers), answers
    assert app.problems == []
    topics = {a.path: a.headers["topic"] for a in app.arrived}
    assert topics["/push/ok-0"] == topics["/push/ok-1"] != topics["/push/ok-2"]
    assert len(topics["/push/ok-0"]) == 32
    assert set(topics["/push/ok-0"]) <= B64URL
    assert {browser.read(a.body)["tag"] for a in app.arrived} == {odd, other}  # the browser still sees the key
    assert topic_for("spring-sale_2026") == "spring-sale_2026"
    assert topic_for("x" * 33) != topic_for("x" * 34)


@pytest.mark.parametrize(("path", "reason"), [("gone", "web_push_410"), ("missing", "web_push_404")])
def test_an_unregistered_subscription_fails_for_good_and_is_listed(service, vapid, path, reason):
    app, base = service
    channel = WebPushChannel(_settings(vapid))
    answers = channel.deliver([_push("k1", Browser().address(f"{base}/push/{path}-1")),
                               _push("k2", Browser().address(f"{base}/push/ok-2"))])
    assert _answers(answers) == [("k1", False, True, reason, "token_unregistered", None),
                                 ("k2", True, True, "", "", None)]
    assert len(app.arrived) == 2


def test_a_malformed_subscription_is_refused_and_listed_while_the_rest_of_the_batch_is_sent(service, vapid):
    app, base = service
    good = Browser()
    keys = json.loads(good.address(f"{base}/push/ok"))["keys"]

    def address(endpoint: str = f"{base}/push/ok-x", **changes: Any) -> str:
        return json.dumps({"endpoint": endpoint, "keys": {**keys, **changes}}, separators=(",", ":"))

    not_on_curve = _b64url(b"\x04" + b"\x01" * 64)
    malformed = ["not json", "[]", json.dumps({"endpoint": f"{base}/push/ok-x"}), address(auth=_b64url(b"short")),
                 address(p256dh="abc$def"), address(p256dh=not_on_curve), address(p256dh=_b64url(b"\x04" * 33)),
                 address(endpoint="ftp://push.example/x"), address(endpoint=f"{base.replace('//', '//me:pw@')}/p")]
    messages = [_push("first", good.address(f"{base}/push/ok-first"))]
    messages += [_push(f"bad{index}", text) for index, text in enumerate(malformed)]
    messages += [_push("none", None), _push("last", good.address(f"{base}/push/ok-last"))]
    answers = WebPushChannel(_settings(vapid)).deliver(messages)
    assert _answers(answers) == [
        ("first", True, True, "", "", None),
        *[(f"bad{index}", False, True, "invalid_address", "invalid_address", None) for index in range(len(malformed))],
        ("none", False, True, "invalid_address", "", None),  # no address: nothing to list
        ("last", True, True, "", "", None)]
    assert sorted(a.path for a in app.arrived) == ["/push/ok-first", "/push/ok-last"]
    assert app.problems == []


def test_rate_limits_and_outages_are_retried_after_the_wait_asked_and_other_refusals_are_final(service, vapid):
    app, base = service
    channel = WebPushChannel(_settings(vapid))
    answers = channel.deliver([_push(f"k-{path}", Browser().address(f"{base}/push/{path}-1"))
                               for path in ("busy", "down", "broken", "big")])
    busy, down, broken, big = answers
    assert _answers([busy, broken, big]) == [
        ("k-busy", False, False, "web_push_429", "", 120.0),
        ("k-broken", False, False, "web_push_500", "", None),
        ("k-big", False, True, "web_push_413", "", None)]  # too large for this service: no retry helps
    assert (down.accepted, down.permanent, down.reason, down.suppress) == (False, False, "web_push_503", "")
    assert down.retry_after_s is not None
    assert 50 <= down.retry_after_s <= 61  # the HTTP date, a minute ahead
    assert len(app.arrived) == 4


def test_a_notification_too_large_for_a_push_message_is_refused_before_any_request(service, vapid):
    app, base = service
    browser = Browser()
    address = browser.address(f"{base}/push/ok-1")
    bare = len(encode_payload(notification(title="Spring sale", body="", url="https://shop.example/sale",
                                           send_key="fits", options=None)))
    fits = _push("fits", address, body="x" * (MAX_PAYLOAD_BYTES - bare))
    over = _push("over", address, body="x" * (MAX_PAYLOAD_BYTES - bare + 1))
    huge = _push("huge", address, body="ü" * 3000)  # 6000 bytes of UTF-8
    answers = WebPushChannel(_settings(vapid)).deliver([over, fits, huge])
    assert _answers(answers) == [("over", False, True, "too_large", "", None), ("fits", True, True, "", "", None),
                                 ("huge", False, True, "too_large", "", None)]
    (arrived,) = app.arrived
    assert len(arrived.body) == MAX_MESSAGE_BYTES  # exactly the limit: the check is not off by one
    assert browser.read(arrived.body)["data"]["send_key"] == "fits"


def test_an_unreachable_or_slow_push_service_is_retried_and_does_not_hold_up_the_others(service, vapid):
    app, base = service
    closed = f"http://127.0.0.1:{free_port()}"
    channel = WebPushChannel(_settings(vapid, timeout_s=0.5))
    started = time.monotonic()
    answers = channel.deliver([_push("k1", Browser().address(f"{closed}/push/ok-1")),
                               _push("k2", Browser().address(f"{base}/push/slow-2")),
                               _push("k3", Browser().address(f"{base}/push/ok-3"))])
    assert [(a.send_key, a.accepted, a.permanent, a.reason, a.suppress) for a in answers] == [
        ("k1", False, False, "web_push_unavailable", ""), ("k2", False, False, "web_push_unavailable", ""),
        ("k3", True, True, "", "")]
    assert time.monotonic() - started < 1.4  # the timeout, not the service's 1.5 s, bounded the wait
    assert "/push/ok-3" in [a.path for a in app.arrived]


def test_a_batch_is_sent_concurrently_within_the_bound_and_a_repeated_send_key_once(service, vapid):
    app, base = service
    browser = Browser()
    messages = [_push(f"k{index}", browser.address(f"{base}/push/wait-{index}")) for index in range(12)]
    channel = WebPushChannel(_settings(vapid, concurrency=4))
    started = time.monotonic()
    answers = channel.deliver([*messages, messages[0]])
    elapsed = time.monotonic() - started
    assert [a.send_key for a in answers] == [*(f"k{index}" for index in range(12)), "k0"]  # in the batch's order
    assert all(a.accepted for a in answers)
    assert len(app.arrived) == 12
    assert app.most_in_flight == 4
    assert elapsed < 12 * 0.2  # not one after the other
    assert app.problems == []


def test_a_subscription_made_for_another_vapid_key_is_refused_for_good_without_listing_it(service):
    app, base = service
    other = Vapid(ec.generate_private_key(ec.SECP256R1()))
    (answer,) = WebPushChannel(_settings(other)).deliver([_push("k1", Browser().address(f"{base}/push/ok-1"))])
    assert _answers([answer]) == [("k1", False, True, "web_push_403", "", None)]
    assert app.problems == ["unknown vapid key"]


def test_settings_take_a_pem_or_raw_key_hide_it_and_refuse_what_cannot_sign(vapid):
    raw = _b64url(vapid.key.private_numbers().private_value.to_bytes(32, "big"))
    from_pem = WebPushChannel(WebPushSettings(vapid.pem, SUBJECT))
    from_raw = WebPushChannel(WebPushSettings(raw, "https://shop.example/contact"))
    assert from_pem.application_server_key == from_raw.application_server_key == vapid.public
    assert vapid.pem not in repr(from_pem.settings)
    assert raw not in repr(from_raw.settings)
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    p384_pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    for key in (rsa_pem, p384_pem, "not a key", _b64url(b"\x01" * 20)):
        with pytest.raises(ValueError, match="VAPID private key"):
            WebPushSettings(key, SUBJECT)
    for subject in ("ops@shop.example", "http://shop.example", "mailto:nobody"):
        with pytest.raises(ValueError, match="VAPID subject"):
            WebPushSettings(vapid.pem, subject)
    with pytest.raises(ValueError, match="urgency"):
        WebPushSettings(vapid.pem, SUBJECT, urgency="urgent")  # type: ignore[arg-type]


def test_a_subscription_must_be_https_unless_a_local_service_is_allowed():
    browser = Browser()
    secure = parse_subscription(browser.address("https://fcm.googleapis.com/fcm/send/abc:def"))
    assert (secure.origin, secure.p256dh, secure.auth) == ("https://fcm.googleapis.com", _point(browser.key),
                                                           browser.auth)
    with pytest.raises(SubscriptionInvalid, match="https"):
        parse_subscription(browser.address("http://push.example/x"))
    off_curve = browser.address("https://push.example/x").replace(_b64url(_point(browser.key)),
                                                                  _b64url(b"\x04" + b"\x01" * 64))
    with pytest.raises(SubscriptionInvalid, match="not a point on P-256"):
        parse_subscription(off_curve)
    assert parse_subscription(browser.address("http://127.0.0.1:8080/x"), allow_insecure=True).origin == (
        "http://127.0.0.1:8080")
    for endpoint in ("https://push.example/x#frag", "https:///x", "https://push.example:99999/x",
                     "https://push .example/x"):
        with pytest.raises(SubscriptionInvalid):
            parse_subscription(browser.address(endpoint))
