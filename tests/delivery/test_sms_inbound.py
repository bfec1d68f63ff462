"""Inbound SMS keywords (S7) through the gateway's signed webhook (S6): STOP in every wording revokes
consent at once and skips what waits, START restores it, HELP answers, and one confirmation at most."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tests.engagement.conftest import customers

TOKEN = "gateway-token-1"
GATEWAY = {"kind": "sms_gateway", "shape": "twilio", "base_url": "https://api.twilio.example", "sender": "+15017122661",
           "account": "AC123", "secret": TOKEN, "help_text": "Shop alerts. Reply STOP to end."}


def _signed(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    """Sign as Twilio documents it: HMAC-SHA1 over the URL and each parameter's name and value, sorted."""
    payload = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _text(shop, sender: str, body: str, *, token: str = TOKEN, signature: str | None = None):
    url = f"http://testserver/hooks/sms/{shop.workspace.id}/inbound"
    form = {"From": sender, "To": "+15017122661", "Body": body, "MessageSid": "SM" + "1" * 32}
    signed = _signed(url, form, token) if signature is None else signature
    return shop.client.post(url, data=form, headers={"X-Twilio-Signature": signed})


def _sms_consent(shop, user: str) -> str | None:
    consents = shop.client.get(f"/api/v1/profiles/{user}", headers=shop.headers).json()["consents"]
    return next((c["status"] for c in consents if c["channel"] == "sms" and c["topic"] == "all"), None)


@pytest.fixture
def texting(shop):
    shop.ingest(customers(2))
    shop.opt_in(["u-00000", "u-00001"], channel="sms")
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers,
                          json={"channel": "sms", "provider": GATEWAY})
    assert put.status_code == 200, put.text
    return shop


@pytest.mark.parametrize("wording", ["STOP", "stop ", "Stop all", "UNSUBSCRIBE", "cancel", "end", "quit", "revoke",
                                     "opt out", "STOPALL", "ARRET", "please stop texting me"])
def test_every_stop_wording_revokes_sms_consent_with_one_confirmation(texting, wording):
    first = _text(texting, "+491511200000", wording)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/xml")
    assert "You are unsubscribed" in first.text
    assert _sms_consent(texting, "u-00000") == "opted_out"
    again = _text(texting, "+491511200000", wording)  # redelivered, or said twice: no second text
    assert "<Message>" not in again.text
    assert _sms_consent(texting, "u-00001") == "opted_in"  # nobody else's consent moved


def test_start_restores_help_answers_and_a_stranger_is_suppressed(texting):
    _text(texting, "+491511200000", "STOP")
    started = _text(texting, "+491511200000", "START")
    assert "subscribed again" in started.text
    assert _sms_consent(texting, "u-00000") == "opted_in"
    assert "Shop alerts. Reply STOP to end." in _text(texting, "+491511200000", "HELP").text
    assert "<Message>" not in _text(texting, "+491511200000", "what time do you open?").text
    # A number no profile holds goes on the suppression list, and off it again.
    _text(texting, "+15005550006", "stop")
    listed = texting.client.get("/api/v1/suppressions/sms/+15005550006", headers=texting.headers)
    assert listed.status_code == 200, listed.text
    _text(texting, "+15005550006", "unstop")
    assert texting.client.get("/api/v1/suppressions/sms/+15005550006", headers=texting.headers).status_code == 404


def test_a_bad_or_foreign_signature_changes_nothing(texting, other_workspace):
    assert _text(texting, "+491511200000", "STOP", token="not-the-token").status_code == 401
    assert _text(texting, "+491511200000", "STOP", signature="").status_code == 401
    url = f"http://testserver/hooks/sms/{texting.workspace.id}/inbound"
    form = {"From": "+491511200000", "To": "+15017122661", "Body": "START", "MessageSid": "SM1"}
    tampered = texting.client.post(url, data={**form, "Body": "STOP"},
                                   headers={"X-Twilio-Signature": _signed(url, form)})
    assert tampered.status_code == 401
    assert tampered.json()["error"]["code"] == "bad_signature"
    assert TOKEN not in tampered.text
    assert _sms_consent(texting, "u-00000") == "opted_in"
    # A workspace without a gateway has no hook, whatever is signed.
    foreign = texting.client.post(f"/hooks/sms/{other_workspace.id}/inbound", data=form,
                                  headers={"X-Twilio-Signature": _signed(url, form)})
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "no_inbound_hook")


def test_after_stop_the_next_campaign_skips_the_customer_on_sms(texting):
    campaign = texting.campaign(texting.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Sale today"}}}])
    _text(texting, "+491511200000", "STOP")
    texting.move(campaign["id"], "schedule")
    texting.tick()
    (stopped,) = texting.sends("u-00000")
    assert (stopped["state"], stopped["reason"]) == ("skipped", "unsubscribed")
    (other,) = texting.sends("u-00001")
    assert other["state"] != "skipped"  # handed to the gateway (unreachable here: queued to retry)
