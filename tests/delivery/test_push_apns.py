"""Push over APNs' HTTP/2 provider API, against a local APNs that verifies the provider token (ES256),
the headers and the payload it receives, and answers as Apple documents."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from loopline.channels.apns import ApnsChannel, ApnsSettings
from loopline.domain.push import PushButton, PushOptions, apns_id
from loopline.ports import Outbound
from tests.delivery.conftest import free_port
from tests.delivery.push_fakes import FakeApns, serving

TEAM, TOPIC = "TEAM123456", "example.shop.app"


class Clock:
    """Seconds since the epoch, moved by the test; shared by the channel and the fake."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


@dataclass
class Apns:
    fake: FakeApns
    settings: ApnsSettings
    clock: Clock
    url: str

    def channel(self, **changes: object) -> ApnsChannel:
        settings = ApnsSettings(**{**_fields(self.settings), **changes})
        return ApnsChannel(settings, clock=self.clock)


def _fields(settings: ApnsSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in ApnsSettings.__dataclass_fields__}


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def apns() -> Iterator[Apns]:
    """A fresh .p8-style key (P-256, PKCS#8), as Apple issues for token-based authentication."""
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = secrets.token_hex(5).upper()
    clock = Clock()
    fake = FakeApns(team_id=TEAM, key_id=key_id, public_key=private.public_key(), topic=TOPIC, clock=clock)
    with serving(fake) as url:
        yield Apns(fake, ApnsSettings(TEAM, key_id, _pem(private), TOPIC, base_url=url, timeout_s=5.0), clock, url)


def _token(n: int) -> str:
    return f"{n:02x}" * 32  # 64 hexadecimal characters, as APNs hands out


def _push(key: str, token: str | None, *, title: str | None = "Hello", body: str = "Your order shipped",
          url: str | None = None, options: PushOptions | None = None) -> Outbound:
    dumped = options.model_dump(mode="json", exclude_defaults=True) if options is not None else None
    return Outbound(key, "ws_a", "cmp_1", "p_1", "push", token, title, body, url=url, options=dumped)


def test_a_rich_push_arrives_with_the_documented_headers_and_payload(apns):
    options = PushOptions(
        image_url="https://cdn.shop.example/sale.jpg",
        buttons=[PushButton(id="shop", title="Shop now", url="https://shop.example/sale"),
                 PushButton(id="later", title="Later")],
        badge=3, sound="chime.caf", collapse_key="sale", ttl_s=3600, data={"campaign": "summer"})
    (answer,) = apns.channel().deliver([_push("k1", _token(1), title="Summer sale ☀️", body="20% off today",
                                              url="shop://sale", options=options)])
    assert answer.accepted, answer
    (note,) = apns.fake.notifications
    assert note.token == _token(1)
    headers = note.headers
    assert headers["apns-topic"] == TOPIC
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10"
    assert headers["apns-id"] == apns_id("k1") == str(uuid.UUID(headers["apns-id"]))
    assert headers["apns-expiration"] == str(int(apns.clock.now) + 3600)
    assert headers["apns-collapse-id"] == "sale"
    assert note.payload == {
        "aps": {"alert": {"title": "Summer sale ☀️", "body": "20% off today"}, "badge": 3, "sound": "chime.caf",
                "category": "loopline.shop.later", "mutable-content": 1},
        "deep_link": "shop://sale",
        "image_url": "https://cdn.shop.example/sale.jpg",
        "buttons": [{"id": "shop", "title": "Shop now", "url": "https://shop.example/sale"},
                    {"id": "later", "title": "Later"}],
        "send_key": "k1",
        "data": {"campaign": "summer"},
    }
    assert apns.fake.refused == []


def test_a_plain_push_has_no_expiry_collapse_id_or_extras(apns):
    (answer,) = apns.channel().deliver([_push("k1", _token(1), title=None, body="Hi")])
    assert answer.accepted
    (note,) = apns.fake.notifications
    assert "apns-expiration" not in note.headers
    assert "apns-collapse-id" not in note.headers
    assert note.payload == {"aps": {"alert": {"body": "Hi"}}, "send_key": "k1"}


def test_a_time_to_live_of_zero_asks_for_one_attempt(apns):
    (answer,) = apns.channel().deliver([_push("k1", _token(1), options=PushOptions(ttl_s=0))])
    assert answer.accepted
    assert apns.fake.notifications[0].headers["apns-expiration"] == "0"


def test_the_same_send_key_always_has_the_same_apns_id(apns):
    apns.channel().deliver([_push("k1", _token(1))])
    apns.channel().deliver([_push("k1", _token(1)), _push("k2", _token(2))])
    ids = [note.headers["apns-id"] for note in apns.fake.notifications]
    assert ids[0] == ids[1] != ids[2]


def test_a_gone_or_bad_token_fails_alone_and_is_listed(apns):
    apns.fake.gone.add(_token(2))
    batch = [_push("k1", _token(1)), _push("k2", _token(2)), _push("k3", "ab" * 16), _push("k4", "../../3/x"),
             _push("k5", None), _push("k6", _token(6))]
    answers = {a.send_key: a for a in apns.channel().deliver(batch)}
    assert answers["k1"].accepted
    assert answers["k6"].accepted
    gone = answers["k2"]
    assert (gone.accepted, gone.permanent, gone.suppress, gone.reason) == (
        False, True, "token_unregistered", "apns_Unregistered")
    bad = answers["k3"]  # hexadecimal but not a device token: APNs says so
    assert (bad.permanent, bad.suppress, bad.reason) == (True, "invalid_address", "apns_BadDeviceToken")
    not_hex = answers["k4"]  # never sent: it would be a path of its own
    assert (not_hex.permanent, not_hex.suppress, not_hex.reason) == (True, "invalid_address", "invalid_address")
    assert (answers["k5"].reason, answers["k5"].suppress) == ("invalid_address", "")
    assert sorted(t for t, _, _ in apns.fake.refused) == sorted([_token(2), "ab" * 16])
    assert sorted(n.token for n in apns.fake.notifications) == [_token(1), _token(6)]


def test_busy_and_unavailable_answers_are_retried_after_retry_after(apns):
    apns.fake.busy[_token(1)] = 45
    apns.fake.unavailable[_token(2)] = 7
    busy, down, fine = apns.channel().deliver([_push("k1", _token(1)), _push("k2", _token(2)),
                                               _push("k3", _token(3))])
    assert (busy.accepted, busy.permanent, busy.reason, busy.retry_after_s) == (
        False, False, "apns_TooManyRequests", 45.0)
    assert (down.permanent, down.reason, down.retry_after_s) == (False, "apns_ServiceUnavailable", 7.0)
    assert busy.suppress == down.suppress == ""
    assert fine.accepted


def test_the_provider_token_is_reused_for_fifty_minutes_then_renewed(apns):
    for n in range(3):  # a channel per batch, minutes apart
        assert apns.channel().deliver([_push(f"k{n}", _token(n))])[0].accepted
        apns.clock.now += 10 * 60
    assert len(apns.fake.jwts) == 1
    apns.clock.now += 21 * 60  # 51 minutes after the first: a new token, before APNs' hour is up
    assert apns.channel().deliver([_push("k9", _token(9))])[0].accepted
    assert len(apns.fake.jwts) == 2
    assert apns.fake.refused == []


def test_an_expired_provider_token_is_replaced_once_and_the_messages_sent_again(apns):
    assert apns.channel().deliver([_push("k0", _token(0))])[0].accepted
    apns.fake.expired_jwts.update(apns.fake.jwts)  # APNs now calls the cached token expired
    apns.clock.now += 25 * 60
    answers = apns.channel().deliver([_push(f"k{n}", _token(n)) for n in range(1, 6)])
    assert all(a.accepted for a in answers), answers
    assert len(apns.fake.jwts) == 2  # five refusals, one new token
    assert {reason for _, _, reason in apns.fake.refused} == {"ExpiredProviderToken"}
    assert len(apns.fake.notifications) == 6
    assert apns.channel().deliver([_push("k7", _token(7))])[0].accepted
    assert len(apns.fake.jwts) == 2  # the new token is the one kept


def test_a_token_still_expired_when_renewed_leaves_the_message_to_retry(apns):
    apns.fake.clock = lambda: apns.clock.now + 2 * 3600  # APNs' clock is two hours ahead: every token is old
    (answer,) = apns.channel().deliver([_push("k1", _token(1))])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, False, "apns_auth")
    assert [reason for _, _, reason in apns.fake.refused] == ["ExpiredProviderToken"] * 2  # one retry, no loop


def test_a_key_apns_does_not_know_leaves_the_messages_to_retry(apns):
    stranger = _pem(ec.generate_private_key(ec.SECP256R1()))
    answers = apns.channel(private_key_pem=stranger).deliver([_push("k1", _token(1)), _push("k2", _token(2))])
    assert [(a.accepted, a.permanent, a.reason, a.suppress) for a in answers] == [(False, False, "apns_auth", "")] * 2
    assert {reason for _, _, reason in apns.fake.refused} == {"InvalidProviderToken"}


def test_an_unreachable_apns_leaves_the_whole_batch_to_retry(apns):
    channel = apns.channel(base_url=f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    answers = channel.deliver([_push(f"k{n}", _token(n)) for n in range(5)])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "apns_unavailable")] * 5


def test_a_lost_connection_answers_for_the_messages_still_waiting(apns):
    attempts: list[str] = []

    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(str(request.url))
            raise httpx.ConnectError("connection refused", request=request)

    settings = ApnsSettings(**{**_fields(apns.settings), "concurrency": 1})
    answers = ApnsChannel(settings, transport=Refusing(), clock=apns.clock).deliver(
        [_push(f"k{n}", _token(n)) for n in range(5)])
    assert [(a.permanent, a.reason) for a in answers] == [(False, "apns_unavailable")] * 5
    assert len(attempts) == 1  # not one connection attempt (and time-out) per message


def test_a_batch_goes_concurrently_over_one_http2_connection_within_the_limit(apns):
    apns.fake.delay_s = 0.2
    started = time.monotonic()
    answers = apns.channel(concurrency=4).deliver([_push(f"k{n}", _token(n)) for n in range(12)])
    elapsed = time.monotonic() - started
    assert all(a.accepted for a in answers)
    assert len(apns.fake.connections) == 1
    assert 2 <= apns.fake.max_in_flight <= 4
    assert elapsed < 12 * 0.2


def test_the_fake_refuses_http1_as_apns_does(apns):
    response = httpx.post(f"{apns.url}/3/device/{_token(1)}", json={"aps": {}})
    assert response.status_code == 505
    assert apns.fake.notifications == []


def test_a_payload_over_four_kilobytes_is_refused_before_it_is_sent(apns):
    (answer,) = apns.channel().deliver([_push("k1", _token(1), body="x" * 4100)])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, True, "too_large")
    assert apns.fake.refused == apns.fake.notifications == []


def test_a_send_key_repeated_in_a_batch_is_sent_once(apns):
    first, again = apns.channel().deliver([_push("k1", _token(1)), _push("k1", _token(1))])
    assert first.accepted
    assert again == first
    assert len(apns.fake.notifications) == 1


def test_settings_refuse_a_key_that_is_not_p256_and_hide_the_key():
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="P-256"):
        ApnsSettings(TEAM, "KEY1234567", rsa_pem, TOPIC)
    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert pem not in repr(ApnsSettings(TEAM, "KEY1234567", pem, TOPIC))
