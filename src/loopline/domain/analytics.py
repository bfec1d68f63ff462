"""Analytics report requests (validated) and the pure shaping of their answers.

The definitions behind every report are in ``docs/analytics.md``; the SQL is compiled in
``loopline.query.reports``. What is here decides nothing about engines: it validates a
request, and turns rows into the JSON a chart reads (every day present, groups ranked,
histograms bucketed, paths folded into a sankey).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline.domain.segments.definition import (
    Condition,
    Name,
    Path,
    PropertyFilter,
    SegmentInvalid,
    problem_path,
    unstorable_text,
)

MAX_RANGE_DAYS = 400
MAX_GROUPS = 20
LIVE_MINUTES = 5
OTHER = "(other)"
END = "(end)"
SESSION_BUCKETS = (
    ("0-10s", 10), ("10-30s", 30), ("30-60s", 60), ("1-3m", 180), ("3-10m", 600), ("10-30m", 1_800),
    ("30-60m", 3_600), ("60m+", None),
)
PER_USER_CAP = 10
MAX_BUCKETS = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupBy(_Model):
    """A dimension to split results by."""

    source: Literal["event", "context", "trait", "segment"]
    path: Path | None = None
    segment_id: Name | None = None

    @model_validator(mode="after")
    def _names_what_it_needs(self) -> Self:
        if (self.source == "segment") != (self.segment_id is not None):
            raise ValueError("group by segment takes segment_id; the other sources take path")
        if self.source != "segment" and self.path is None:
            raise ValueError(f"group by {self.source} needs a path, e.g. os.name")
        return self


class _Ranged(_Model):
    since: date
    until: date
    filter: Condition | None = None
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    group_by: GroupBy | None = None

    @model_validator(mode="after")
    def _sensible_range(self) -> Self:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if (self.until - self.since).days > MAX_RANGE_DAYS:
            raise ValueError(f"a range spans at most {MAX_RANGE_DAYS} days")
        return self

    def days(self) -> list[date]:
        """Return every day of the range."""
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days)]


class ActiveUsers(_Ranged):
    """DAU, WAU, MAU and stickiness per day."""

    report: Literal["active_users"]


class NewVsReturning(_Ranged):
    """New and returning active users per day."""

    report: Literal["new_vs_returning"]


class Live(_Model):
    """Events and users per minute over the last five minutes."""

    report: Literal["live"]
    filter: Condition | None = None
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class Events(_Ranged):
    """A measure of events per day: count, users, or the sum or average of a property."""

    report: Literal["events"]
    event: Name | None = None
    measure: Literal["count", "users", "sum", "average"] = "count"
    property: Path | None = None

    @model_validator(mode="after")
    def _property_when_needed(self) -> Self:
        if (self.measure in ("sum", "average")) != (self.property is not None):
            raise ValueError("sum and average take a property (and only they do)")
        return self


class Distribution(_Ranged):
    """How values spread: a numeric event property, or events per user, counted in buckets."""

    report: Literal["distribution"]
    event: Name | None = None
    of: Literal["property", "events_per_user"] = "property"
    property: Path | None = None
    buckets: int = Field(default=10, ge=1, le=MAX_BUCKETS)
    bounds: list[float] | None = Field(default=None, min_length=1, max_length=MAX_BUCKETS - 1)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if (self.of == "property") != (self.property is not None):
            raise ValueError("a distribution of a property names the property (and only it does)")
        if self.bounds is not None:
            if not all(math.isfinite(bound) for bound in self.bounds):
                raise ValueError("bounds are finite numbers")
            if any(low >= high for low, high in itertools.pairwise(self.bounds)):
                raise ValueError("bounds rise strictly, e.g. [10, 50, 100]")
        return self


class Sessions(_Ranged):
    """Sessions per user, session lengths and the weekday × hour heatmap."""

    report: Literal["sessions"]
    session_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)


class Retention(_Ranged):
    """Cohorts by first activity, and how many come back in each later period."""

    report: Literal["retention"]
    period: Literal["day", "week"] = "week"
    periods: int = Field(default=8, ge=1, le=52)


class FunnelStep(_Model):
    """One funnel step: an event and its property filters."""

    event: Name
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class Funnel(_Ranged):
    """How many users go through the steps in order, within a window from the first."""

    report: Literal["funnel"]
    steps: list[FunnelStep] = Field(min_length=2, max_length=10)
    window_minutes: int = Field(default=7 * 24 * 60, ge=1, le=90 * 24 * 60)


class Paths(_Ranged):
    """What users do next (or did before) an event, as a sankey."""

    report: Literal["paths"]
    from_: Name = Field(alias="from")
    direction: Literal["next", "previous"] = "next"
    depth: int = Field(default=3, ge=1, le=5)
    top: int = Field(default=10, ge=1, le=50)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Affinity(_Ranged):
    """Product categories bought together."""

    report: Literal["affinity"]


class Geography(_Ranged):
    """Active users by their latest place."""

    report: Literal["geography"]
    level: Literal["country", "region", "postal_code"] = "country"


Report = Annotated[
    ActiveUsers | NewVsReturning | Live | Events | Distribution | Sessions | Retention | Funnel | Paths | Affinity
    | Geography,
    Field(discriminator="report"),
]
UNGROUPED = ("paths", "affinity", "geography")


class _Request(_Model):
    request: Report


def parse_report(data: Any) -> Any:
    """Validate a report request; raise SegmentInvalid (the same problem list) naming each problem."""
    if problems := unstorable_text(data):
        raise SegmentInvalid(problems)
    try:
        request = _Request.model_validate({"request": data}).request
    except ValidationError as error:
        problems = [
            {"path": _report_path(item), "message": str(item["msg"]).removeprefix("Value error, ")}
            for item in error.errors(include_url=False)
        ]
        raise SegmentInvalid(problems) from None
    if getattr(request, "group_by", None) is not None and request.report in UNGROUPED:
        raise SegmentInvalid([{"path": "group_by", "message": f"the {request.report} report takes no group_by"}])
    return request


def _report_path(item: Any) -> str:
    location = tuple(item["loc"][1:])  # past the wrapper's "request"
    if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "report"
    if location and location[0] in _TAGS:  # the chosen report's tag says nothing to a person
        location = location[1:]
    return problem_path(location)


_TAGS = frozenset({
    "active_users", "new_vs_returning", "live", "events", "distribution", "sessions", "retention", "funnel", "paths",
    "affinity", "geography",
})


# -- shaping answers -------------------------------------------------------------------------


def ranked_groups(sizes: dict[Any, int]) -> tuple[list[Any], int]:
    """Return the largest groups (ties by name, ``null`` last) and how many were left out."""
    ranked = sorted(sizes, key=lambda group: (-sizes[group], group is None, str(group)))
    return ranked[:MAX_GROUPS], max(0, len(ranked) - MAX_GROUPS)


def grouped(
    sizes: dict[Any, int], build: Any, *, grouped_by: bool
) -> dict[str, Any]:
    """Return ``build(None)`` ungrouped, or ``groups`` built per ranked group."""
    if not grouped_by:
        return dict(build(None))
    kept, omitted = ranked_groups(sizes)
    return {"groups": [{"group": group, **build(group)} for group in kept], "groups_omitted": omitted}


def coverage(deltas: Iterable[tuple[date, int]], days: list[date]) -> dict[date, int]:
    """Return, per day, the running sum of day deltas (+1 where coverage starts, -1 after it ends)."""
    by_day: dict[date, int] = defaultdict(int)
    for day, delta in deltas:
        by_day[day] += delta
    running, result, pending = 0, {}, sorted(by_day.items())
    index = 0
    for day in days:
        while index < len(pending) and pending[index][0] <= day:
            running += pending[index][1]
            index += 1
        result[day] = running
    return result


def nice_bounds(low: float, high: float, buckets: int, *, whole: bool) -> list[Any]:
    """Return the edges of about ``buckets`` equal buckets from ``low`` to past ``high``.

    The width is 1, 2 or 5 times a power of ten (at least 1 for whole numbers), so edges read
    well on a chart; the first edge is a multiple of the width at or below ``low`` and the
    last lies above ``high``, so every value falls in ``[edge, next edge)``.
    """
    step = (high - low) / buckets
    if step <= 0:
        width = 1.0
    else:
        magnitude = 10.0 ** math.floor(math.log10(step))
        width = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step * (1 - 1e-12))
    if whole:
        width = max(1.0, round(width))
    digits = max(0, 1 - math.floor(math.log10(width)))
    first = math.floor(low / width) * width
    edges: list[float] = [float(round(first, digits))]
    while edges[-1] <= high:
        edges.append(float(round(first + len(edges) * width, digits)))
    return [int(edge) for edge in edges] if whole else edges


def distribution_buckets(edges: list[Any], *, open_ended: bool) -> list[dict[str, Any]]:
    """Return the buckets ``from``/``to`` the edges (with an open bucket each side if asked)."""
    if open_ended:
        fences: list[Any] = [None, *edges, None]
    else:
        fences = list(edges)
    return [{"from": low, "to": high} for low, high in itertools.pairwise(fences)]


def session_bucket(seconds: float) -> str:
    """Return the length bucket of a session."""
    for name, upper in SESSION_BUCKETS:
        if upper is None or seconds < upper:
            return name
    raise AssertionError("the last bucket is open")  # pragma: no cover


def per_user_bucket(sessions: int) -> int | str:
    """Return the sessions-per-user bucket: 1 … 9, then ``"10+"``."""
    return sessions if sessions < PER_USER_CAP else f"{PER_USER_CAP}+"


def ratio(part: int, whole: int) -> float:
    """Return part ÷ whole rounded half up to 4 decimals on the exact quotient (0.0 when whole is 0)."""
    if not whole:
        return 0.0
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def sankey(paths: Iterable[tuple[tuple[str, ...], int]], *, origin: str, top: int) -> dict[str, Any]:
    """Fold path counts (the events after or before ``origin``, ending with END) into nodes and links."""
    paths = list(paths)
    depth = max((len(steps) for steps, _ in paths), default=0)
    kept: list[set[str]] = []
    for step in range(depth):
        totals: dict[str, int] = defaultdict(int)
        for steps, count in paths:
            if len(steps) > step:
                totals[steps[step]] += count
        ranked = sorted((name for name in totals if name != END), key=lambda name: (-totals[name], name))
        kept.append({*ranked[:top], END})
    nodes: dict[str, dict[str, Any]] = {}
    links: dict[tuple[str, str], int] = defaultdict(int)
    total = sum(count for _, count in paths)
    if total:
        nodes[f"0:{origin}"] = {"id": f"0:{origin}", "step": 0, "event": origin, "count": total}
    for steps, count in paths:
        previous = f"0:{origin}"
        for step, name in enumerate(steps):
            shown = name if name in kept[step] else OTHER
            node = f"{step + 1}:{shown}"
            entry = nodes.setdefault(node, {"id": node, "step": step + 1, "event": shown, "count": 0})
            entry["count"] += count
            links[(previous, node)] += count
            previous = node
    ordered = sorted(nodes.values(), key=lambda node: (node["step"], -node["count"], node["event"]))
    return {
        "nodes": ordered,
        "links": [{"source": s, "target": t, "count": c}
                  for (s, t), c in sorted(links.items(), key=lambda item: (-item[1], item[0]))],
    }


def minute_text(moment: datetime) -> str:
    """Return a minute as ``YYYY-MM-DDTHH:MM:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")
