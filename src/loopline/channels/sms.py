"""SMS through an HTTP gateway, in the two request shapes most gateways speak.

``twilio``: a form POST to ``/2010-04-01/Accounts/{account}/Messages.json`` with HTTP Basic
auth (account SID, auth token), answered ``201`` with the message as JSON, or an error
document with a numeric ``code``. ``kannel``: a GET of ``/cgi-bin/sendsms`` with the
credentials in the query, answered ``202 0: Accepted for delivery``. Both carry a delivery
receipt address when the workspace gives one. A text too long for the workspace's segment
limit is refused before it costs anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from loopline.domain.receipts import receipt_signature, receipt_url
from loopline.domain.retries import parse_retry_after
from loopline.domain.sms import MAX_SEGMENTS, measure
from loopline.ports import Delivery, Outbound

# Twilio's error codes that refuse the number itself, and the suppression reason for each.
TWILIO_ADDRESS_ERRORS = {
    21211: "invalid_address",  # not a valid phone number
    21614: "invalid_address",  # not a mobile number
    21610: "carrier_opt_out",  # the recipient replied STOP to this sender at the carrier
}


@dataclass(frozen=True, slots=True)
class SmsGatewaySettings:
    """A workspace's SMS gateway: its request shape, address, credentials and sender id."""

    shape: Literal["twilio", "kannel"]
    base_url: str
    sender: str  # a number, a short code, or an alphanumeric sender id
    account: str  # the account SID, or the Kannel user
    secret: str = field(repr=False)  # the auth token, or the Kannel password
    receipts_url: str | None = None  # where the gateway reports delivery (each send's key is added to it)
    receipts_key: bytes | None = field(default=None, repr=False)  # signs Kannel's report addresses
    max_segments: int = MAX_SEGMENTS
    timeout_s: float = 10.0


class SmsGatewayChannel:
    """The SMS channel over one HTTP gateway; each message is answered on its own."""

    def __init__(self, settings: SmsGatewaySettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: a gateway's acceptance is known only from its answer (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message; an unreachable gateway leaves it, and the rest of the batch, to retry."""
        answers: list[Delivery] = []
        with httpx.Client(timeout=self.settings.timeout_s, transport=self._transport) as client:
            for index, message in enumerate(messages):
                length = measure(message.body)
                if not message.address:
                    answers.append(Delivery(message.send_key, accepted=False, reason="invalid_address",
                                            detail="an SMS needs a phone number"))
                    continue
                if length.segments > self.settings.max_segments:
                    answers.append(Delivery(message.send_key, accepted=False, reason="too_long", detail=(
                        f"{length.segments} segments ({length.units} {length.encoding} units); "
                        f"at most {self.settings.max_segments}")))
                    continue
                try:
                    response = self._send(client, message, unicode=length.encoding == "ucs2")
                except httpx.TransportError as error:
                    answers.extend(Delivery(m.send_key, accepted=False, permanent=False, reason="sms_unavailable",
                                            detail=str(error)[:500]) for m in messages[index:])
                    return answers
                answers.append(self._answer(message.send_key, response))
        return answers

    def _send(self, client: httpx.Client, message: Outbound, *, unicode: bool) -> httpx.Response:
        settings = self.settings
        base = settings.base_url.rstrip("/")
        if settings.shape == "twilio":
            form = {"To": message.address or "", "From": settings.sender, "Body": message.body}
            if settings.receipts_url:  # Twilio signs its callbacks with the auth token: no signature of ours
                form["StatusCallback"] = receipt_url(settings.receipts_url, send_key=message.send_key)
            return client.post(f"{base}/2010-04-01/Accounts/{settings.account}/Messages.json", data=form,
                               auth=(settings.account, settings.secret))
        query = {"username": settings.account, "password": settings.secret, "from": settings.sender,
                 "to": message.address or "", "text": message.body, "charset": "UTF-8",
                 "coding": "2" if unicode else "0"}
        if settings.receipts_url:
            signature = receipt_signature(settings.receipts_key, workspace_id=message.workspace_id,
                                          send_key=message.send_key) if settings.receipts_key else None
            query.update({"dlr-mask": "31", "dlr-url": receipt_url(settings.receipts_url, send_key=message.send_key,
                                                                   signature=signature, kannel=True)})
        return client.get(f"{base}/cgi-bin/sendsms", params=query)

    def _answer(self, send_key: str, response: httpx.Response) -> Delivery:
        """Map the gateway's answer: 2xx accepted, 429 and 5xx retried, any other 4xx refused for good."""
        status = response.status_code
        if 200 <= status < 300:
            return Delivery(send_key, accepted=True)
        reason, detail = f"sms_{status}", response.text[:500]
        wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        if self.settings.shape == "twilio":
            try:
                document = response.json()
            except ValueError:
                document = {}
            if isinstance(document, dict) and isinstance(document.get("code"), int):
                reason, detail = f"twilio_{document['code']}", str(document.get("message", ""))[:500]
                suppress = TWILIO_ADDRESS_ERRORS.get(document["code"], "")
                if suppress:
                    return Delivery(send_key, accepted=False, reason=reason, detail=detail, suppress=suppress)
        return Delivery(send_key, accepted=False, permanent=not (status == 429 or status >= 500), reason=reason,
                        detail=detail, retry_after_s=wait)
