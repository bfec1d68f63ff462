"""Push over FCM's HTTP v1 API, against a local FCM and token endpoint that verify what they receive:
the OAuth 2.0 grant, the message objects that arrive, and what each answer becomes in the ledger."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loopline.channels.fcm import FcmChannel, FcmSettings
from loopline.domain.push import PushButton, PushOptions
from loopline.ports import Outbound
from tests.delivery.conftest import free_port
from tests.delivery.push_fakes import FCM_SCOPE, GOOGLE_TOKEN_AUDIENCE, FakeFcm, serving

PROJECT = "shop-app-7c1f"


def _token(name: str) -> str:
    """A registration token of the shape FCM hands out (long, URL-safe, with a colon)."""
    return f"{name}:APA91b" + name.encode().hex().ljust(40, "0")


@dataclass
class Fcm:
    fake: FakeFcm
    settings: FcmSettings
    url: str


@pytest.fixture
def fcm() -> Iterator[Fcm]:
    """A fresh service account (RSA 2048, as Google issues) whose token_uri is the fake's."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key_id = secrets.token_hex(20)
    email = f"push-{key_id[:8]}@{PROJECT}.iam.gserviceaccount.com"
    fake = FakeFcm(project_id=PROJECT, client_email=email, key_id=key_id, public_key=private.public_key())
    with serving(fake) as url:
        info = {"type": "service_account", "project_id": PROJECT, "private_key_id": key_id, "private_key": pem,
                "client_email": email, "client_id": "104857600000000000000", "token_uri": f"{url}/token",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth"}
        yield Fcm(fake, FcmSettings(PROJECT, info, base_url=url, timeout_s=5.0), url)


def _push(key: str, token: str | None, *, title: str | None = "Hello", body: str = "Your order shipped",
          url: str | None = None, options: PushOptions | None = None) -> Outbound:
    dumped = options.model_dump(mode="json", exclude_defaults=True) if options is not None else None
    return Outbound(key, "ws_a", "cmp_1", "p_1", "push", token, title, body, url=url, options=dumped)


def test_a_rich_push_arrives_as_the_documented_v1_message(fcm):
    options = PushOptions(
        image_url="https://cdn.shop.example/sale.jpg",
        buttons=[PushButton(id="shop", title="Shop now", url="https://shop.example/sale"),
                 PushButton(id="later", title="Later")],
        badge=3, sound="chime", collapse_key="sale", ttl_s=3600, data={"campaign": "summer", "send_key": "forged"})
    before = int(time.time())
    (answer,) = FcmChannel(fcm.settings).deliver([_push("k1", _token("a"), title="Summer sale ☀️",
                                                        body="20% off today", url="shop://sale", options=options)])
    after = int(time.time())
    assert answer.accepted, answer
    assert answer.detail.startswith(f"projects/{PROJECT}/messages/")
    (message,) = fcm.fake.messages
    assert message["token"] == _token("a")
    assert message["notification"] == {"title": "Summer sale ☀️", "body": "20% off today",
                                       "image": "https://cdn.shop.example/sale.jpg"}
    assert message["android"] == {"priority": "HIGH", "collapse_key": "sale", "ttl": "3600s", "notification": {
        "sound": "chime", "image": "https://cdn.shop.example/sale.jpg", "notification_count": 3}}
    apns = message["apns"]
    assert apns["headers"]["apns-collapse-id"] == "sale"
    assert apns["headers"]["apns-push-type"] == "alert"
    assert apns["headers"]["apns-priority"] == "10"
    assert before + 3600 <= int(apns["headers"]["apns-expiration"]) <= after + 3600  # absolute, as APNs wants
    assert apns["payload"] == {"aps": {"badge": 3, "sound": "chime", "category": "loopline.shop.later",
                                       "mutable-content": 1}}
    assert apns["fcm_options"] == {"image": "https://cdn.shop.example/sale.jpg"}
    data = message["data"]
    assert all(isinstance(value, str) for value in data.values())  # FCM carries strings only
    assert data["deep_link"] == "shop://sale"
    assert data["send_key"] == "k1"  # the content's data cannot forge it
    assert data["campaign"] == "summer"
    assert json.loads(data["buttons"]) == [{"id": "shop", "title": "Shop now", "url": "https://shop.example/sale"},
                                           {"id": "later", "title": "Later"}]
    # The access token came from a JWT bearer grant signed with the service account's key.
    (claims,) = fcm.fake.token_requests
    assert claims["aud"] == GOOGLE_TOKEN_AUDIENCE
    assert claims["scope"] == FCM_SCOPE
    assert claims["iss"] == fcm.settings.service_account_info["client_email"]


def test_a_plain_push_carries_no_empty_options(fcm):
    (answer,) = FcmChannel(fcm.settings).deliver([_push("k1", _token("a"), title=None, body="Hi")])
    assert answer.accepted
    (message,) = fcm.fake.messages
    assert message["notification"] == {"body": "Hi"}
    assert message["android"] == {"priority": "HIGH"}
    assert message["apns"] == {"headers": {"apns-push-type": "alert", "apns-priority": "10"}}
    assert message["data"] == {"send_key": "k1"}


def test_custom_data_cannot_take_the_platforms_keys_or_keys_fcm_reserves(fcm):
    options = PushOptions(data={"deep_link": "evil://", "buttons": "[]", "from": "x", "google.c.a": "1",
                                "gcm.n.e": "1", "message_type": "x", "coupon": "SUMMER-20"})
    (answer,) = FcmChannel(fcm.settings).deliver([_push("k1", _token("a"), options=options)])
    assert answer.accepted, answer
    assert fcm.fake.messages[0]["data"] == {"coupon": "SUMMER-20", "send_key": "k1"}


def test_a_gone_or_malformed_token_fails_alone_and_is_listed(fcm):
    fcm.fake.gone.add(_token("gone"))
    fcm.fake.too_big.add(_token("big"))
    fcm.fake.mismatched.add(_token("other"))
    batch = [_push("k1", _token("a")), _push("k2", _token("gone")), _push("k3", "not-a-token"),
             _push("k4", _token("big")), _push("k5", _token("other")), _push("k6", None), _push("k7", _token("b"))]
    answers = {a.send_key: a for a in FcmChannel(fcm.settings).deliver(batch)}
    assert answers["k1"].accepted
    assert answers["k7"].accepted
    gone = answers["k2"]
    assert (gone.accepted, gone.permanent, gone.suppress, gone.reason) == (
        False, True, "token_unregistered", "fcm_UNREGISTERED")
    malformed = answers["k3"]
    assert (malformed.permanent, malformed.suppress, malformed.reason) == (True, "invalid_address",
                                                                            "fcm_INVALID_ARGUMENT")
    assert "registration token" in malformed.detail
    # INVALID_ARGUMENT about the message, not the token: failed for good, the token stays usable.
    too_big = answers["k4"]
    assert (too_big.permanent, too_big.suppress, too_big.reason) == (True, "", "fcm_INVALID_ARGUMENT")
    mismatch = answers["k5"]
    assert (mismatch.permanent, mismatch.suppress, mismatch.reason) == (True, "", "fcm_SENDER_ID_MISMATCH")
    assert (answers["k6"].reason, answers["k6"].suppress) == ("invalid_address", "")  # nothing was sent for it
    assert sorted(m["token"] for m in fcm.fake.messages) == sorted([_token("a"), _token("b")])


def test_unavailable_and_quota_answers_are_retried_after_retry_after(fcm):
    fcm.fake.unavailable[_token("u")] = 30
    fcm.fake.quota[_token("q")] = 120
    down, quota, fine = FcmChannel(fcm.settings).deliver(
        [_push("k1", _token("u")), _push("k2", _token("q")), _push("k3", _token("a"))])
    assert (down.accepted, down.permanent, down.reason, down.retry_after_s) == (False, False, "fcm_UNAVAILABLE", 30.0)
    assert (quota.permanent, quota.reason, quota.retry_after_s) == (False, "fcm_QUOTA_EXCEEDED", 120.0)
    assert down.suppress == quota.suppress == ""
    assert fine.accepted


def test_the_access_token_is_reused_across_batches(fcm):
    # A channel is built per batch; the token outlives it.
    for key in ("k1", "k2", "k3"):
        (answer,) = FcmChannel(fcm.settings).deliver([_push(key, _token(key))])
        assert answer.accepted
    assert len(fcm.fake.token_requests) == 1
    assert len({bearer for _, bearer in fcm.fake.requests}) == 1


def test_a_refused_access_token_is_renewed_once_and_the_messages_sent_again(fcm):
    assert FcmChannel(fcm.settings).deliver([_push("k0", _token("a"))])[0].accepted
    fcm.fake.revoke()  # as after a key rotation: FCM now answers 401 to the cached token
    answers = FcmChannel(fcm.settings).deliver([_push(f"k{n}", _token(f"t{n}")) for n in range(1, 6)])
    assert all(a.accepted for a in answers), answers
    assert len(fcm.fake.token_requests) == 2  # five refusals, one renewal
    assert len(fcm.fake.messages) == 6
    assert len({bearer for _, bearer in fcm.fake.requests}) == 2


def test_a_token_refused_even_when_renewed_leaves_the_message_to_retry(fcm, monkeypatch):
    original = fcm.fake.access_tokens
    monkeypatch.setattr(fcm.fake, "access_tokens", _Forgetful(original))  # hands out tokens it never accepts
    (answer,) = FcmChannel(fcm.settings).deliver([_push("k1", _token("a"))])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, False, "fcm_auth")
    assert len(fcm.fake.requests) == 2  # the first try and one more with a new token, no loop
    assert len(fcm.fake.token_requests) == 2


class _Forgetful(set[Any]):
    def add(self, item: Any) -> None:
        pass


def test_no_token_endpoint_leaves_every_message_to_retry(fcm):
    info = {**fcm.settings.service_account_info, "token_uri": f"http://127.0.0.1:{free_port()}/token",
            "client_email": "other@shop-app-7c1f.iam.gserviceaccount.com"}
    settings = FcmSettings(PROJECT, info, base_url=fcm.url, timeout_s=2.0)
    answers = FcmChannel(settings).deliver([_push("k1", _token("a")), _push("k2", _token("b"))])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "fcm_auth")] * 2
    assert fcm.fake.requests == []


def test_an_unreachable_fcm_leaves_the_whole_batch_to_retry(fcm):
    settings = FcmSettings(PROJECT, fcm.settings.service_account_info, base_url=f"http://127.0.0.1:{free_port()}",
                           timeout_s=2.0)
    answers = FcmChannel(settings).deliver([_push(f"k{n}", _token(f"t{n}")) for n in range(5)])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "fcm_unavailable")] * 5
    assert all(a.suppress == "" for a in answers)


def test_a_lost_connection_answers_for_the_messages_still_waiting(fcm):
    attempts: list[str] = []

    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(str(request.url))
            raise httpx.ConnectError("connection refused", request=request)

    settings = FcmSettings(PROJECT, fcm.settings.service_account_info, base_url=fcm.url, concurrency=1)
    answers = FcmChannel(settings, transport=Refusing()).deliver([_push(f"k{n}", _token(f"t{n}")) for n in range(5)])
    assert [(a.permanent, a.reason) for a in answers] == [(False, "fcm_unavailable")] * 5
    assert len(attempts) == 1  # not one connection attempt (and time-out) per message


def test_a_batch_goes_concurrently_over_one_http2_connection_within_the_limit(fcm):
    fcm.fake.delay_s = 0.2
    settings = FcmSettings(PROJECT, fcm.settings.service_account_info, base_url=fcm.url, concurrency=4)
    started = time.monotonic()
    answers = FcmChannel(settings).deliver([_push(f"k{n}", _token(f"t{n}")) for n in range(12)])
    elapsed = time.monotonic() - started
    assert all(a.accepted for a in answers)
    assert len(fcm.fake.connections) == 1
    assert 2 <= fcm.fake.max_in_flight <= 4
    assert elapsed < 12 * 0.2  # not one after the other


def test_a_send_key_repeated_in_a_batch_is_sent_once(fcm):
    first, again = FcmChannel(fcm.settings).deliver([_push("k1", _token("a")), _push("k1", _token("a"))])
    assert first.accepted
    assert again == first
    assert len(fcm.fake.messages) == 1


def test_options_that_are_not_valid_fail_without_a_request(fcm):
    message = Outbound("k1", "ws_a", "cmp_1", "p_1", "push", _token("a"), "Hi", "Body",
                       options={"image_url": "http://insecure.example/x.png"})
    (answer,) = FcmChannel(fcm.settings).deliver([message])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, True, "invalid_options")
    assert fcm.fake.requests == []


def test_settings_refuse_a_service_account_without_its_key():
    with pytest.raises(ValueError, match="private_key"):
        FcmSettings(PROJECT, {"client_email": "a@b.iam.gserviceaccount.com", "token_uri": "https://t.example"})
    assert "secret-pem" not in repr(FcmSettings(PROJECT, {"client_email": "a", "token_uri": "b",
                                                           "private_key": "secret-pem"}))

