"""Read the 360° view of a profile, and record consent choices."""

from __future__ import annotations

from collections import deque
from typing import Any

from loopline.actions.suppression_list import profile_suppressions
from loopline.domain import commerce
from loopline.domain.consent import ALL_TOPICS, check_choice
from loopline.domain.events import EventRecord
from loopline.domain.profiles import Profile
from loopline.services import Services

RECENT_EVENTS = 50
TRANSACTIONS = 200


class ProfileNotFound(LookupError):
    """No profile of this workspace matches the reference."""


def event_json(record: EventRecord) -> dict[str, Any]:
    """Return an event as the API shows it."""
    return {
        "messageId": record.message_id,
        "type": record.type,
        "event": record.event,
        "userId": record.user_id,
        "anonymousId": record.anonymous_id,
        "timestamp": record.timestamp.isoformat(),
        "receivedAt": record.received_at.isoformat(),
        "timestampFlag": record.timestamp_flag,
        "properties": record.properties,
        "traits": record.traits,
        "context": record.context,
    }


def transaction_json(record: EventRecord) -> dict[str, Any]:
    """Return an order, cancellation, refund or return as the transaction history shows it."""
    props = record.properties
    amount = (
        commerce.returned_value(props)
        if record.event == commerce.PRODUCT_RETURNED
        else commerce.order_value(props)
    )
    return {
        "kind": record.event,
        "order_id": props.get("order_id"),
        "amount": round(amount, 2),
        "currency": props.get("currency"),
        "timestamp": record.timestamp.isoformat(),
        "messageId": record.message_id,
    }


def find_profile(services: Services, *, workspace_id: str, reference: str) -> Profile:
    """Return a live profile by any identifier, or raise ProfileNotFound."""
    profile = services.lookups.find_profile(workspace_id=workspace_id, reference=reference)
    if profile is None:
        raise ProfileNotFound(reference)
    return profile


def get_profile_view(services: Services, *, workspace_id: str, reference: str) -> dict[str, Any]:
    """Return traits, identities, devices, consents, suppressions, computed properties and recent events."""
    profile = find_profile(services, workspace_id=workspace_id, reference=reference)
    identities = services.lookups.list_identities(
        workspace_id=workspace_id, profile_id=profile.profile_id
    )
    # One pass over the person's history yields both the transactions and the most
    # recent events (oldest first, so the deque ends with the newest).
    recent: deque[EventRecord] = deque(maxlen=RECENT_EVENTS)
    transactions = []
    for record in services.events.iter_for_identifiers(
        workspace_id=workspace_id, identifiers=[i for i in identities if i[0] in ("user_id", "anonymous_id")]
    ):
        recent.append(record)
        if record.type == "track" and record.event in commerce.TRANSACTION_EVENTS:
            transactions.append(transaction_json(record))
    devices = services.lookups.list_devices(workspace_id=workspace_id, profile_id=profile.profile_id)
    return {
        "id": profile.profile_id,
        "traits": profile.traits,
        "identities": [{"kind": k, "value": v} for k, v in identities],
        "devices": devices,
        "consents": services.lookups.list_consents(workspace_id=workspace_id, profile_id=profile.profile_id),
        "suppressions": profile_suppressions(
            services, workspace_id=workspace_id, identities=identities, devices=devices
        ),
        "computed": profile.computed.as_json(),
        "merges": services.lookups.list_merges(workspace_id=workspace_id, profile_id=profile.profile_id),
        "transactions": transactions[::-1][:TRANSACTIONS],
        "recent_events": [event_json(r) for r in reversed(recent)],
    }


def do_update_consents(
    services: Services, *, workspace_id: str, reference: str, choices: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Validate and record consent choices for a profile; return its consents afterwards."""
    profile = find_profile(services, workspace_id=workspace_id, reference=reference)
    checked = [check_choice(choice) for choice in choices]
    now = services.clock.now()
    services.privacy.set_consents(workspace_id=workspace_id, profile_id=profile.profile_id, choices=checked, now=now)
    # An opt-out wins over what already waits in the queue for that channel (and topic).
    for choice in checked:
        if choice["status"] == "opted_out":
            services.send_ledger.skip_pending(
                workspace_id=workspace_id, profile_id=profile.profile_id, channel=choice["channel"],
                topic=None if choice["topic"] == ALL_TOPICS else choice["topic"], reason="unsubscribed", now=now)
    return services.lookups.list_consents(workspace_id=workspace_id, profile_id=profile.profile_id)
