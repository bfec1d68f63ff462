"""An independent computation of segment membership in plain pandas/Python, from docs/segments.md.

It shares nothing with the SQL compiler but the parsed definition, so when an engine and this
oracle disagree, one of them misreads the doc. Where the doc leaves room, the reading taken is:

- Paths walk JSON objects only: ``interests.0`` does not index an array, and a flat key that
  contains a dot (``"address.city"``) is not found by the path ``address.city``.
- ``eq`` / ``in`` compare JSON type and value: numbers by value (3 = 3.0; booleans are not
  numbers), strings exactly, so a date text equals only the same text.
- Ordering with a number operand needs a JSON number; numeric strings and booleans never order.
- A date is a JSON string ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS[.f{1,6}]]`` with ``Z``, ``±HH:MM``
  or no offset (UTC), naming a real calendar day. Spaces instead of ``T``, the basic format,
  numbers (epoch seconds) and "soon" are not dates.
- ``contains``: a string value, compared with ``str.lower()`` on both sides; in an array, a
  string element equal to the operand exactly (case-sensitive).
- ``within_next_days`` / ``within_last_days`` include both ends; ``anniversary_within_next_days``
  takes month and day of the instant in UTC and checks the (month, day) range today … today + N,
  wrapping at the year end. 29 February sorts between 28 February and 1 March, so in a non-leap
  year it matches only when the range holds both; N ≥ 365 matches any date.
- ``performed``, ``engagement`` and named ``inactive`` events match the event name exactly,
  whatever the message type; ``identify`` has no name and is not activity.
- A ``last_days`` window has no upper bound (no event lies after now); a sequence's window
  constrains only the ``first`` event.
- ``sequence``: ``then`` must be strictly later than ``first`` (same timestamp does not follow)
  and at most ``within_minutes`` later (inclusive). ``then_absent``: ``first`` at or before
  now − within_minutes and no ``then`` in (first, first + within_minutes].
- ``inactive``: "known since" is the mart's ``known_since`` column (the dataset keeps it no later
  than the first owned event, so reading it from events agrees); it must be ≤ now − N days and
  no matching event at or after now − N days.
- Devices: "phone or tablet" is platform ``ios`` or ``android``, "web device" is ``web``; other
  platforms count only for ``in_app`` and ``has_push_token`` (any platform). ``ne true`` means
  ``eq false``. A version orders only when every dot-separated part is digits; the first three
  parts count, missing ones are 0 (``5.10`` and ``5.10.0`` order equal, but ``eq`` is textual).
- ``location``: country is the stored text equal to the operand upper-cased; region compares
  ``str.lower()`` of both; postal code must be a string equal exactly; ``near`` needs both
  coordinates as JSON numbers (haversine).
- ``reachable``: suppression entries match on (channel, address) exactly; ``in_app`` has no
  suppressible address (as in ``domain.suppression_list``); one unsuppressed address suffices.
- ``engagement``: the set of event names is deduplicated; a channel without an event for the
  action (SMS ``opened``) counts nothing; ``campaign_id`` is an ``eq`` on the string property.
- ``engagement`` with ``of_last``: the profile's sends with status ``sent``, a sent time, the
  channel (and ``campaign_id``, and a sent time inside the window, when given), newest first by
  (sent time, send key); the first ``of_last`` of them; a send is answered when any event of the
  workspace named for the action on the channel has the send's key as its string ``send_key``
  property, whoever the event belongs to (or nobody). A profile without such sends never matches.
- ``in_segment`` and every other result are limited to the workspace's profiles (a stale member
  row for a deleted profile does not count).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.segments.definition import (
    And,
    Comparison,
    ComputedProperty,
    Count,
    Device,
    Engagement,
    EventStep,
    Inactive,
    InSegment,
    Location,
    Not,
    Operator,
    Or,
    Performed,
    PropertyFilter,
    Reachable,
    SegmentDefinition,
    Sequence,
    Trait,
    Window,
)
from tests.segments.dataset import Dataset

ENGAGEMENT_EVENTS: dict[str, dict[str, str]] = {
    "received": {"email": "Email Delivered", "push": "Push Notification Received", "sms": "SMS Delivered",
                 "in_app": "In-App Message Viewed", "web_push": "Web Push Received"},
    "opened": {"email": "Email Opened", "push": "Push Notification Tapped", "in_app": "In-App Message Viewed",
               "web_push": "Web Push Clicked"},
    "clicked": {"email": "Email Link Clicked", "push": "Push Notification Tapped", "sms": "SMS Link Clicked",
                "in_app": "In-App Message Clicked", "web_push": "Web Push Clicked"},
}
ACTIVITY = frozenset({"track", "page", "screen"})
PURCHASE = "Order Completed"
EARTH_RADIUS_KM = 6371.0088
PHONE_OR_TABLET = frozenset({"ios", "android"})
OPT_IN_CHANNELS = frozenset({"email", "sms"})  # the others need only no opt-out
NEGATIVE = {Operator.NE: Operator.EQ, Operator.NOT_IN: Operator.IN, Operator.NOT_EXISTS: Operator.EXISTS}
ABSENT = object()
_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_DIGITS = re.compile(r"[0-9]+")


# ---------------------------------------------------------------------------------------------
# The workspace's rows, arranged once per dataset for lookups.

@dataclass(frozen=True)
class OwnedEvent:
    """An event with the profile it belongs to."""

    profile: str
    type: str
    name: str | None
    at: datetime
    properties: dict[str, Any]
    source: str = "api"


@dataclass
class _Workspace:
    profiles: set[str]
    traits: dict[str, Any] = field(default_factory=dict)
    computed: dict[str, Any] = field(default_factory=dict)
    known_since: dict[str, datetime] = field(default_factory=dict)
    events: list[OwnedEvent] = field(default_factory=list)
    by_name: dict[str, list[OwnedEvent]] = field(default_factory=lambda: defaultdict(list))
    devices: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    addresses: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    consents: dict[tuple[str, str, str], str] = field(default_factory=dict)
    suppressed: set[tuple[str, str]] = field(default_factory=set)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    sends: list[dict[str, Any]] = field(default_factory=list)
    answered: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # event name → send keys


def owned_events(data: Dataset, workspace_id: str) -> list[OwnedEvent]:
    """Return the workspace's events that belong to a profile, each with its owner."""
    return list(_load(data, workspace_id).events)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _instant(value: Any) -> datetime:
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return moment.astimezone(UTC)


def _records(frame: Any, workspace_id: str) -> list[dict[str, Any]]:
    rows = frame[frame["workspace_id"] == workspace_id].to_dict("records")
    return [{key: None if not isinstance(v, dict | list) and _missing(v) else v for key, v in row.items()}
            for row in rows]


_CACHE: dict[tuple[int, str], tuple[Dataset, _Workspace]] = {}


def _load(data: Dataset, workspace_id: str) -> _Workspace:
    """Return the workspace's rows arranged for lookups (cached per dataset object)."""
    cached = _CACHE.get((id(data), workspace_id))
    if cached is not None and cached[0] is data:
        return cached[1]
    profiles = _records(data.profiles, workspace_id)
    ws = _Workspace(profiles={row["profile_id"] for row in profiles})
    for row in profiles:
        ws.traits[row["profile_id"]] = row["traits"] if isinstance(row["traits"], dict) else {}
        ws.computed[row["profile_id"]] = row["computed"] if isinstance(row["computed"], dict) else {}
        ws.known_since[row["profile_id"]] = _instant(row["known_since"])
    owner: dict[tuple[str, str], str] = {}
    for row in _records(data.identities, workspace_id):
        owner[(row["kind"], row["value"])] = row["profile_id"]
        ws.addresses[(row["profile_id"], row["kind"])].append(row["value"])
    for row in _records(data.events, workspace_id):
        key = row["properties"].get("send_key") if isinstance(row["properties"], dict) else None
        if isinstance(key, str) and row["event"] is not None:  # answers count whoever the event belongs to
            ws.answered[row["event"]].add(key)
        # userId decides when it is known; an absent or unknown one falls back to the anonymousId.
        profile = owner.get(("user_id", row["user_id"])) if row["user_id"] is not None else None
        if profile is None and row["anonymous_id"] is not None:
            profile = owner.get(("anonymous_id", row["anonymous_id"]))
        if profile is None:
            continue  # belongs to nobody
        props = row["properties"] if isinstance(row["properties"], dict) else {}
        event = OwnedEvent(profile, row["type"], row["event"], _instant(row["timestamp"]), props,
                           row.get("source") or "api")
        ws.events.append(event)
        if event.name is not None:
            ws.by_name[event.name].append(event)
    for row in _records(data.devices, workspace_id):
        ws.devices[row["profile_id"]].append(row)
    for row in _records(data.consents, workspace_id):
        ws.consents[(row["profile_id"], row["channel"], row["topic"])] = row["status"]
    ws.suppressed = {(row["channel"], row["address"]) for row in _records(data.suppressions, workspace_id)}
    for row in _records(data.members, workspace_id):
        ws.members[row["segment_id"]].add(row["profile_id"])
    # A send not sent has no sent time (NaT in the frame).
    ws.sends = [{**row, "sent_at": None if row["sent_at"] is None or row["sent_at"] != row["sent_at"]
                 else _instant(row["sent_at"])} for row in _records(data.sends, workspace_id)]
    _CACHE[(id(data), workspace_id)] = (data, ws)
    return ws


# ---------------------------------------------------------------------------------------------
# Values

def walk(document: Any, path: str) -> Any:
    """Return the value at a dotted path through JSON objects, or ABSENT."""
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def _present(value: Any) -> bool:
    return value is not ABSENT and value is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_date(value: Any) -> datetime | None:
    """Return the UTC instant a JSON value names when it is a date (see the module docstring), else None."""
    if not isinstance(value, str):
        return None
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                          int((fraction or "0").ljust(6, "0")), tzinfo=UTC)
    except ValueError:  # no such calendar day or time, e.g. 2026-02-30
        return None
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        moment -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return moment


def version_key(value: Any) -> tuple[int, int, int] | None:
    """Return the first three numeric parts of a version, or None when any part is not a number."""
    if not isinstance(value, str):
        return None
    parts = value.split(".")
    if not all(_DIGITS.fullmatch(part) for part in parts):
        return None
    numbers = [int(part) for part in parts[:3]] + [0, 0, 0]
    return numbers[0], numbers[1], numbers[2]


def _equal(value: Any, operand: Any) -> bool:
    if isinstance(operand, bool):
        return isinstance(value, bool) and value == operand
    if _is_number(operand):
        return _is_number(value) and value == operand
    return isinstance(value, str) and value == operand


def _ordered(value: Any, operand: Any) -> tuple[Any, Any] | None:
    """Return (value, operand) as comparable keys of one kind, or None when they do not order."""
    if _is_number(operand):
        return (value, operand) if _is_number(value) else None
    left, right = parse_date(value), parse_date(operand)
    return (left, right) if left is not None and right is not None else None


def _anniversary(moment: datetime, now: datetime, days: int) -> bool:
    if days >= 365:
        return True
    today = now.astimezone(UTC).date()
    start, end = today, today + timedelta(days=days)
    key, low, high = (moment.month, moment.day), (start.month, start.day), (end.month, end.day)
    return low <= key <= high if low <= high else key >= low or key <= high


def compare(value: Any, comparison: Comparison, now: datetime, *, key: Any = _ordered) -> bool:
    """Return whether a comparison holds for one value (``ABSENT`` when the path is missing).

    ``key`` turns (value, operand) into comparable keys for the ordering operators, or None."""
    op = comparison.operator
    if op in NEGATIVE:  # the complement of the positive operator: a missing value matches
        return not positive(value, NEGATIVE[op], comparison, now, key)
    return positive(value, op, comparison, now, key)


def positive(value: Any, op: Operator, comparison: Comparison, now: datetime, key: Any) -> bool:
    """Return whether a non-negative operator holds for one value."""
    if op is Operator.EXISTS:
        return _present(value)
    if op is Operator.EQ:
        return _equal(value, comparison.value)
    if op is Operator.IN:
        return any(_equal(value, operand) for operand in comparison.values or ())
    if op is Operator.CONTAINS:
        operand = str(comparison.value)
        if isinstance(value, str):
            return operand.lower() in value.lower()
        return isinstance(value, list) and any(isinstance(item, str) and item == operand for item in value)
    if op is Operator.BETWEEN:
        low, high = key(value, comparison.low), key(value, comparison.high)
        return low is not None and high is not None and low[1] <= low[0] and high[0] <= high[1]
    if op in (Operator.LT, Operator.LTE, Operator.GT, Operator.GTE):
        pair = key(value, comparison.value)
        if pair is None:
            return False
        left, right = pair
        return {Operator.LT: left < right, Operator.LTE: left <= right, Operator.GT: left > right,
                Operator.GTE: left >= right}[op]
    moment = parse_date(value)
    if moment is None or comparison.days is None:
        return False
    span = timedelta(days=comparison.days)
    if op is Operator.WITHIN_NEXT_DAYS:
        return now <= moment <= now + span
    if op is Operator.WITHIN_LAST_DAYS:
        return now - span <= moment <= now
    return _anniversary(moment, now, comparison.days)


def _versions(value: Any, operand: Any) -> tuple[Any, Any] | None:
    left, right = version_key(value), version_key(operand)
    return (left, right) if left is not None and right is not None else None


# ---------------------------------------------------------------------------------------------
# Conditions

def evaluate(definition: SegmentDefinition, data: Dataset, *, workspace_id: str, now: datetime) -> set[str]:
    """Return the ids of the workspace's profiles that the segment holds for at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    ws = _load(data, workspace_id)
    return _holds(definition.condition, ws, now.astimezone(UTC)) & ws.profiles


def _holds(condition: Any, ws: _Workspace, now: datetime) -> set[str]:
    if isinstance(condition, And):
        return set.intersection(*(_holds(child, ws, now) for child in condition.conditions))
    if isinstance(condition, Or):
        return set.union(*(_holds(child, ws, now) for child in condition.conditions))
    if isinstance(condition, Not):
        return ws.profiles - _holds(condition.condition, ws, now)
    if isinstance(condition, Trait):
        return {p for p in ws.profiles if compare(walk(ws.traits[p], condition.trait), condition, now)}
    if isinstance(condition, ComputedProperty):
        return {p for p in ws.profiles if compare(walk(ws.computed[p], condition.property), condition, now)}
    if isinstance(condition, Performed):
        counts = _count(ws, {condition.event}, condition.where, condition.window, now)
        return {p for p in ws.profiles if _enough(counts[p], condition.count)}
    if isinstance(condition, Engagement):
        return _engagement(condition, ws, now)
    if isinstance(condition, Sequence):
        return _sequence(condition, ws, now)
    if isinstance(condition, Inactive):
        return _inactive(condition, ws, now)
    if isinstance(condition, Device):
        return _device(condition, ws, now)
    if isinstance(condition, Location):
        return {p for p in ws.profiles if _located(ws.computed[p].get("location"), condition)}
    if isinstance(condition, Reachable):
        return {p for p in ws.profiles if _reachable(p, condition, ws)}
    if isinstance(condition, InSegment):
        return ws.members.get(condition.segment_id, set()) & ws.profiles
    raise TypeError(f"unknown condition {type(condition).__name__}")


def _in_window(at: datetime, window: Window | None, now: datetime) -> bool:
    if window is None:
        return True
    if window.last_days is not None:
        return at >= now - timedelta(days=window.last_days)
    return (window.since is None or at >= window.since) and (window.until is None or at < window.until)


def _matches(event: OwnedEvent, where: list[PropertyFilter], now: datetime) -> bool:
    return all(compare(walk(event.properties, f.property), f, now) for f in where)


def _count(ws: _Workspace, names: set[str], where: list[PropertyFilter], window: Window | None,
           now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name in names:
        for event in ws.by_name.get(name, ()):
            if _in_window(event.at, window, now) and _matches(event, where, now):
                counts[event.profile] += 1
    return counts


def _enough(number: int, count: Count) -> bool:
    if count.operator == "at_least":
        return number >= count.value
    if count.operator == "at_most":
        return number <= count.value
    return number == count.value


def _engagement(condition: Engagement, ws: _Workspace, now: datetime) -> set[str]:
    if condition.of_last is not None:
        return _last_messages(condition, ws, now)
    by_channel = ENGAGEMENT_EVENTS[condition.action]
    if condition.channel is None:
        names = set(by_channel.values())
    else:
        names = {by_channel[condition.channel]} if condition.channel in by_channel else set()
    where = []
    if condition.campaign_id is not None:
        where = [PropertyFilter(property="campaign_id", operator=Operator.EQ, value=condition.campaign_id)]
    counts = _count(ws, names, where, condition.window, now)
    return {p for p in ws.profiles if _enough(counts[p], condition.count)}


def _last_messages(condition: Engagement, ws: _Workspace, now: datetime) -> set[str]:
    name = ENGAGEMENT_EVENTS[condition.action].get(str(condition.channel))
    answered = ws.answered.get(name, set()) if name is not None else set()
    sent: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in ws.sends:
        if (row["status"] == "sent" and row["sent_at"] is not None and row["channel"] == condition.channel
                and (condition.campaign_id is None or row["campaign_id"] == condition.campaign_id)
                and _in_window(row["sent_at"], condition.window, now)):
            sent[row["profile_id"]].append((row["sent_at"], row["send_key"]))
    matched = set()
    for profile, messages in sent.items():
        latest = sorted(messages, reverse=True)[: condition.of_last]
        if _enough(sum(1 for _, key in latest if key in answered), condition.count):
            matched.add(profile)
    return matched & ws.profiles


def _times(ws: _Workspace, step: EventStep, window: Window | None, now: datetime) -> dict[str, list[datetime]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    for event in ws.by_name.get(step.event, ()):
        if _in_window(event.at, window, now) and _matches(event, step.where, now):
            times[event.profile].append(event.at)
    for moments in times.values():
        moments.sort()
    return times


def _sequence(condition: Sequence, ws: _Workspace, now: datetime) -> set[str]:
    firsts = _times(ws, condition.first, condition.window, now)
    thens = _times(ws, condition.then, None, now)
    within = timedelta(minutes=condition.within_minutes)

    def followed(profile: str, first: datetime) -> bool:
        later = thens.get(profile, [])
        index = bisect_right(later, first)  # the first `then` strictly after `first`
        return index < len(later) and later[index] <= first + within

    if condition.then_absent:
        return {p for p, moments in firsts.items()
                if any(first <= now - within and not followed(p, first) for first in moments)}
    return {p for p, moments in firsts.items() if any(followed(p, first) for first in moments)}


def _inactive(condition: Inactive, ws: _Workspace, now: datetime) -> set[str]:
    since = now - timedelta(days=condition.days)
    if condition.activity == "session":
        # The platform's own Segment Entered / Exited events are no activity (docs/segments.md).
        pool: list[OwnedEvent] = [e for e in ws.events if e.type in ACTIVITY and e.source != "segments"]
    else:
        pool = ws.by_name.get(PURCHASE if condition.activity == "purchase" else str(condition.event), [])
    recent = {event.profile for event in pool if event.at >= since}
    return {p for p in ws.profiles if ws.known_since[p] <= since and p not in recent}


def _device(condition: Device, ws: _Workspace, now: datetime) -> set[str]:
    if condition.field == "has_push_token":
        want = condition.value if condition.operator is Operator.EQ else not condition.value
        holders = {p for p, devices in ws.devices.items() if any(d["push_token"] is not None for d in devices)}
        return holders & ws.profiles if want else ws.profiles - holders
    op = condition.operator
    wanted = NEGATIVE.get(op, op)  # ne / not_in / not_exists: no device does the positive
    matched = {p for p, devices in ws.devices.items()
               if any(positive(_text(d[condition.field]), wanted, condition, now, _versions) for d in devices)}
    return ws.profiles - matched if op in NEGATIVE else matched & ws.profiles


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else ABSENT


def _located(location: Any, condition: Location) -> bool:
    if not isinstance(location, dict):
        return False
    if condition.country is not None and location.get("country") != condition.country.upper():
        return False
    if condition.region is not None:
        region = location.get("region")
        if not isinstance(region, str) or region.lower() != condition.region.lower():
            return False
    if condition.postal_code is not None:
        postal = location.get("postal_code")
        if not isinstance(postal, str) or postal != condition.postal_code:
            return False
    if condition.near is not None:
        lat, lon = location.get("latitude"), location.get("longitude")
        if not (_is_number(lat) and _is_number(lon)):
            return False
        return distance_km(lat, lon, condition.near.latitude, condition.near.longitude) <= condition.near.radius_km
    return True


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle (haversine) distance in km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def _reachable(profile: str, condition: Reachable, ws: _Workspace) -> bool:
    channel = condition.channel
    if channel in ("email", "sms"):
        kind = "email" if channel == "email" else "phone"
        addresses = ws.addresses.get((profile, kind), [])
        has_address = any((channel, a) not in ws.suppressed for a in addresses)
    elif channel == "in_app":
        has_address = bool(ws.devices.get(profile))
    else:
        platforms = PHONE_OR_TABLET if channel == "push" else frozenset({"web"})
        tokens = [d["push_token"] for d in ws.devices.get(profile, ()) if d["platform"] in platforms]
        has_address = any(t is not None and (channel, t) not in ws.suppressed for t in tokens)
    if not has_address:
        return False
    status = ws.consents.get((profile, channel, condition.topic)) or ws.consents.get((profile, channel, "all"))
    return status == "opted_in" if channel in OPT_IN_CHANNELS else status != "opted_out"

