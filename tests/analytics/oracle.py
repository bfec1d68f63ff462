"""An independent computation of the analytics reports (docs/analytics.md) in plain Python.

It shares nothing with the SQL report compiler; segment conditions (``filter``) go through the
segment oracle (``tests.segments.oracle``) and event property filters (``where``) through its
``compare``. Where the doc leaves room, the reading taken here is:

Events and users
- An *event* is a ``track``, ``page`` or ``screen`` row of the workspace that belongs to one of the
  workspace's profiles (userId when known, else anonymousId: as for segments) and whose ``source``
  is not ``segments`` (the platform's ``Segment Entered`` / ``Segment Exited`` rows; the same names
  sent through the API are ordinary events). ``identify`` rows and nobody's rows never count.
- ``filter`` is evaluated once, at ``now``, by the segment oracle; ``where`` filters are ANDed and
  apply to every event the report reads, also outside the range: first seen, the WAU/MAU
  look-back and retention activity all see only matching events of matching users. In a funnel
  the common ``where`` applies to every step on top of the step's own ``where``.
- Events are ordered by (timestamp, seq). A day is the UTC date of the timestamp.
- *First seen* is computed over all counted events (any time), independent of ``group_by``.

Grouping
- An event/context dimension splits the events: each group's answer is the report computed over
  the events with that value (sessions are formed from the group's events only; the WAU/MAU
  look-back reads the group's events). Trait and segment dimensions split the users.
  ``retention`` labels a user by their first event (ties in time: lowest seq), ``funnel`` by the
  step-1 event; the retention activity and later funnel steps then use all the user's events.
- Values are text: strings as they are, booleans ``true``/``false``, numbers as JSON text
  (``json.dumps``: 120 → ``120``, 19.99 → ``19.99``; so 19.99 and "19.99" are one group); JSON
  null or a missing path is the group None (JSON null). Objects/arrays (unspecified by the doc)
  are compact JSON; the dataset has none in a grouped dimension.
- A group exists when it has something in the range: a counted event (of ``event`` when the events
  report names one), a cohort member (retention), a step-1 user (funnel). Groups are ranked by the
  report's main count (active_users / new_vs_returning: distinct users active in the range;
  events: ``total``; sessions: ``sessions``; retention: the sum of cohort sizes; funnel: step-1
  users) descending, then by name in code point order (PostgreSQL: ``COLLATE "C"``) with None
  last. The first 20 are answered; ``groups_omitted`` (always present with ``group_by``) counts
  the rest.

Numbers
- ``stickiness`` and ``conversion``: the exact quotient rounded half up to 4 decimals (1/160 →
  0.0063, where rounding the double gives 0.0062), 0.0 when the divisor is 0.
- Sums and averages are floats over JSON numbers only (booleans and numeric strings are
  ignored); a day (or range) without values has 0.0 for both ("zero when nothing happened").
- Medians are the mean of the two middle values for an even count (``percentile_cont(0.5)``).

Reports
- Days run from ``since`` to the day before ``until`` whatever ``now`` is (days after now are zeros).
- events: ``count`` and ``sum`` totals are the sums of the days; ``users`` counts distinct users
  per day, and over the whole range for ``total``; the ``average`` total is the mean of all the
  range's values (not the mean of the daily averages). ``event`` matches the name exactly.
- live: the current minute (the one containing ``now``) and the four before it: five buckets,
  the first starting at floor(now) − 4 min; events up to ``now``. ``filter`` and ``where`` apply.
- sessions: a gap strictly longer than the timeout splits; length buckets include their lower
  bound (exactly 10 s is ``10-30s``, exactly 60 min ``60m+``). ``heatmap`` counts events (the
  field is ``events``) by each event's own UTC weekday and hour, all 168 cells, weekday then hour.
  ``per_user`` has ``sessions`` 1…9 (ints) and ``"10+"``, all ten present.
- retention: cohorts are every period (day, or week from Monday) overlapping the range, empty ones
  with size 0, each labelled by its first day (a week's Monday may precede ``since``); a cohort
  holds the users whose first event lies in the range and in that period. ``retained`` lists
  k = 0…N but stops before the first period that starts after the current period (the one
  containing ``now``); activity in a period counts whether or not it lies in the range.
- funnel: every step's event lies in the range (the doc lifts the range only for retention);
  "strictly after" compares timestamps (an equal timestamp does not follow, whatever the seq);
  the window bound is inclusive. ``median_seconds_to_step`` is 0.0 for step 1 (when anyone
  reaches it) and None when nobody reaches the step. ``window_minutes`` is required.
- paths: the node ``0:<from>`` counts the occurrences (in the range); steps 1…depth are the
  user's next events in the range in (timestamp, seq) order (or the previous ones, nearest
  first, for ``previous``); ``(end)`` stands at the first step without an event and the path
  stops there. Paths do not stop at session boundaries. ``(end)`` takes no ``top`` slot and is
  never folded into ``(other)``; the other events are ranked per step by count, then name. Links
  join step s−1 to step s (also for ``previous``). Nodes are ordered by step, count descending,
  event; links by source step, count descending, source, target (code point order, so
  ``(end)`` and ``(other)`` sort before letters on equal counts).
- affinity: an order is one ``Order Completed`` event (the exact name); its categories are the
  distinct present ``products[].category`` values (as text, case-sensitive) of the list elements
  that are objects. Pairs are ordered by orders descending, then a, then b.
- geography: the users with an event in the range, by ``computed.location.<level>`` of the
  profile (as text; a missing location or field is the place None); ordered like groups.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations, pairwise
from typing import Any

from loopline.domain.analytics import nice_bounds
from loopline.domain.segments.definition import PropertyFilter, parse_segment
from tests.segments.dataset import Dataset
from tests.segments.oracle import ABSENT, compare, evaluate, walk

ACTIVITY = frozenset({"track", "page", "screen"})
PLATFORM_SOURCE = "segments"
PURCHASE = "Order Completed"
MAX_GROUPS = 20
MAX_RANGE_DAYS = 400
END, OTHER = "(end)", "(other)"
UNGROUPED = frozenset({"live", "paths", "affinity", "geography"})
LENGTH_BUCKETS: tuple[tuple[str, timedelta], ...] = (  # (name, lower bound, inclusive)
    ("0-10s", timedelta(0)), ("10-30s", timedelta(seconds=10)), ("30-60s", timedelta(seconds=30)),
    ("1-3m", timedelta(minutes=1)), ("3-10m", timedelta(minutes=3)), ("10-30m", timedelta(minutes=10)),
    ("30-60m", timedelta(minutes=30)), ("60m+", timedelta(minutes=60)),
)
JSON = dict[str, Any]


@dataclass(frozen=True)
class Event:
    """A counted event with its owner."""

    profile: str
    name: str | None
    at: datetime
    seq: int
    properties: dict[str, Any]
    context: dict[str, Any]


@dataclass
class _Space:
    """One workspace's rows, arranged for the reports."""

    traits: dict[str, dict[str, Any]]
    locations: dict[str, Any]
    members: dict[str, set[str]]
    events: list[Event]  # every event (see the module docstring), ordered by (at, seq)


@dataclass
class _Ask:
    """One request, with the events it counts."""

    request: JSON
    now: datetime
    events: list[Event]
    since: datetime = field(default=datetime.min.replace(tzinfo=UTC))
    until: datetime = field(default=datetime.max.replace(tzinfo=UTC))
    days: list[date] = field(default_factory=list)
    first_seen: dict[str, Event] = field(default_factory=dict)
    locations: dict[str, Any] = field(default_factory=dict)

    def in_range(self, events: list[Event]) -> list[Event]:
        return [e for e in events if self.since <= e.at < self.until]


_CACHE: dict[tuple[int, str], tuple[Dataset, _Space]] = {}


def _load(data: Dataset, workspace_id: str) -> _Space:
    cached = _CACHE.get((id(data), workspace_id))
    if cached is not None and cached[0] is data:
        return cached[1]
    profiles = data.profiles[data.profiles["workspace_id"] == workspace_id]
    traits, locations = {}, {}
    for row in profiles.to_dict("records"):
        traits[row["profile_id"]] = row["traits"] if isinstance(row["traits"], dict) else {}
        computed = row["computed"] if isinstance(row["computed"], dict) else {}
        locations[row["profile_id"]] = computed.get("location")
    owner = {(row["kind"], row["value"]): row["profile_id"]
             for row in data.identities[data.identities["workspace_id"] == workspace_id].to_dict("records")}
    members: dict[str, set[str]] = defaultdict(set)
    for row in data.members[data.members["workspace_id"] == workspace_id].to_dict("records"):
        members[row["segment_id"]].add(row["profile_id"])
    events = []
    for row in data.events[data.events["workspace_id"] == workspace_id].to_dict("records"):
        if row["type"] not in ACTIVITY or row["source"] == PLATFORM_SOURCE:
            continue
        profile = owner.get(("user_id", row["user_id"])) if isinstance(row["user_id"], str) else None
        if profile is None and isinstance(row["anonymous_id"], str):
            profile = owner.get(("anonymous_id", row["anonymous_id"]))
        if profile is None or profile not in traits:
            continue  # belongs to nobody
        at = row["timestamp"].to_pydatetime().astimezone(UTC)
        events.append(Event(profile, row["event"], at, int(row["seq"]),
                            row["properties"] if isinstance(row["properties"], dict) else {},
                            row["context"] if isinstance(row["context"], dict) else {}))
    events.sort(key=lambda e: (e.at, e.seq))
    space = _Space(traits, locations, members, events)
    _CACHE[(id(data), workspace_id)] = (data, space)
    return space


# ---------------------------------------------------------------------------------------------
# Values

def _get(document: Any, path: str) -> Any:
    """Return the value at a dotted path through JSON objects, or None when it is missing."""
    value = walk(document, path)
    return None if value is ABSENT else value


def text(value: Any) -> str | None:
    """Return a JSON value as group text (see the module docstring); None for null or missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratio(part: int, whole: int) -> float:
    """Return part / whole rounded half up to 4 decimals, 0.0 when whole is 0."""
    if whole == 0:
        return 0.0
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _filters(raw: list[JSON] | None) -> list[PropertyFilter]:
    return [PropertyFilter.model_validate(item) for item in raw or ()]


def _matches(event: Event, filters: list[PropertyFilter], now: datetime) -> bool:
    return all(compare(walk(event.properties, f.property), f, now) for f in filters)


def _order(name: str | None) -> tuple[bool, str]:
    """Sort key for names: code point order, None last."""
    return name is None, name or ""


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# The entry point

def report(request: JSON, data: Dataset, *, workspace_id: str, now: datetime) -> JSON:
    """Return the answer to one report request, as documented in docs/analytics.md."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    now = now.astimezone(UTC)
    space = _load(data, workspace_id)
    kind = request["report"]
    users: set[str] | None = None
    if request.get("filter") is not None:
        definition = parse_segment({"name": "f", "condition": request["filter"]})
        users = evaluate(definition, data, workspace_id=workspace_id, now=now)
    where = _filters(request.get("where"))
    events = [e for e in space.events if (users is None or e.profile in users) and _matches(e, where, now)]
    ask = _Ask(request, now, events, locations=space.locations)
    for event in events:
        ask.first_seen.setdefault(event.profile, event)
    group_by = request.get("group_by")
    if group_by is not None and kind in UNGROUPED:
        raise ValueError(f"{kind} takes no group_by")
    if kind == "live":
        return {"report": kind, "series": _live(ask)}
    since, until = date.fromisoformat(request["since"]), date.fromisoformat(request["until"])
    if not 0 < (until - since).days <= MAX_RANGE_DAYS:
        raise ValueError(f"the range must hold 1 to {MAX_RANGE_DAYS} days")
    ask.since, ask.until = _day_start(since), _day_start(until)
    ask.days = [since + timedelta(days=k) for k in range((until - since).days)]
    answer: JSON = {"report": kind, "since": request["since"], "until": request["until"]}
    if kind == "distribution":
        return answer | _distribution(ask, group_by, space)
    if group_by is None:
        return answer | REPORTS[kind](ask, events)
    return answer | _grouped(kind, group_by, ask, space)


def _labeller(group_by: JSON, space: _Space) -> Callable[[Event], str | None]:
    source = group_by["source"]
    if source == "event":
        return lambda e: text(_get(e.properties, group_by["path"]))
    if source == "context":
        return lambda e: text(_get(e.context, group_by["path"]))
    if source == "trait":
        return lambda e: text(_get(space.traits.get(e.profile, {}), group_by["path"]))
    if source == "segment":
        members = space.members.get(group_by["segment_id"], set())
        return lambda e: "member" if e.profile in members else "not member"
    raise ValueError(f"unknown group_by source {source!r}")


def _grouped(kind: str, group_by: JSON, ask: _Ask, space: _Space) -> JSON:
    label = _labeller(group_by, space)
    answers: dict[str | None, JSON] = {}
    sizes: dict[str | None, float] = {}
    if kind == "retention":  # the user's first event decides; their activity is all their events
        by_group: dict[str | None, set[str]] = defaultdict(set)
        for profile, first in ask.first_seen.items():
            if ask.since <= first.at < ask.until:
                by_group[label(first)].add(profile)
        for group, profiles in by_group.items():
            answers[group] = _retention(ask, [e for e in ask.events if e.profile in profiles])
            sizes[group] = sum(cohort["size"] for cohort in answers[group]["cohorts"])
    elif kind == "funnel":  # the step-1 event decides
        attempts: dict[str | None, list[list[Event]]] = defaultdict(list)
        for attempt in _attempts(ask, ask.events):
            attempts[label(attempt[0])].append(attempt)
        for group, chosen in attempts.items():
            answers[group] = {"steps": _steps(ask, chosen)}
            sizes[group] = len(chosen)
    else:
        parts: dict[str | None, list[Event]] = defaultdict(list)
        for event in ask.events:
            parts[label(event)].append(event)
        for group, events in parts.items():
            present = ask.in_range(events)
            if kind == "events" and ask.request.get("event") is not None:
                present = [e for e in present if e.name == ask.request["event"]]
            if not present:
                continue
            answers[group] = REPORTS[kind](ask, events)
            sizes[group] = _main_count(kind, answers[group], present)
    ranked = sorted(answers, key=lambda g: (-sizes[g], *_order(g)))
    return {"groups": [{"group": g, **answers[g]} for g in ranked[:MAX_GROUPS]],
            "groups_omitted": max(0, len(ranked) - MAX_GROUPS)}


def _main_count(kind: str, answer: JSON, present: list[Event]) -> float:
    if kind in ("active_users", "new_vs_returning"):
        return len({e.profile for e in present})
    if kind == "events":
        return answer["total"]
    return answer["sessions"]  # sessions


# ---------------------------------------------------------------------------------------------
# Reports over a list of events (ordered by (at, seq)); each returns the answer's own fields

def _active_users(ask: _Ask, events: list[Event]) -> JSON:
    active: dict[date, set[str]] = defaultdict(set)
    for event in events:
        active[event.at.date()].add(event.profile)

    def within(day: date, days: int) -> int:
        return len(set().union(*(active.get(day - timedelta(days=k), set()) for k in range(days))))

    series = []
    for day in ask.days:
        dau, mau = len(active.get(day, ())), within(day, 30)
        series.append({"date": day.isoformat(), "dau": dau, "wau": within(day, 7), "mau": mau,
                       "stickiness": ratio(dau, mau)})
    return {"series": series}


def _new_vs_returning(ask: _Ask, events: list[Event]) -> JSON:
    active: dict[date, set[str]] = defaultdict(set)
    for event in ask.in_range(events):
        active[event.at.date()].add(event.profile)
    series = []
    for day in ask.days:
        new = sum(1 for p in active.get(day, ()) if ask.first_seen[p].at.date() == day)
        series.append({"date": day.isoformat(), "new": new, "returning": len(active.get(day, ())) - new})
    return {"series": series}


def _live(ask: _Ask) -> list[JSON]:
    current = ask.now.replace(second=0, microsecond=0)
    minutes = [current - timedelta(minutes=k) for k in range(4, -1, -1)]
    counts: Counter[datetime] = Counter()
    users: dict[datetime, set[str]] = defaultdict(set)
    for event in ask.events:
        minute = event.at.replace(second=0, microsecond=0)
        if minutes[0] <= minute and event.at <= ask.now:
            counts[minute] += 1
            users[minute].add(event.profile)
    return [{"minute": m.strftime("%Y-%m-%dT%H:%M:00Z"), "events": counts[m], "users": len(users[m])}
            for m in minutes]


def _events(ask: _Ask, events: list[Event]) -> JSON:
    request = ask.request
    name, measure = request.get("event"), request.get("measure", "count")
    chosen = [e for e in ask.in_range(events) if name is None or e.name == name]
    by_day: dict[date, list[Event]] = defaultdict(list)
    for event in chosen:
        by_day[event.at.date()].append(event)

    def value(group: list[Event]) -> float:
        if measure == "count":
            return len(group)
        if measure == "users":
            return len({e.profile for e in group})
        numbers = [v for e in group if _number(v := _get(e.properties, request["property"]))]
        if measure == "sum":
            return math.fsum(numbers)
        if measure == "average":
            return math.fsum(numbers) / len(numbers) if numbers else 0.0
        raise ValueError(f"unknown measure {measure!r}")

    return {"series": [{"date": d.isoformat(), "value": value(by_day.get(d, []))} for d in ask.days],
            "total": value(chosen)}


def _sessions(ask: _Ask, events: list[Event]) -> JSON:
    timeout = timedelta(minutes=ask.request.get("session_timeout_minutes", 30))
    by_user: dict[str, list[Event]] = defaultdict(list)
    heat: Counter[tuple[int, int]] = Counter()
    for event in ask.in_range(events):
        by_user[event.profile].append(event)
        heat[(event.at.weekday(), event.at.hour)] += 1
    lengths: list[timedelta] = []
    per_user: Counter[int | str] = Counter()
    for user_events in by_user.values():
        start = previous = user_events[0].at
        count = 0
        for event in user_events[1:]:
            if event.at - previous > timeout:
                lengths.append(previous - start)
                count += 1
                start = event.at
            previous = event.at
        lengths.append(previous - start)
        count += 1
        per_user[count if count < 10 else "10+"] += 1
    buckets: Counter[str] = Counter()
    for length in lengths:
        buckets[next(name for name, low in reversed(LENGTH_BUCKETS) if length >= low)] += 1
    return {
        "sessions": len(lengths), "users": len(by_user),
        "per_user": [{"sessions": n, "users": per_user[n]} for n in [*range(1, 10), "10+"]],
        "length": [{"bucket": name, "sessions": buckets[name]} for name, _ in LENGTH_BUCKETS],
        "heatmap": [{"weekday": w, "hour": h, "events": heat[(w, h)]} for w in range(7) for h in range(24)],
    }


def _retention(ask: _Ask, events: list[Event]) -> JSON:
    weekly = ask.request["period"] == "week"
    periods = int(ask.request["periods"])
    step = timedelta(days=7 if weekly else 1)

    def start(day: date) -> date:
        return day - timedelta(days=day.weekday()) if weekly else day

    first: dict[str, Event] = {}
    active: dict[str, set[date]] = defaultdict(set)
    for event in events:
        first.setdefault(event.profile, event)
        active[event.profile].add(start(event.at.date()))
    cohorts: dict[date, list[str]] = defaultdict(list)
    for profile, event in first.items():
        if ask.since <= event.at < ask.until:
            cohorts[start(event.at.date())].append(profile)
    current = start(ask.now.date())
    answer, cohort = [], start(ask.days[0])
    while cohort <= ask.days[-1]:
        users = cohorts.get(cohort, [])
        retained = [sum(1 for p in users if cohort + k * step in active[p])
                    for k in range(periods + 1) if cohort + k * step <= current]
        answer.append({"cohort": cohort.isoformat(), "size": len(users), "retained": retained})
        cohort += step
    return {"cohorts": answer}


def _attempts(ask: _Ask, events: list[Event]) -> list[list[Event]]:
    """Return each user's attempt: the events found for steps 1..i (i ≥ 1)."""
    steps = ask.request["steps"]
    filters = [_filters(step.get("where")) for step in steps]
    window = timedelta(minutes=ask.request["window_minutes"])
    by_user: dict[str, list[Event]] = defaultdict(list)
    for event in ask.in_range(events):
        by_user[event.profile].append(event)

    def fits(event: Event, index: int) -> bool:
        return event.name == steps[index]["event"] and _matches(event, filters[index], ask.now)

    attempts = []
    for user_events in by_user.values():
        found = [e for e in user_events if fits(e, 0)][:1]
        if not found:
            continue
        deadline = found[0].at + window
        for index in range(1, len(steps)):
            following = (e for e in user_events if found[-1].at < e.at <= deadline and fits(e, index))
            step_event = next(following, None)
            if step_event is None:
                break
            found.append(step_event)
        attempts.append(found)
    return attempts


def _steps(ask: _Ask, attempts: list[list[Event]]) -> list[JSON]:
    answer = []
    for index, step in enumerate(ask.request["steps"]):
        reached = [a for a in attempts if len(a) > index]
        seconds = [(a[index].at - a[0].at).total_seconds() for a in reached]
        answer.append({"step": index + 1, "event": step["event"], "users": len(reached),
                       "conversion": ratio(len(reached), len(attempts)),
                       "median_seconds_to_step": float(statistics.median(seconds)) if seconds else None})
    return answer


def _funnel(ask: _Ask, events: list[Event]) -> JSON:
    return {"steps": _steps(ask, _attempts(ask, events))}


def _paths(ask: _Ask, events: list[Event]) -> JSON:
    request = ask.request
    origin, depth, top = request["from"], int(request["depth"]), int(request["top"])
    backwards = request.get("direction", "next") == "previous"
    by_user: dict[str, list[str | None]] = defaultdict(list)
    for event in ask.in_range(events):
        by_user[event.profile].append(event.name)
    paths: list[list[str | None]] = []
    for names in by_user.values():
        for index, name in enumerate(names):
            if name != origin:
                continue
            steps = names[max(0, index - depth):index][::-1] if backwards else names[index + 1:index + 1 + depth]
            paths.append([*steps, END] if len(steps) < depth else steps)
    if not paths:
        return {"nodes": [], "links": []}
    kept: dict[int, set[str | None]] = {}
    for step in range(1, depth + 1):
        counts = Counter(p[step - 1] for p in paths if len(p) >= step and p[step - 1] != END)
        kept[step] = set(sorted(counts, key=lambda n: (-counts[n], *_order(n)))[:top])
    nodes: Counter[tuple[int, str | None]] = Counter({(0, origin): len(paths)})
    links: Counter[tuple[tuple[int, str | None], tuple[int, str | None]]] = Counter()
    for path in paths:
        previous: tuple[int, str | None] = (0, origin)
        for step, name in enumerate(path, start=1):
            node = (step, name if name == END or name in kept[step] else OTHER)
            nodes[node] += 1
            links[(previous, node)] += 1
            previous = node

    def node_id(node: tuple[int, str | None]) -> str:
        return f"{node[0]}:{node[1]}"

    ordered_nodes = sorted(nodes, key=lambda n: (n[0], -nodes[n], *_order(n[1])))
    ordered_links = sorted(links, key=lambda pair: (pair[0][0], -links[pair], node_id(pair[0]), node_id(pair[1])))
    return {
        "nodes": [{"id": node_id(n), "step": n[0], "event": n[1], "count": nodes[n]} for n in ordered_nodes],
        "links": [{"source": node_id(s), "target": node_id(t), "count": links[(s, t)]} for s, t in ordered_links],
    }


def _affinity(ask: _Ask, events: list[Event]) -> JSON:
    pairs: Counter[tuple[str, str]] = Counter()
    for event in ask.in_range(events):
        products = event.properties.get("products")
        if event.name != PURCHASE or not isinstance(products, list):
            continue
        categories = {text(p.get("category")) for p in products if isinstance(p, dict)} - {None}
        pairs.update(combinations(sorted(categories), 2))  # type: ignore[type-var]
    ordered = sorted(pairs, key=lambda pair: (-pairs[pair], pair))
    return {"pairs": [{"a": a, "b": b, "orders": pairs[(a, b)]} for a, b in ordered]}


def _geography(ask: _Ask, events: list[Event]) -> JSON:
    level = ask.request["level"]
    places: Counter[str | None] = Counter()
    for profile in {e.profile for e in ask.in_range(events)}:
        places[text(_get(ask.locations.get(profile), level))] += 1
    ordered = sorted(places, key=lambda p: (-places[p], *_order(p)))
    return {"places": [{"place": p, "users": places[p]} for p in ordered]}


def _distribution(ask: _Ask, group_by: JSON | None, space: _Space) -> JSON:
    """Values per group (all groups share the buckets), then counts per bucket."""
    request = ask.request
    label = _labeller(group_by, space) if group_by is not None else (lambda _: None)
    chosen = [e for e in ask.in_range(ask.events) if request.get("event") in (None, e.name)]
    values: dict[str | None, list[float]] = defaultdict(list)
    if request.get("of", "property") == "events_per_user":
        per_user = Counter((label(e), e.profile) for e in chosen)
        for (group, _), n in per_user.items():
            values[group].append(n)
    else:
        for event in chosen:
            if _number(value := _get(event.properties, request["property"])):
                values[label(event)].append(value)
    whole = request.get("of") == "events_per_user"
    if request.get("bounds") is not None:
        edges, open_ended = [float(b) for b in request["bounds"]], True
    elif values:
        every = [v for group in values.values() for v in group]
        edges = nice_bounds(min(every), max(every), request.get("buckets", 10), whole=whole)
        open_ended = False
    else:
        edges, open_ended = [], False
    fences: list[float | None] = [None, *edges, None] if open_ended else list(edges)

    def answer(numbers: list[float]) -> JSON:
        buckets = []
        for low, high in pairwise(fences):
            inside = [v for v in numbers if (low is None or v >= low) and (high is None or v < high)]
            buckets.append({"from": low, "to": high, "count": len(inside)})
        if not numbers:
            return {"buckets": buckets, "count": 0, "min": None, "max": None, "average": None}
        return {"buckets": buckets, "count": len(numbers), "min": (int if whole else float)(min(numbers)),
                "max": (int if whole else float)(max(numbers)), "average": math.fsum(numbers) / len(numbers)}

    if group_by is None:
        return answer(values.get(None, []))
    ranked = sorted(values, key=lambda g: (-len(values[g]), *_order(g)))
    return {"groups": [{"group": g, **answer(values[g])} for g in ranked[:MAX_GROUPS]],
            "groups_omitted": max(0, len(ranked) - MAX_GROUPS)}


REPORTS: dict[str, Callable[[_Ask, list[Event]], JSON]] = {
    "active_users": _active_users, "new_vs_returning": _new_vs_returning, "events": _events,
    "sessions": _sessions, "retention": _retention, "funnel": _funnel, "paths": _paths,
    "affinity": _affinity, "geography": _geography,
}
