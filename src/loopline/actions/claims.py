"""Deciding and recording one intended message inside an open claim (campaigns, journeys, test sends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopline.domain.recipients import Intent, Outcome, Rules, choose
from loopline.domain.send_ledger import SendState
from loopline.domain.templates import RenderFailed
from loopline.store.sql.send_ledger import Claim

Render = Callable[[str], dict[str, Any]]
"""Builds the message for a channel; raises RenderFailed when it cannot."""


@dataclass(frozen=True, slots=True)
class LedgerSource:
    """Who sends: a campaign run, a journey step, or a test send."""

    kind: str
    id: str
    occurrence: str
    step: str = ""


def decide_and_record(
    claim: Claim, *, source: LedgerSource, intent: Intent, variant: str | None, render: Render, rules: Rules,
    now: datetime,
) -> SendState | None:
    """Decide an intent for its customer, build the message if it goes out, and record the row.

    Returns the state recorded, or None when the key was already claimed (a resume, a
    second scheduler, a redelivered trigger) or the customer no longer exists.
    """
    recipient = claim.recipients.get(intent.profile_id)
    if intent.send_key in claim.existing or recipient is None:
        return None
    outcome = choose(intent, recipient.contact, history=claim.history.get(intent.profile_id, []), rules=rules,
                     now=now)
    state, payload, reason, detail = SendState.SKIPPED, None, outcome.reason, outcome.detail
    if outcome.queued:
        try:
            payload, state = render(outcome.channel), SendState.QUEUED
        except RenderFailed as error:
            state, reason, detail = SendState.FAILED, error.reason, error.message
    if outcome.displaces is not None and state == SendState.QUEUED:
        claim.displace(waiting_key=outcome.displaces, by=intent.send_key, profile_id=intent.profile_id)
    claim.record(ledger_row(source, intent, outcome, state=state, reason=reason, detail=detail, payload=payload,
                            variant=variant, now=now))
    return state


def ledger_row(
    source: LedgerSource, intent: Intent, outcome: Outcome, *, state: SendState, reason: str, detail: str,
    payload: dict[str, Any] | None, variant: str | None, now: datetime,
) -> dict[str, Any]:
    """Return one ledger row as the claim inserts it."""
    return {
        "send_key": intent.send_key, "workspace_id": "", "source_kind": source.kind, "source_id": source.id,
        "step": source.step, "occurrence": source.occurrence, "profile_id": intent.profile_id,
        "channel": outcome.channel, "address": outcome.address if state == SendState.QUEUED else None,
        "variant": variant, "priority": str(intent.priority), "rank": intent.rank, "topic": intent.topic,
        "offer": intent.offer,
        "state": str(state), "reason": reason, "detail": detail[:500],
        # A queued send always has a time it is due from (the claim's, unless deferred): the
        # hand-over reads due sends as one index range, past everything deferred.
        "not_before": (outcome.not_before or now) if state == SendState.QUEUED else None,
        "expires_at": intent.expires_at,
        "payload": payload, "attempts": 0, "created_at": now, "updated_at": now, "sent_at": None,
    }
