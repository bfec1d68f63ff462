"""One-click unsubscribe (S5): marketing mail carries a signed link in both RFC 8058 headers,
covered by DKIM; a POST to it unsubscribes at once, a GET only asks, and a link that was
altered, turned onto another customer or another workspace changes nothing."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import timedelta
from urllib.parse import urlsplit

import dkim
import orjson
import pytest

from loopline.actions.unsubscribe import PURPOSE
from loopline.domain.unsubscribe import UnsubscribeLink, read_token, token_for
from tests.delivery.test_providers import _relay
from tests.engagement.conftest import NOW, customers


def _mail_to(shop, relay, key, *, topic="newsletter", priority="marketing", name="Summer sale", at=NOW):
    shop.clock.at = at
    campaign = shop.campaign(shop.segment(name=f"Pro {name}"), name=name, topic=topic, priority=priority)
    shop.move(campaign["id"], "schedule")
    shop.tick()
    return campaign


def _headers_of(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def _path_of(mail):
    url = str(mail["List-Unsubscribe"]).strip("<>")
    return url, urlsplit(url).path


@pytest.fixture
def mailed(shop, relay, key):
    """A workspace whose marketing mail went out over its relay to two opted-in customers."""
    handler, port = relay
    pem, record = key
    shop.ingest(customers(2))
    shop.opt_in(["u-00000", "u-00001"])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                          json={"channel": "email", "provider": _relay(port, pem)})
    assert put.status_code == 200, put.text
    campaign = _mail_to(shop, relay, key)
    raws = {_headers_of(raw)["To"].addresses[0].addr_spec: raw for _, _, raw in handler.received}
    assert sorted(raws) == ["c00000@example.com", "c00001@example.com"]
    return shop, handler, record, raws, campaign


def test_marketing_mail_carries_both_headers_signed_by_dkim(mailed):
    shop, _, record, raws, _ = mailed
    raw = raws["c00000@example.com"]
    mail = _headers_of(raw)
    url, path = _path_of(mail)
    assert url.startswith(shop.runtime.services.settings.resolved_public_url + "/unsubscribe/u1.")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record.encode())
    header = mail["DKIM-Signature"].replace(" ", "").replace("\n", "").replace("\t", "")
    covered = {name.lower() for name in header.split("h=")[1].split(";")[0].split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= covered
    # Each customer gets their own link.
    assert _path_of(_headers_of(raws["c00001@example.com"]))[1] != path


def _unsubscribed_events(shop, reference):
    shop.runtime.projector.catch_up()
    view = shop.client.get(f"/api/v1/profiles/{reference}", headers=shop.headers)
    assert view.status_code == 200, view.text
    return [event for event in view.json()["recent_events"] if event["event"] == "Email Unsubscribed"]


def test_a_one_click_post_unsubscribes_at_once_and_the_next_campaign_skips_them(mailed, relay, key):
    shop, handler, _, raws, campaign = mailed
    _, path = _path_of(_headers_of(raws["c00000@example.com"]))
    shop.client.cookies.clear()
    answer = shop.client.post(path, content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert "unsubscribed" in answer.text
    consents = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["consents"]
    assert {(c["channel"], c["topic"], c["status"]) for c in consents} >= {("email", "newsletter", "opted_out")}
    # Repeating the POST (a provider retrying) is harmless.
    assert shop.client.post(path, content=b"List-Unsubscribe=One-Click").status_code == 200
    # The opt-out is one event on the timeline, naming the message that lost the customer.
    (sent,) = shop.sends("u-00000", source_id=campaign["id"])
    (event,) = _unsubscribed_events(shop, "u-00000")
    assert {key: event["properties"].get(key) for key in ("send_key", "campaign_id", "channel", "topic", "variant")} \
        == {"send_key": sent["send_key"], "campaign_id": campaign["id"], "channel": "email", "topic": "newsletter",
            "variant": "A"}
    assert _unsubscribed_events(shop, "u-00001") == []

    handler.received.clear()
    follow_up = _mail_to(shop, relay, key, name="Autumn sale", at=NOW + timedelta(days=3))
    assert [_headers_of(raw)["To"].addresses[0].addr_spec for _, _, raw in handler.received] == ["c00001@example.com"]
    (skipped,) = shop.sends("u-00000", source_id=follow_up["id"])
    assert (skipped["state"], skipped["reason"]) == ("skipped", "unsubscribed")
    # Another topic still reaches them: the link unsubscribed from the newsletter only.
    handler.received.clear()
    _mail_to(shop, relay, key, topic="orders", name="Order news", at=NOW + timedelta(days=6))
    assert len(handler.received) == 2


def test_a_get_only_asks_and_changes_nothing(mailed):
    shop, _, _, raws, _ = mailed
    _, path = _path_of(_headers_of(raws["c00000@example.com"]))
    page = shop.client.get(path)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert "List-Unsubscribe" in page.text
    consents = shop.client.get("/api/v1/profiles/u-00000", headers=shop.headers).json()["consents"]
    assert ("email", "newsletter") not in {(c["channel"], c["topic"]) for c in consents}
    assert ("email", "all", "opted_in") in {(c["channel"], c["topic"], c["status"]) for c in consents}
    assert _unsubscribed_events(shop, "u-00000") == []


def _swap(token: str, index: int, value: str) -> str:
    version, body, signature = token.split(".")
    fields = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    fields[index] = value
    forged = base64.urlsafe_b64encode(orjson.dumps(fields)).rstrip(b"=").decode()
    return f"{version}.{forged}.{signature}"


def test_altered_links_are_refused_and_change_nothing(mailed, other_workspace):
    shop, _, _, raws, _ = mailed
    _, path = _path_of(_headers_of(raws["c00000@example.com"]))
    token = path.rsplit("/", 1)[1]
    other_profile = shop.client.get("/api/v1/profiles/u-00001", headers=shop.headers).json()["id"]
    tampered = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the signature
        _swap(token, 1, other_profile),  # A's link turned onto B
        _swap(token, 0, other_workspace.id),  # into another workspace
        _swap(token, 3, "all"),  # widened to the whole channel
        "u1.garbage",
        "u1.%%%.%%%",
    ]
    for bad in tampered:
        answer = shop.client.post(f"/unsubscribe/{bad}", content=b"List-Unsubscribe=One-Click")
        assert answer.status_code in (400, 404), (bad, answer.status_code)
        if answer.status_code == 400:
            assert answer.json()["error"]["code"] == "bad_unsubscribe_link"
    page = shop.client.get(f"/unsubscribe/{tampered[0]}", headers={"Accept": "text/html"})
    assert page.status_code == 400
    assert "Nothing was changed" in page.text
    for user in ("u-00000", "u-00001"):
        consents = shop.client.get(f"/api/v1/profiles/{user}", headers=shop.headers).json()["consents"]
        assert all(c["status"] == "opted_in" for c in consents), consents


def test_transactional_mail_carries_no_unsubscribe_link(shop, relay, key):
    handler, port = relay
    pem, _ = key
    shop.ingest(customers(1))
    shop.opt_in(["u-00000"])
    shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                    json={"channel": "email", "provider": _relay(port, pem)})
    _mail_to(shop, relay, key, priority="transactional", name="Receipt")
    (_, _, raw) = handler.received[0]
    assert _headers_of(raw)["List-Unsubscribe"] is None


def test_links_are_signed_with_a_key_of_their_own(runtime):
    secrets = runtime.services.secrets
    key = secrets.signing_key(PURPOSE)
    assert key != secrets.signing_key("another purpose")
    assert len(key) == 32
    link = UnsubscribeLink("ws_1", "prof_1", "email", "all", "k1")
    assert read_token(key, token_for(key, link)) == link
