"""Recipients: whether one customer may get one message, on which channel, and if not, why.

This is the pure part of a claim. It is given what the platform knows about the customer
(addresses, consents, suppressed addresses, time zone), what they already received (from
the ledger, inside the claiming transaction) and the workspace's contact policy, and returns
one outcome per intended message: queue it (now, or not before some time), or skip it with
a reason a person can read back from the "why" API.

Order of checks, each recorded as the reason when it stops a message:
control group → channel (reachable, consented, not suppressed, by the fallback order) →
same offer already on another channel → the contact policy (caps, quiet hours, expiry).
Service and transactional messages need no marketing consent, but a channel the customer
opted out of entirely (topic ``all``) and a suppressed address stop them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loopline.domain.consent import ALL_TOPICS
from loopline.domain.contact_policy import BYPASSES_POLICY, Decision, Message, Policy, Priority, Sent, decide

# Marketing on these channels needs an explicit opt-in by default (GDPR, German UWG §7):
# email and SMS. Push and web push had the device's own permission prompt; in-app messages
# reach someone using the app. Each workspace can change it.
DEFAULT_OPT_IN_CHANNELS = frozenset({"email", "sms"})


def time_zone_of(traits: Mapping[str, Any], computed: Mapping[str, Any]) -> str | None:
    """Return the customer's time zone: one they set (a trait) beats the one their last location implied."""
    for name in ("timezone", "time_zone"):
        if isinstance(traits.get(name), str):
            return str(traits[name])
    location = computed.get("location") or {}
    zone = location.get("time_zone") if isinstance(location, Mapping) else None
    return zone if isinstance(zone, str) else None


@dataclass(frozen=True, slots=True)
class Contact:
    """What the claim needs to know about one customer."""

    profile_id: str
    addresses: Mapping[str, Sequence[str]]  # channel → addresses (normalised), push tokens, or the profile for in-app
    consents: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (channel, topic) → opted_in / opted_out
    suppressed: frozenset[tuple[str, str]] = frozenset()  # (channel, address)
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """One message a campaign or journey wants to send to one customer."""

    send_key: str
    profile_id: str
    channels: tuple[str, ...]  # in fallback order; with ``every_channel`` each reachable one gets a row
    priority: Priority
    sender_id: str  # the campaign or journey: caps per campaign count by it
    topic: str = ALL_TOPICS
    offer: str | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    held_out: str | None = None  # "control_group" or "global_control_group" when the customer is held out
    rank: int = 5  # among marketing messages: a higher rank takes a full cap's place from a lower one still waiting


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the claim records for an intent: queued on a channel, or skipped with a reason."""

    send_key: str
    profile_id: str
    channel: str
    queued: bool
    reason: str = ""
    detail: str = ""
    not_before: datetime | None = None
    address: str | None = None
    displaces: str | None = None  # the send key of a waiting lower-ranked message whose place this one takes


@dataclass(frozen=True, slots=True)
class Rules:
    """The contact policy plus the rules that sit beside it."""

    policy: Policy = field(default_factory=Policy)
    opt_in_channels: frozenset[str] = DEFAULT_OPT_IN_CHANNELS
    offer_window: timedelta = timedelta(days=1)
    # Topics of the catalogue nobody is subscribed to by default: each needs its own opt-in.
    opt_in_topics: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Earlier:
    """A send from the ledger that the policy counts (queued, sending, sent or unknown)."""

    sent: Sent
    offer: str | None = None
    rank: int = 5
    waiting_key: str | None = None  # its send key while it still waits to go out (queued), else None


def choose(intent: Intent, contact: Contact, *, history: Sequence[Earlier], rules: Rules, now: datetime) -> Outcome:
    """Return the outcome of one intent for one customer, given their history."""
    first = intent.channels[0]
    if intent.held_out:
        return _skip(intent, first, intent.held_out, "held out so the campaign's effect can be measured")
    channel, address, refusal = _pick_channel(intent, contact, rules)
    if channel is None:
        return _skip(intent, first, refusal[0], refusal[1])
    if intent.offer and intent.priority not in BYPASSES_POLICY:
        since = now - rules.offer_window
        for earlier in history:
            if earlier.offer == intent.offer and earlier.sent.at > since:
                return _skip(intent, channel, "offer_already_sent",
                             f"the same offer went out on {earlier.sent.channel} within {rules.offer_window}")
    moment = max(now, intent.not_before) if intent.not_before else now
    message = Message(channel, intent.priority, intent.sender_id, intent.expires_at)
    decision = decide(message, history=[e.sent for e in history], policy=rules.policy,
                      time_zone=contact.time_zone, now=moment)
    displaced = None
    if decision.reason == "frequency_cap" and decision.action in ("skip", "defer"):
        displaced, decision = _outrank(intent, message, history, rules=rules, time_zone=contact.time_zone,
                                       moment=moment, decision=decision)
    if decision.action == "skip":
        return _skip(intent, channel, decision.reason, "; ".join(f"{k}: {v}" for k, v in decision.details.items()))
    not_before = decision.until if decision.action == "defer" else intent.not_before
    return Outcome(intent.send_key, intent.profile_id, channel, queued=True, reason=decision.reason,
                   not_before=not_before, address=address, displaces=displaced)


def _outrank(
    intent: Intent, message: Message, history: Sequence[Earlier], *, rules: Rules, time_zone: str | None,
    moment: datetime, decision: Decision,
) -> tuple[str | None, Decision]:
    """Try to take a full cap's place from a lower-ranked marketing message that has not gone out yet.

    The lowest-ranked waiting message goes first (the latest of equals); the first whose
    removal lets this message through is displaced. Sent messages are never taken back.
    """
    if intent.priority is not Priority.MARKETING:
        return None, decision
    waiting = sorted((e for e in history if e.waiting_key and e.sent.priority is Priority.MARKETING
                      and e.rank < intent.rank), key=lambda e: (e.rank, -e.sent.at.timestamp()))
    for candidate in waiting:
        rest = [e.sent for e in history if e is not candidate]
        retry = decide(message, history=rest, policy=rules.policy, time_zone=time_zone, now=moment)
        if retry.reason != "frequency_cap" and retry.action != "skip":
            return candidate.waiting_key, retry
    return None, decision


def _skip(intent: Intent, channel: str, reason: str, detail: str) -> Outcome:
    return Outcome(intent.send_key, intent.profile_id, channel, queued=False, reason=reason, detail=detail)


def _pick_channel(intent: Intent, contact: Contact, rules: Rules) -> tuple[str | None, str | None, tuple[str, str]]:
    """Return the first usable channel and address in fallback order, or why none is usable."""
    refusals: list[tuple[str, str]] = []
    for channel in intent.channels:
        usable = [a for a in contact.addresses.get(channel, ()) if (channel, a) not in contact.suppressed]
        if not contact.addresses.get(channel):
            refusals.append(("unreachable", f"no {channel} address"))
        elif not usable:
            refusals.append(("suppressed", f"every {channel} address is on the suppression list"))
        elif (refusal := _consent_refusal(contact, channel, intent.topic, intent.priority, rules)) is not None:
            refusals.append(refusal)
        else:
            return channel, usable[0], ("", "")
    if len(refusals) == 1:
        return None, None, refusals[0]
    # Across channels, the most telling refusal: consent beats suppression beats reachability.
    rank = {"unsubscribed": 0, "no_consent": 1, "suppressed": 2, "unreachable": 3}
    reason = min((r for r, _ in refusals), key=rank.__getitem__)
    return None, None, (reason, "; ".join(detail for _, detail in refusals))


def recheck(
    contact: Contact, *, channel: str, address: str | None, topic: str, priority: Priority, rules: Rules,
) -> tuple[str, str] | None:
    """Return why a queued send may no longer go out (consent withdrawn, address suppressed), or None.

    Run at hand-off: a deferred send waits hours, and an unsubscribe in between must win.
    """
    if address is not None and (channel, address) in contact.suppressed:
        return "suppressed", f"the {channel} address was put on the suppression list"
    if address is not None and address not in contact.addresses.get(channel, ()):
        return "unreachable", f"the {channel} address is no longer the customer's"
    return _consent_refusal(contact, channel, topic, priority, rules)


def _consent_refusal(contact: Contact, channel: str, topic: str, priority: Priority,
                     rules: Rules) -> tuple[str, str] | None:
    """Return why consent stops this message, or None.

    ``unsubscribed``: the customer said no (an unsubscribe link, STOP, a preference centre);
    ``no_consent``: the channel, or the topic, needs an opt-in the customer never gave.
    """
    topic_choice = contact.consents.get((channel, topic))
    channel_choice = contact.consents.get((channel, ALL_TOPICS))
    if topic_choice == "opted_out" or (channel_choice == "opted_out" and topic_choice != "opted_in"):
        scope = f"topic {topic}" if topic_choice == "opted_out" else "every topic"
        return "unsubscribed", f"the customer unsubscribed from {channel} ({scope})"
    if priority in BYPASSES_POLICY:
        return None
    if channel in rules.opt_in_channels and "opted_in" not in (topic_choice, channel_choice):
        return "no_consent", f"no consent (opt-in) for {channel} on topic {topic}"
    if topic in rules.opt_in_topics and topic_choice != "opted_in":
        return "no_consent", f"topic {topic} is sent only to customers who subscribed to it on {channel}"
    return None
