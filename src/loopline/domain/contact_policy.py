"""The contact policy: whether one more message may reach a customer now, later, or not at all.

One policy governs every campaign and journey of a workspace, so a customer's attention is
rationed in one place ("penetration control"). The decision here is pure: it is given the
message, what the customer already received (from the send ledger), the customer's time
zone and the clock, and answers send, defer (until when, by when at the latest) or skip
(with a reason a person can read back). The ledger records the answer; claiming the send
and checking the caps happen in one transaction around it.

- **Priority classes.** Service and transactional messages (a password reset, an order
  confirmation, a low-balance alert) bypass marketing caps and quiet hours; consent and
  suppression are checked by the caller for every class.
- **Frequency caps** count earlier *marketing* sends in a sliding window: across all
  channels, per channel, or per campaign. A capped message is skipped, or deferred until
  the oldest counted send leaves the window, if that comes before the message expires.
- **Quiet hours** hold marketing messages on the listed channels while it is night where the
  customer is, and defer them to the end of the quiet period (local wall-clock time, DST
  included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo


class Priority(StrEnum):
    """How a message ranks against the policy."""

    SERVICE = "service"
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


BYPASSES_POLICY = frozenset({Priority.SERVICE, Priority.TRANSACTIONAL})


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` marketing messages per ``window``, on one channel or all, per campaign or in all."""

    limit: int
    window: timedelta
    channel: str | None = None
    per_campaign: bool = False

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window <= timedelta(0):
            raise ValueError("a cap needs a limit of 0 or more and a positive window")

    def describe(self) -> str:
        """Return the cap in words, for skip reasons and the console."""
        scope = f"{self.channel} " if self.channel else ""
        scope += "messages of one campaign" if self.per_campaign else "marketing messages"
        return f"at most {self.limit} {scope} per {_duration(self.window)}"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local night hours (``start`` to ``end``, across midnight when ``end`` ≤ ``start``) on some channels."""

    start: time
    end: time
    channels: frozenset[str]

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")

    def holds(self, local: time) -> bool:
        """Return whether a local time of day falls inside the quiet hours."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True)
class Policy:
    """A workspace's contact policy."""

    caps: tuple[Cap, ...] = ()
    quiet_hours: QuietHours | None = None
    defer_when_capped: bool = False
    default_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Message:
    """The message asking to go out."""

    channel: str
    priority: Priority
    campaign_id: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """A message the customer already received (or that is queued to them)."""

    at: datetime
    channel: str
    priority: Priority
    campaign_id: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Send now, defer until ``until`` (reason given), or skip (reason given)."""

    action: str
    reason: str = ""
    until: datetime | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def send(self) -> bool:
        """Return whether the message goes out now."""
        return self.action == "send"


SEND = Decision("send")


def decide(
    message: Message, *, history: list[Sent], policy: Policy, time_zone: str | None, now: datetime,
) -> Decision:
    """Return what the policy says about ``message`` at ``now`` for a customer with this history."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if message.expires_at is not None and message.expires_at <= now:
        return Decision("skip", "expired", details={"expired_at": message.expires_at.isoformat()})
    if message.priority in BYPASSES_POLICY:
        return SEND
    opens, reason = now, ""
    for cap in policy.caps:
        if cap.channel is not None and cap.channel != message.channel:
            continue  # a cap on another channel says nothing about this one
        counted = sorted(sent.at for sent in history if _counts(cap, sent, message, now))
        if len(counted) < cap.limit:
            continue
        if not policy.defer_when_capped or cap.limit == 0:
            return Decision("skip", "frequency_cap", details={"cap": cap.describe()})
        # The window opens again when enough of the counted sends have aged out of it.
        reopens = counted[len(counted) - cap.limit] + cap.window
        if reopens > opens:
            opens, reason = reopens, "frequency_cap"
    quiet = policy.quiet_hours
    if quiet is not None and message.channel in quiet.channels:
        morning = after_quiet_hours(quiet, opens, zone_of(time_zone, policy.default_time_zone))
        if morning > opens:
            opens, reason = morning, "quiet_hours"
    if opens == now:
        return SEND
    if message.expires_at is not None and opens >= message.expires_at:
        return Decision("skip", f"{reason}_until_expiry", details={"opens": opens.isoformat()})
    return Decision("defer", reason, until=opens)


def _counts(cap: Cap, sent: Sent, message: Message, now: datetime) -> bool:
    """Return whether an earlier send counts against ``cap`` for ``message`` at ``now``."""
    if sent.priority is not Priority.MARKETING or not now - cap.window < sent.at <= now:
        return False
    if cap.channel is not None and sent.channel != cap.channel:
        return False
    return not cap.per_campaign or sent.campaign_id == message.campaign_id


def check_zone(name: str) -> str:
    """Return an IANA time zone name unchanged, or raise ValueError saying what is expected."""
    try:
        ZoneInfo(name)
    except (LookupError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """Return the named time zone, or ``default`` when the name is missing, unknown or malformed."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(default)
    except (ValueError, LookupError):
        return ZoneInfo(default)


def after_quiet_hours(quiet: QuietHours, moment: datetime, zone: ZoneInfo) -> datetime:
    """Return ``moment`` if it lies outside the quiet hours where the customer is, else when they end.

    Remembered: a batch asks with one moment for customers in a handful of time zones. The
    moment's own zone is part of the question, so the answer is written in it as asked.
    """
    return _after_quiet_hours(quiet, moment, moment.tzinfo, zone)


@lru_cache(maxsize=4_096)
def _after_quiet_hours(quiet: QuietHours, moment: datetime, _written_in: tzinfo | None, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if not quiet.holds(local.time()):
        return moment
    day = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
    # A wall-clock end that a DST change skips (02:30 on a spring-forward night) resolves
    # with the offset before the change, so it lands as far past the jump as it lay into it.
    end = datetime.combine(day, quiet.end, tzinfo=zone).astimezone(UTC)
    return max(end, moment)


def _duration(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        days = window // timedelta(days=1)
        return "day" if days == 1 else f"{days} days"
    hours = window / timedelta(hours=1)
    return "hour" if hours == 1 else f"{hours:g} hours"
