"""Delivery receipts (F11) through signed webhooks (S6): redelivered and shuffled reports leave each
send on its highest status (a bounce wins over "delivered" whatever the order), become one event
each on the customer's timeline, and condemn the address when they should; a bad, old or
re-serialised signature changes nothing."""

from __future__ import annotations

import logging
import random
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from loopline.domain.webhooks import signed_headers
from tests.conftest import settle
from tests.delivery.test_providers import _relay
from tests.delivery.test_retries import FINE, FlakyGateway, flaky  # noqa: F401 - the gateway fixture
from tests.delivery.test_sms_inbound import _signed
from tests.engagement.conftest import customers, person

SECRET = "whsec_" + "c2VjcmV0LWZvci1ldmVudHMtMTIzNDU2Nzg5MA=="


def _post_events(shop, events, *, secret=SECRET, at=None, message_id="msg_1", body=None):
    raw = body if body is not None else orjson.dumps({"events": events})
    stamp = int(at if at is not None else shop.clock.at.timestamp())
    headers = {**signed_headers(secret, message_id=message_id, timestamp=stamp, body=raw),
               "Content-Type": "application/json"}
    return shop.client.post(f"/hooks/email/{shop.workspace.id}/events", content=raw, headers=headers)


def _timeline(shop, user):
    settle(shop.runtime)
    events = shop.client.get(f"/api/v1/profiles/{user}", headers=shop.headers).json()["recent_events"]
    return sorted(e["event"] for e in events if (e.get("event") or "").startswith("Email"))


@pytest.fixture
def mailed(shop, relay, key):
    """Two customers each got one marketing email over the workspace's relay, which signs its events."""
    _, port = relay
    pem, _ = key
    shop.ingest(customers(2))
    shop.opt_in(["u-00000", "u-00001"])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                          json={"channel": "email", "provider": _relay(port, pem, events_secret=SECRET)})
    assert put.status_code == 200, put.text
    assert put.json()["secrets"]["events_secret"] is True
    campaign = shop.campaign(shop.segment())
    shop.move(campaign["id"], "schedule")
    shop.tick()
    keys = {user: shop.sends(user)[0]["send_key"] for user in ("u-00000", "u-00001")}
    return shop, keys


def test_shuffled_redelivered_reports_end_on_the_highest_status_once_each(mailed):
    shop, keys = mailed
    reports = [{"type": "delivered", "send_key": keys["u-00000"]},
               {"type": "bounced", "send_key": keys["u-00000"], "bounce": "hard", "detail": "550 5.1.1 unknown"},
               {"type": "delivered", "send_key": keys["u-00001"]},
               {"type": "complained", "send_key": keys["u-00001"]},
               {"type": "bounced", "send_key": keys["u-00001"], "bounce": "soft", "detail": "mailbox full"}]
    deliveries = reports * 2
    random.Random(3).shuffle(deliveries)
    for index, report in enumerate(deliveries):
        answer = _post_events(shop, [report], message_id=f"msg_{index}")
        assert answer.status_code == 200, answer.text
    # Delivered last or first, the bounce stands; the complaint outranks everything.
    assert [s["receipt"] for s in shop.sends("u-00000")] == ["bounced"]
    assert [s["receipt"] for s in shop.sends("u-00001")] == ["complained"]
    # One event per report however often it came; a soft bounce is no receipt.
    assert _timeline(shop, "u-00000") == ["Email Bounced", "Email Delivered"]
    assert _timeline(shop, "u-00001") == ["Email Delivered", "Email Marked as Spam"]
    reasons = {e["address"]: e["reason"] for e in shop.client.get(
        "/api/v1/suppressions", headers=shop.headers, params={"channel": "email"}).json()["items"]}
    assert reasons == {"c00000@example.com": "hard_bounce", "c00001@example.com": "complaint"}


def test_a_delivered_after_the_bounce_does_not_undo_it(mailed):
    shop, keys = mailed
    key = keys["u-00000"]
    assert _post_events(shop, [{"type": "bounced", "send_key": key}]).json() == {
        "matched": 1, "raised": 1, "unknown": 0}
    assert _post_events(shop, [{"type": "delivered", "send_key": key}], message_id="m2").json() == {
        "matched": 1, "raised": 0, "unknown": 0}
    assert shop.sends("u-00000")[0]["receipt"] == "bounced"


def test_bad_old_or_reserialised_signatures_and_foreign_keys_change_nothing(mailed, other_workspace, caplog):
    caplog.set_level(logging.DEBUG)
    shop, keys = mailed
    report = [{"type": "bounced", "send_key": keys["u-00000"], "bounce": "hard"}]
    assert _post_events(shop, report, secret="whsec_" + "b3RoZXItc2VjcmV0").status_code == 401
    six_minutes_ago = shop.clock.at.timestamp() - 360
    assert _post_events(shop, report, at=six_minutes_ago).status_code == 401
    raw = orjson.dumps({"events": report})
    reordered = orjson.dumps({"events": [{"bounce": "hard", "send_key": keys["u-00000"], "type": "bounced"}]})
    stamp = int(shop.clock.at.timestamp())
    headers = {**signed_headers(SECRET, message_id="m", timestamp=stamp, body=raw), "Content-Type": "application/json"}
    moved = shop.client.post(f"/hooks/email/{shop.workspace.id}/events", content=reordered, headers=headers)
    assert moved.status_code == 401
    assert moved.json()["error"]["code"] == "bad_signature"
    assert shop.sends("u-00000")[0]["receipt"] is None
    # A workspace without an events secret has no hook; a key of another workspace matches nothing.
    foreign = shop.client.post(f"/hooks/email/{other_workspace.id}/events", content=raw, headers=headers)
    assert foreign.status_code == 404
    stranger = _post_events(shop, [{"type": "bounced", "send_key": "k" * 40}], message_id="m3")
    assert stranger.json() == {"matched": 0, "raised": 0, "unknown": 1}
    assert shop.client.get("/api/v1/suppressions", headers=shop.headers).json()["items"] == []
    # Neither the secret nor the signature it would have produced shows in the logs.
    expected = signed_headers(SECRET, message_id="m", timestamp=stamp, body=reordered)["webhook-signature"]
    assert SECRET not in caplog.text
    assert expected.split(",", 1)[1] not in caplog.text


@pytest.mark.parametrize("body", [b"not json", b'{"events": "x"}', b'{"events": [{"type": "opened", "send_key": "k"}]}',
                                  b'{"events": []}', b"[]"])
def test_unreadable_event_documents_are_refused_with_a_code(mailed, body):
    shop, _ = mailed
    answer = _post_events(shop, [], body=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("invalid_json", "invalid_events")


def _texted(shop, provider: dict[str, str]) -> tuple[dict[str, object], str]:
    """Send one SMS campaign through ``provider``; return the send and where the gateway was told to report."""
    shop.ingest([person("u-fine", phone=FINE)])
    shop.policy(opt_in_channels=[])
    assert shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                           json={"channel": "sms", "provider": provider}).status_code == 200
    campaign = shop.campaign(shop.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Sale"}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    (send,) = shop.sends("u-fine")
    (report_to,) = [c for c in FlakyGateway.callbacks if c]
    return send, report_to


def test_sms_delivery_reports_from_twilio_and_kannel(shop, flaky):  # noqa: F811 - the imported fixture
    send, callback = _texted(shop, {"kind": "sms_gateway", "shape": "twilio", "base_url": flaky,
                                    "sender": "+15017122661", "account": "AC1", "secret": "token"})
    assert send["state"] == "sent"
    # The gateway was told where to report, for this very send.
    assert parse_qs(urlsplit(callback).query)["send_key"] == [send["send_key"]]
    url = f"http://testserver{urlsplit(callback).path}?{urlsplit(callback).query}"

    def report(status, token="token", **extra):
        form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": status, "To": FINE, **extra}
        return shop.client.post(url, data=form, headers={"X-Twilio-Signature": _signed(url, form, token)})

    assert report("sent").json() == {"matched": 0, "raised": 0, "unknown": 0}  # on the way: no receipt
    assert report("delivered", token="wrong").status_code == 401
    assert report("delivered").json()["raised"] == 1
    assert report("undelivered", ErrorCode="30005").json()["raised"] == 1
    assert report("delivered").json()["raised"] == 0  # redelivered late: the failure stands
    assert shop.sends("u-fine")[0]["receipt"] == "undelivered"
    listed = shop.client.get(f"/api/v1/suppressions/sms/{FINE}", headers=shop.headers)
    assert listed.json()["reason"] == "invalid_address"
    settle(shop.runtime)
    events = shop.client.get("/api/v1/profiles/u-fine", headers=shop.headers).json()["recent_events"]
    texts = sorted(e["event"] for e in events if (e.get("event") or "").startswith("SMS"))
    assert texts == ["SMS Delivered", "SMS Undelivered"]


def test_kannel_reports_carry_our_signature_of_the_send(shop, flaky):  # noqa: F811 - the imported fixture
    send, dlr = _texted(shop, {"kind": "sms_gateway", "shape": "kannel", "base_url": flaky, "sender": "SHOP",
                               "account": "loopline", "secret": "secret"})
    assert dlr.endswith("&status=%d")
    path = urlsplit(dlr).path
    query = {k: v[0] for k, v in parse_qs(urlsplit(dlr.replace("%d", "1")).query).items()}
    assert query["send_key"] == send["send_key"]
    assert shop.client.get(path, params={**query, "sig": query["sig"][:-2] + "xx"}).status_code == 401
    other = {**query, "send_key": "k" * 40}
    assert shop.client.get(path, params=other).status_code == 401  # the signature names one send only
    assert shop.client.get(path, params=query).json()["raised"] == 1
    assert shop.sends("u-fine")[0]["receipt"] == "delivered"
