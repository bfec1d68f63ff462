"""Delivery receipts: what a provider reports after it accepted a message, read from each provider's
webhook, and the order that keeps a send's status monotonic.

Providers redeliver their callbacks and send them out of order. A send's receipt therefore
only moves up — delivered < undelivered < bounced < complained — so a bounce wins over a
"delivered" whichever arrives last; each (send, status) is one event on the customer's
timeline however often it is reported. Statuses on the way (queued, sent to the carrier)
are not receipts and are acknowledged without effect.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Any, Literal
from urllib.parse import urlencode

from loopline.domain.engagement import EMAIL_DELIVERED, SMS_DELIVERED

Status = Literal["delivered", "undelivered", "bounced", "complained"]
RANK: dict[str, int] = {"delivered": 1, "undelivered": 2, "bounced": 3, "complained": 4}
EVENTS: dict[tuple[str, str], str] = {
    ("email", "delivered"): EMAIL_DELIVERED,
    ("email", "bounced"): "Email Bounced",
    ("email", "complained"): "Email Marked as Spam",
    ("sms", "delivered"): SMS_DELIVERED,
    ("sms", "undelivered"): "SMS Undelivered",
}
"""The timeline event each receipt becomes (the Segment spec's names where it has one)."""

# Twilio's delivery error codes that condemn the number itself, and the suppression reason.
TWILIO_NUMBER_ERRORS = {
    30005: "invalid_address",  # unknown destination handset: the number does not exist
    30006: "invalid_address",  # a landline or a carrier that cannot receive texts
    21610: "carrier_opt_out",  # the recipient replied STOP at the carrier
}
# Kannel's delivery report values (``%d``): 1 delivered to the phone, 2 not delivered to the
# phone, 16 not delivered to the SMSC; 4 (queued) and 8 (at the SMSC) are on the way.
KANNEL_STATUS = {"1": "delivered", "2": "undelivered", "16": "undelivered"}


class ReceiptRejected(ValueError):
    """A receipt document that cannot be read."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """One provider report about one send."""

    send_key: str
    status: str
    at: datetime
    detail: str = ""
    suppress: str = ""  # the report condemns the address: list it with this reason


def moves_up(current: str | None, new: str) -> bool:
    """Return whether ``new`` replaces ``current`` (a receipt never moves down)."""
    return RANK[new] > RANK.get(current or "", 0)


def twilio_receipt(send_key: str, form: Mapping[str, str], *, at: datetime) -> Receipt | None:
    """Read Twilio's status callback; None for statuses on the way (queued, sending, sent…)."""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if status == "delivered":
        return Receipt(send_key, "delivered", at)
    if status not in ("undelivered", "failed"):
        return None
    code = form.get("ErrorCode", "")
    number = int(code) if code.isdigit() else None
    return Receipt(send_key, "undelivered", at, detail=f"twilio_{code}" if code else status,
                   suppress=TWILIO_NUMBER_ERRORS.get(number or 0, ""))


def kannel_receipt(send_key: str, status: str, *, at: datetime) -> Receipt | None:
    """Read a Kannel delivery report's ``%d`` value; None for reports on the way."""
    found = KANNEL_STATUS.get(status.strip())
    return Receipt(send_key, found, at, detail=f"kannel_{status.strip()}") if found else None


def email_receipts(document: Any, *, at: datetime) -> list[Receipt]:
    """Read the email events document (``{"events": [{"type", "send_key", "bounce"?, "detail"?}]}``).

    ``bounced`` with ``"bounce": "soft"`` is a deferral, not a receipt, and is left out; a
    hard bounce suppresses the address, a complaint too (the customer called it spam).
    """
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ReceiptRejected('the body must be {"events": [...]}')
    events = document["events"]
    if not 0 < len(events) <= 1_000:
        raise ReceiptRejected("send 1 to 1,000 events per request")
    receipts: list[Receipt] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise ReceiptRejected(f"events[{index}] must be an object")
        kind, key, bounce = event.get("type"), event.get("send_key"), event.get("bounce", "hard")
        if kind not in ("delivered", "bounced", "complained"):
            raise ReceiptRejected(f"events[{index}].type must be delivered, bounced or complained")
        if not isinstance(key, str) or not 0 < len(key) <= 44:
            raise ReceiptRejected(f"events[{index}].send_key must be the message's send key")
        if bounce not in ("hard", "soft"):
            raise ReceiptRejected(f"events[{index}].bounce must be hard or soft")
        detail = str(event.get("detail", ""))[:500]
        if kind == "bounced" and bounce == "soft":
            continue
        suppress = {"bounced": "hard_bounce", "complained": "complaint"}.get(kind, "")
        receipts.append(Receipt(key, str(kind), at, detail=detail, suppress=suppress))
    return receipts


def receipt_signature(key: bytes, *, workspace_id: str, send_key: str) -> str:
    """Return the signature a delivery-report address carries for gateways that sign nothing (Kannel).

    The address is written by us for one send; the signature proves it, so a forged report
    cannot mark another send delivered or condemn another number.
    """
    digest = hmac.new(key, f"{workspace_id}.{send_key}".encode(), sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def receipt_url(base: str, *, send_key: str, signature: str | None = None, kannel: bool = False) -> str:
    """Return the delivery-report address for one send: ``base`` with the send key (and signature) added.

    Kannel fills in ``%d`` (the report's status) itself, so that part stays unescaped.
    """
    query = {"send_key": send_key, **({"sig": signature} if signature else {})}
    url = f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"
    return f"{url}&status=%d" if kannel else url
