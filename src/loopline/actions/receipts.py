"""Delivery receipts from providers' webhooks: the send's status, the customer's timeline, the list.

Each receipt raises its send's status monotonically (a bounce wins over an earlier or a
later "delivered"), becomes one event on the customer's timeline (named by the send key,
so a redelivered webhook adds nothing: events are unique per message id), and, when it
condemns the address (a hard bounce, a spam complaint, a number that does not exist),
puts the address on the workspace's suppression list so nothing is sent to it again.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from loopline.actions.inbound_sms import InboundRefused, twilio_gateway
from loopline.actions.ingest import IngestPipeline
from loopline.actions.suppression_list import do_suppress_contacts
from loopline.domain.engagement import SEND_KEY
from loopline.domain.identity import filed_as
from loopline.domain.providers import SmsGatewayProvider, parse_provider
from loopline.domain.receipts import (
    EVENTS,
    Receipt,
    ReceiptRejected,
    email_receipts,
    kannel_receipt,
    receipt_signature,
    twilio_receipt,
)
from loopline.domain.sms import twilio_signature
from loopline.domain.suppression_list import SuppressionBatchRejected, SuppressionRejected
from loopline.domain.webhooks import verify_signature
from loopline.services import Services


@dataclass(frozen=True, slots=True)
class ReceiptReport:
    """What a webhook's receipts did: how many named a send of this workspace, how many raised its status."""

    matched: int
    raised: int
    unknown: int

    def as_json(self) -> dict[str, int]:
        """Return the report as the webhook's answer."""
        return {"matched": self.matched, "raised": self.raised, "unknown": self.unknown}


def do_record_receipts(services: Services, pipeline: IngestPipeline | None, *, workspace_id: str,
                       receipts: Sequence[Receipt]) -> ReceiptReport:
    """Apply each receipt to its send, the customer's timeline and the suppression list."""
    matched = raised = unknown = 0
    events = []
    for receipt in receipts:
        target = services.send_ledger.record_receipt(workspace_id=workspace_id, send_key=receipt.send_key,
                                                     status=receipt.status, at=receipt.at)
        if target is None:  # not a send of this workspace: nothing to learn, nothing to reveal
            unknown += 1
            continue
        matched += 1
        raised += target.raised
        name = EVENTS.get((target.channel, receipt.status))
        identity = filed_as(services.lookups.list_identities(workspace_id=workspace_id,
                                                             profile_id=target.profile_id)) if name else None
        if name and identity:
            events.append({"type": "track", "event": name, **identity, "timestamp": receipt.at.isoformat(),
                           "messageId": f"receipt-{receipt.send_key}-{receipt.status}",
                           "properties": {SEND_KEY: receipt.send_key, "channel": target.channel,
                                          "source_id": target.source_id, "status": receipt.status,
                                          "detail": receipt.detail}})
        if receipt.suppress and target.address:
            _suppress(services, workspace_id, target.channel, target.address, receipt)
    if events and pipeline is not None:
        pipeline.record_platform_events(workspace_id=workspace_id, source="delivery", messages=events)
    return ReceiptReport(matched, raised, unknown)


def _suppress(services: Services, workspace_id: str, channel: str, address: str, receipt: Receipt) -> None:
    try:
        do_suppress_contacts(services, workspace_id=workspace_id, entries=[{
            "channel": channel, "address": address, "reason": receipt.suppress, "source": "delivery",
            "note": f"{receipt.status}: {receipt.detail}"[:500]}])
    except (SuppressionRejected, SuppressionBatchRejected):
        return  # an address the list cannot hold: the receipt itself is still recorded


PURPOSE = "sms receipts"


def do_receive_twilio_status(services: Services, pipeline: IngestPipeline | None, *, workspace_id: str,
                             send_key: str, url: str, form: Mapping[str, str], signature: str) -> ReceiptReport:
    """Verify Twilio's status callback (signed over the URL and the form) and record it."""
    _, token = twilio_gateway(services, workspace_id)
    if not signature or not hmac.compare_digest(twilio_signature(token, url, form).encode(), signature.encode()):
        raise InboundRefused(401, "bad_signature", "the webhook's signature does not verify")
    receipt = twilio_receipt(send_key, form, at=services.clock.now())
    return do_record_receipts(services, pipeline, workspace_id=workspace_id, receipts=[receipt] if receipt else [])


def do_receive_kannel_report(services: Services, pipeline: IngestPipeline | None, *, workspace_id: str,
                             send_key: str, status: str, signature: str) -> ReceiptReport:
    """Verify a Kannel delivery report (its address carries our signature of the send) and record it."""
    row = services.providers.get(workspace_id=workspace_id, channel="sms")
    provider = parse_provider(row.settings) if row is not None else None
    if not isinstance(provider, SmsGatewayProvider) or provider.shape != "kannel":
        raise InboundRefused(404, "no_receipts_hook", "no delivery report hook here")
    expected = receipt_signature(services.secrets.signing_key(PURPOSE), workspace_id=workspace_id, send_key=send_key)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InboundRefused(401, "bad_signature", "the report's signature does not verify")
    receipt = kannel_receipt(send_key, status, at=services.clock.now())
    return do_record_receipts(services, pipeline, workspace_id=workspace_id, receipts=[receipt] if receipt else [])


def do_receive_email_events(services: Services, pipeline: IngestPipeline | None, *, workspace_id: str,
                            headers: Mapping[str, str], body: bytes) -> ReceiptReport:
    """Verify an email events webhook (Standard Webhooks, signed with the relay's ``events_secret``) and record it.

    The raw body is what is verified: a body re-serialised on the way fails.
    """
    row = services.providers.get(workspace_id=workspace_id, channel="email")
    secret = services.secrets.open(row.sealed).get("events_secret") if row is not None else None
    if row is None or not secret:
        raise InboundRefused(404, "no_receipts_hook", "no email events hook here")
    now = services.clock.now()
    if not verify_signature(str(secret), headers, body, now):
        raise InboundRefused(401, "bad_signature", "the webhook's signature does not verify, or it is too old")
    try:
        document = orjson.loads(body)
        receipts = email_receipts(document, at=now)
    except orjson.JSONDecodeError:
        raise InboundRefused(400, "invalid_json", "the body is not JSON") from None
    except ReceiptRejected as error:
        raise InboundRefused(400, "invalid_events", str(error)) from None
    return do_record_receipts(services, pipeline, workspace_id=workspace_id, receipts=receipts)
