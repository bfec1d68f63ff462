"""Handing claimed sends to their channels, and settling hand-offs whose answer was lost.

A due send is moved to ``sending`` (so no other worker takes it), checked once more against
consent and the suppression list (an unsubscribe while it waited wins), handed to its
channel with its send key as the idempotency key, and settled as sent, failed (for good)
or queued again (a retryable refusal, after a backoff). Just before a channel is called its
sends are marked handed over. A worker that dies leaves its sends in ``sending``; after a
while those it never marked are queued again (nothing left the platform), and those it did
become ``unknown`` and the reconciler asks the channel: received means sent, not received
means queued again, and "cannot tell" means failed — never a blind resend.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random

from loopline.actions.contact_policy import get_policy, rules_for
from loopline.actions.providers import channel_for, delivery_rate
from loopline.actions.suppression_list import do_suppress_contacts
from loopline.actions.tracking import LinkTracker
from loopline.actions.unsubscribe import Unsubscriber
from loopline.domain.contact_policy import Priority
from loopline.domain.ratelimit import TokenBucket
from loopline.domain.recipients import recheck
from loopline.domain.retries import retry_delay
from loopline.domain.send_ledger import SendState
from loopline.domain.suppression_list import SuppressionBatchRejected, SuppressionRejected
from loopline.ports import Delivery, Outbound
from loopline.services import Services
from loopline.store.secret_box import SecretsUnreadable
from loopline.store.sql.send_ledger import Due

MAX_ATTEMPTS = 5
_BUCKETS: dict[tuple[str, str], TokenBucket] = {}  # (workspace, channel) → its provider's rate
_BUCKETS_LOCK = threading.Lock()
# A push service's answer for an uninstalled app (APNs 410, FCM UNREGISTERED): a reason, not a secret.
TOKEN_GONE = "token_unregistered"  # noqa: S105
# A send claimed this recently is handed over on its claim's own consent and suppression
# checks: reading them again a moment later costs a query per batch and closes no real gap
# (an opt-out may as well land during the channel call). Sends that waited are re-checked.
FRESH = timedelta(seconds=30)
Settled = tuple[str, SendState, str, str]


@dataclass(slots=True)
class HandOver:
    """How each handed-over send ended, and when the ones to retry may go again."""

    outcomes: list[Settled] = field(default_factory=list)
    retry_at: dict[str, datetime] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # kept back by a provider's rate: not an attempt


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one hand-off round did."""

    taken: int
    sent: int
    failed: int
    skipped: int
    retried: int


def do_deliver_due(services: Services, *, now: datetime, limit: int = 1_000) -> DeliveryReport:
    """Hand over up to ``limit`` due sends and record the answers."""
    due = services.send_ledger.take_due(now=now, limit=limit)
    handed = hand_over(services, due, now=now)
    outcomes = handed.outcomes
    if outcomes:
        services.send_ledger.settle(outcomes=outcomes, now=now, retry_at=handed.retry_at, held=handed.held)
    counts = defaultdict(int, {state: sum(1 for o in outcomes if o[1] == state) for state in SendState})
    return DeliveryReport(len(due), counts[SendState.SENT], counts[SendState.FAILED], counts[SendState.SKIPPED],
                          counts[SendState.QUEUED])


def do_hand_over_taken(services: Services, taken: Sequence[Due], *, now: datetime) -> int:
    """Hand over sends a claim took for itself (stored as ``sending``) and record the answers; return how many went."""
    if not taken:
        return 0
    handed = hand_over(services, taken, now=now)
    services.send_ledger.settle(outcomes=handed.outcomes, now=now, retry_at=handed.retry_at, held=handed.held)
    return sum(1 for outcome in handed.outcomes if outcome[1] == SendState.SENT)


def hand_over(services: Services, due: Sequence[Due], *, now: datetime, rng: Random | None = None) -> HandOver:
    """Check each send once more, give the rest to their channels, and return how each one ended."""
    handed = HandOver()
    outcomes = handed.outcomes
    rng = rng or Random()  # noqa: S311 - jitter spreads retries apart; it guards nothing
    ready: dict[tuple[str, str], list[Outbound]] = defaultdict(list)  # by (workspace, channel)
    unsubscribe_links = Unsubscriber(services)
    tracker = LinkTracker(services, due, now=now)  # click and open tracking (see actions/tracking.py)
    for workspace_id, rows in _by_workspace(due).items():
        refusals = _recheck(services, workspace_id, [row for row in rows if now - row.claimed_at > FRESH])
        for row in rows:
            if row.expires_at is not None and row.expires_at <= now:
                expired = f"expired at {row.expires_at.isoformat()}"
                outcomes.append((row.send_key, SendState.SKIPPED, "expired", expired))
                continue
            if row.send_key in refusals:
                outcomes.append((row.send_key, SendState.SKIPPED, *refusals[row.send_key]))
                continue
            payload = tracker.track(row)
            ready[(row.workspace_id, row.channel)].append(Outbound(
                row.send_key, row.workspace_id, row.source_id, row.profile_id, row.channel, row.address,
                payload.get("subject"), str(payload.get("body", "")), payload.get("url"), payload.get("options"),
                unsubscribe_links.url_for(workspace_id=row.workspace_id, profile_id=row.profile_id, channel=row.channel,
                              topic=row.topic, priority=row.priority, send_key=row.send_key),
            ))
    tracker.save()
    attempts = {row.send_key: row.attempts for row in due}
    for (workspace_id, channel), waiting in ready.items():
        messages = _within_rate(services, handed, (workspace_id, channel), waiting, now=now)
        if not messages:
            continue
        answers = _deliver(services, workspace_id, channel, messages, now=now)
        _suppress_refused(services, workspace_id, messages, answers)
        for answer in answers:
            if answer.accepted:
                outcomes.append((answer.send_key, SendState.SENT, "", ""))
            elif answer.permanent or attempts[answer.send_key] >= MAX_ATTEMPTS:
                outcomes.append((answer.send_key, SendState.FAILED, answer.reason or "rejected", answer.detail))
            else:
                outcomes.append((answer.send_key, SendState.QUEUED, answer.reason or "retry", answer.detail))
                handed.retry_at[answer.send_key] = now + retry_delay(
                    attempts[answer.send_key], retry_after_s=answer.retry_after_s, jitter=rng.random())
    return handed


def _deliver(services: Services, workspace_id: str, channel: str, messages: list[Outbound], *,
             now: datetime) -> list[Delivery]:
    """Give messages to the workspace's provider for the channel and return its answers."""
    try:
        carrier = channel_for(services, workspace_id=workspace_id, channel=channel)
    except (ValueError, SecretsUnreadable) as error:
        # A provider that cannot be built (credentials sealed with another key, a setting
        # the channel refuses) sends nothing: the messages wait for it to be fixed.
        return [Delivery(m.send_key, accepted=False, permanent=False, reason="provider_unusable",
                         detail=str(error)[:500]) for m in messages]
    if not getattr(carrier, "keeps_one_per_send_key", False):
        # A channel that keeps one message per send key (the sandbox) may be handed a send
        # again after a crash at no cost: its sends need no mark, and simply go again.
        services.send_ledger.mark_handed(send_keys=[m.send_key for m in messages], now=now)
    return carrier.deliver(messages)


def _within_rate(services: Services, handed: HandOver, key: tuple[str, str], messages: list[Outbound], *,
                 now: datetime) -> list[Outbound]:
    """Return the messages the provider's rate allows now; queue the rest again, spread over the next seconds.

    The bucket lives in this process: with several workers each keeps the rate, so a shared
    limit is the rate divided among them (or a shared limiter, when workers scale out).
    """
    workspace_id, channel = key
    rate = delivery_rate(services, workspace_id=workspace_id, channel=channel)
    if rate is None:
        return messages
    clock = now.timestamp()
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get((workspace_id, channel))
        if bucket is None or bucket.rate != rate:
            bucket = _BUCKETS[(workspace_id, channel)] = TokenBucket(rate, max(1.0, rate), max(1.0, rate), clock)
        allowed = min(len(messages), int(bucket.available(clock)))
        bucket.take(allowed, clock)
    for index, message in enumerate(messages[allowed:]):
        handed.outcomes.append((message.send_key, SendState.QUEUED, "rate_limited",
                                f"the provider allows {rate:g} messages per second"))
        handed.retry_at[message.send_key] = now + timedelta(seconds=(index + 1) / rate)
        handed.held.add(message.send_key)
    return messages[:allowed]


def _suppress_refused(services: Services, workspace_id: str, messages: Sequence[Outbound],
                      answers: Sequence[Delivery]) -> None:
    """Put the addresses a provider refused for good on the workspace's suppression list (F8).

    One entry at a time: an address the list cannot hold (malformed) must not keep the
    others off it.
    """
    sent_to = {message.send_key: message for message in messages}
    gone = [sent_to[a.send_key].address or "" for a in answers if a.suppress == TOKEN_GONE and a.send_key in sent_to]
    # An uninstalled app's token is also taken off its device; the list entry keeps it
    # unused should the app ever report it again.
    services.profiles.forget_push_tokens(workspace_id=workspace_id, tokens=[token for token in gone if token])
    for answer in answers:
        message = sent_to.get(answer.send_key)
        if not answer.suppress or message is None or not message.address:
            continue
        try:
            do_suppress_contacts(services, workspace_id=workspace_id, entries=[{
                "channel": message.channel, "address": message.address, "reason": answer.suppress,
                "note": f"{answer.reason}: {answer.detail}"[:500], "source": "delivery"}])
        except (SuppressionRejected, SuppressionBatchRejected):
            continue


def _recheck(services: Services, workspace_id: str, rows: Sequence[Due]) -> dict[str, tuple[str, str]]:
    """Return why each waiting send may no longer go out (consent withdrawn, address suppressed, person gone)."""
    if not rows:
        return {}
    rules = rules_for(services, workspace_id=workspace_id, policy=get_policy(services, workspace_id=workspace_id))
    with services.engine.connect() as conn:
        recipients = services.send_ledger.contacts.load(conn, workspace_id=workspace_id,
                                                        profile_ids=[r.profile_id for r in rows], with_data=False)
    refusals: dict[str, tuple[str, str]] = {}
    for row in rows:
        recipient = recipients.get(row.profile_id)
        if recipient is None:
            refusals[row.send_key] = ("profile_gone", "the profile was erased or merged")
            continue
        refusal = recheck(recipient.contact, channel=row.channel, address=row.address, topic=row.topic,
                          priority=Priority(row.priority), rules=rules)
        if refusal is not None:
            refusals[row.send_key] = refusal
    return refusals


def _by_workspace(due: Sequence[Due]) -> dict[str, list[Due]]:
    grouped: dict[str, list[Due]] = defaultdict(list)
    for row in due:
        grouped[row.workspace_id].append(row)
    return grouped


def do_reconcile(services: Services, *, now: datetime, limit: int = 1_000) -> tuple[int, int]:
    """Settle hand-offs with no recorded answer by asking the channel; return (sent, queued again)."""
    services.send_ledger.mark_stale_unknown(
        older_than=now - timedelta(seconds=services.settings.send_unknown_after_s), now=now)
    unknown = services.send_ledger.list_unknown(limit=limit)
    by_channel: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, workspace_id, channel in unknown:
        by_channel[(workspace_id, channel)].append(key)
    received: set[str] = set()
    unknowable: set[str] = set()
    for (workspace_id, channel), keys in by_channel.items():
        answer = channel_for(services, workspace_id=workspace_id, channel=channel).received(keys)
        if answer is None:
            unknowable.update(keys)
        else:
            received |= answer
    # A channel that cannot be asked may have delivered the message: sending it again could
    # reach the customer twice, so it ends as failed, with the reason, and is never resent.
    services.send_ledger.settle(outcomes=[(key, SendState.SENT, "reconciled", "") for key in sorted(received)] + [
        (key, SendState.FAILED, "outcome_unknown",
         "the channel cannot tell whether it received this message; it is not sent again")
        for key in sorted(unknowable)], now=now)
    lost = [key for key, _, _ in unknown if key not in received and key not in unknowable]
    services.send_ledger.requeue(send_keys=lost, now=now)
    return len(received), len(lost)
