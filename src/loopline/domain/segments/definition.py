"""The segment definition language: a versioned JSON document of freely nested conditions.

A definition is data, not SQL: one isolated compiler turns it into each engine's dialect,
so the same audience is computed identically on DuckDB, PostgreSQL and ClickHouse. Every
definition is validated here first, and an invalid one is refused with the path and the
reason of each problem, in words a marketer building it in the console can act on.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline.domain.consent import CHANNELS, TOPIC

VERSION: Literal[1] = 1
MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_DAYS = 3_650
Name = Annotated[str, Field(min_length=1, max_length=200)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class Operator(StrEnum):
    """How a value is compared."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    BETWEEN = "between"
    CONTAINS = "contains"
    IN = "in"
    NOT_IN = "not_in"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    # Relative dates, for date-valued traits such as ``ad_expires_at`` or ``birthday``.
    WITHIN_NEXT_DAYS = "within_next_days"
    WITHIN_LAST_DAYS = "within_last_days"
    ANNIVERSARY_WITHIN_NEXT_DAYS = "anniversary_within_next_days"


ORDERING = frozenset({Operator.LT, Operator.LTE, Operator.GT, Operator.GTE, Operator.BETWEEN})
RELATIVE_DATES = frozenset({
    Operator.WITHIN_NEXT_DAYS, Operator.WITHIN_LAST_DAYS, Operator.ANNIVERSARY_WITHIN_NEXT_DAYS,
})
NEGATIVE = {Operator.NE: Operator.EQ, Operator.NOT_IN: Operator.IN, Operator.NOT_EXISTS: Operator.EXISTS}
"""Each negative operator and the positive one it is the complement of."""

# What counts as a date, in definitions and in data alike: a calendar date, or an ISO 8601
# date-time with an optional UTC offset. Engines parse far more ("now", "Jan 5", "epoch"),
# so every engine checks this pattern before it parses, and all agree.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
_DATE = re.compile(DATE_PATTERN)
# A version orders by its first three numeric parts; each part has at most six digits.
VERSION_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,6})*$"
_VERSION = re.compile(VERSION_PATTERN)


def parse_date(text: str) -> datetime | None:
    """Return the instant a date text means (a date alone is midnight UTC), or None."""
    if not _DATE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # matches the pattern but is no calendar day, e.g. 2026-02-30
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def version_key(text: str) -> int | None:
    """Return a number that orders versions by their first three parts, or None when unordered."""
    if not _VERSION.match(text):
        return None
    parts = [int(part) for part in text.split(".")[:3]] + [0, 0]
    return parts[0] * 10**12 + parts[1] * 10**6 + parts[2]


_NEEDS_LIST = {Operator.IN, Operator.NOT_IN}
_NEEDS_NOTHING = {Operator.EXISTS, Operator.NOT_EXISTS}
_NEEDS_DAYS = {Operator.WITHIN_NEXT_DAYS, Operator.WITHIN_LAST_DAYS, Operator.ANNIVERSARY_WITHIN_NEXT_DAYS}
Scalar = str | int | float | bool


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Node):
    """A comparison of one value: ``value`` for most operators, ``values`` for in / not_in,
    ``low`` and ``high`` for between, ``days`` for the relative-date operators."""

    operator: Operator
    value: Scalar | None = None
    values: list[Scalar] | None = Field(default=None, min_length=1, max_length=1_000)
    low: Scalar | None = None
    high: Scalar | None = None
    days: Days | None = None

    @model_validator(mode="after")
    def _operands_fit_the_operator(self) -> Self:
        op = self.operator
        given = {name for name in ("value", "values", "low", "high", "days") if getattr(self, name) is not None}
        if op in _NEEDS_NOTHING:
            wanted: set[str] = set()
        elif op in _NEEDS_LIST:
            wanted = {"values"}
        elif op is Operator.BETWEEN:
            wanted = {"low", "high"}
        elif op in _NEEDS_DAYS:
            wanted = {"days"}
        else:
            wanted = {"value"}
        if given != wanted:
            needs = " and ".join(sorted(wanted)) or "no operand"
            raise ValueError(f"operator {op.value!r} takes {needs}, got {', '.join(sorted(given)) or 'none'}")
        if op is Operator.CONTAINS and not isinstance(self.value, str):
            raise ValueError("operator 'contains' compares text: value must be a string")
        for operand in (self.value, self.low, self.high, *(self.values or ())):
            if isinstance(operand, float) and not math.isfinite(operand):
                raise ValueError("numbers must be finite")
        if op in ORDERING:
            self._check_ordered(op)
        return self

    def _check_ordered(self, op: Operator) -> None:
        operands = [self.low, self.high] if op is Operator.BETWEEN else [self.value]
        kinds = {_ordered_kind(operand) for operand in operands}
        if None in kinds or len(kinds) > 1:
            raise ValueError(
                f"operator {op.value!r} compares numbers or dates (2026-05-01 or 2026-05-01T09:30:00Z);"
                " between takes two of the same kind"
            )
        if op is Operator.BETWEEN and _order_key(self.low) > _order_key(self.high):
            raise ValueError("between needs low ≤ high")


def _ordered_kind(operand: Any) -> str | None:
    if isinstance(operand, bool):
        return None
    if isinstance(operand, int | float):
        return "number"
    if isinstance(operand, str) and parse_date(operand) is not None:
        return "date"
    return None


def _order_key(operand: Any) -> Any:
    return parse_date(operand) if isinstance(operand, str) else float(operand)


Path = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^.]+(\.[^.]+)*$"),
]
"""A name or a dotted path into nested objects (``address.city``); no empty parts."""


class PropertyFilter(Comparison):
    """A condition on one event property (dotted paths reach nested ones: ``product.category``)."""

    property: Path


class And(_Node):
    """Every condition holds."""

    type: Literal["and"]
    conditions: list[Condition] = Field(min_length=1, max_length=50)


class Or(_Node):
    """At least one condition holds."""

    type: Literal["or"]
    conditions: list[Condition] = Field(min_length=1, max_length=50)


class Not(_Node):
    """The condition does not hold."""

    type: Literal["not"]
    condition: Condition


class Trait(Comparison):
    """A profile trait compared with a value, a list, a range or a relative date."""

    type: Literal["trait"]
    trait: Path


COMPUTED_PROPERTIES = (
    "first_seen", "last_seen", "events", "sessions", "last_session_at", "orders", "cancelled_orders",
    "returns", "refunds", "gross_revenue", "refunded_revenue", "net_revenue", "return_rate",
    "last_order_at", "favourite_category", "emails_opened", "emails_clicked", "pushes_received",
    "pushes_tapped",
)


_COMPUTED_DATES = ("first_seen", "last_seen", "last_session_at", "last_order_at")
COMPUTED_TYPES: dict[str, str] = {
    name: "date" if name in _COMPUTED_DATES else "text" if name == "favourite_category" else "number"
    for name in COMPUTED_PROPERTIES
}
"""The type of each computed property: ``number``, ``date`` (an ISO 8601 text in the JSON) or ``text``."""


class ComputedProperty(Comparison):
    """A computed property (orders, net revenue, return rate, last seen…) compared with a value."""

    type: Literal["computed"]
    property: Literal[COMPUTED_PROPERTIES]  # type: ignore[valid-type]


class Count(_Node):
    """How many times: at least, at most or exactly ``value``.

    ``{"exactly": 0}`` (or ``at_least`` / ``at_most``) is short for ``{"operator": "exactly", "value": 0}``.
    """

    operator: Literal["at_least", "at_most", "exactly"] = "at_least"
    value: int = Field(default=1, ge=0, le=1_000_000)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) == 1:
            ((operator, value),) = data.items()
            if operator in ("at_least", "at_most", "exactly"):
                return {"operator": operator, "value": value}
        return data


class Window(_Node):
    """When: the last ``days`` days, or between two instants; absent means ever."""

    last_days: Days | None = None
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _one_kind_of_window(self) -> Self:
        if self.last_days is not None and (self.since is not None or self.until is not None):
            raise ValueError("a window is either last_days or since/until, not both")
        if self.last_days is None and self.since is None and self.until is None:
            raise ValueError("a window needs last_days, or since and/or until")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-05-01T00:00:00Z")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class Performed(_Node):
    """Did an event (with property filters) a number of times within a window, or never."""

    type: Literal["performed"]
    event: Name
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    count: Count = Field(default_factory=Count)
    window: Window | None = None


class EventStep(_Node):
    """One step of a sequence: an event and its property filters."""

    event: Name
    where: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class Sequence(_Node):
    """Did ``first`` and then ``then`` within a time (or, with ``then_absent``, did not)."""

    type: Literal["sequence"]
    first: EventStep
    then: EventStep
    within_minutes: int = Field(ge=1, le=MAX_DAYS * 1_440)
    then_absent: bool = False
    window: Window | None = None


class Inactive(_Node):
    """No session, no purchase or no named event for ``days`` days."""

    type: Literal["inactive"]
    activity: Literal["session", "purchase", "event"]
    event: Name | None = None
    days: Days

    @model_validator(mode="after")
    def _event_named_when_needed(self) -> Self:
        if (self.activity == "event") != (self.event is not None):
            raise ValueError("name the event exactly when activity is 'event'")
        return self


class Device(Comparison):
    """The profile has a device matching: platform, OS name or version, app version, push token."""

    type: Literal["device"]
    field: Literal["platform", "os_name", "os_version", "app_version", "model", "has_push_token"]

    @model_validator(mode="after")
    def _fits_the_field(self) -> Self:
        op = self.operator
        if self.field == "has_push_token":
            if op not in (Operator.EQ, Operator.NE) or not isinstance(self.value, bool):
                raise ValueError("has_push_token takes operator 'eq' (or 'ne') with value true or false")
            return self
        if op in RELATIVE_DATES:
            raise ValueError(f"operator {op.value!r} compares dates; device fields are text")
        for operand in (self.value, self.low, self.high, *(self.values or ())):
            if operand is not None and not isinstance(operand, str):
                raise ValueError(f"device {self.field} is text: compare it with strings")
        return self

    def _check_ordered(self, op: Operator) -> None:
        if self.field not in ("os_version", "app_version"):
            raise ValueError(f"operator {op.value!r} orders versions: only os_version and app_version take it")
        operands = [self.low, self.high] if op is Operator.BETWEEN else [self.value]
        keys = [version_key(operand) if isinstance(operand, str) else None for operand in operands]
        if None in keys:
            raise ValueError("a version is numbers separated by dots, e.g. 5.10.1")
        if op is Operator.BETWEEN and keys[0] > keys[1]:  # type: ignore[operator]
            raise ValueError("between needs low ≤ high")


class Near(_Node):
    """Within ``radius_km`` of a point."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=20_000)


class Location(_Node):
    """The latest known location: a country, region or postal code, or near a point."""

    type: Literal["location"]
    country: str | None = Field(default=None, min_length=2, max_length=2)
    region: Name | None = None
    postal_code: Name | None = None
    near: Near | None = None

    @model_validator(mode="after")
    def _something_to_match(self) -> Self:
        if self.country is None and self.region is None and self.postal_code is None and self.near is None:
            raise ValueError("a location condition needs country, region, postal_code or near")
        if self.country is not None and not self.country.isalpha():
            raise ValueError("country is an ISO 3166 alpha-2 code such as DE")
        return self

    @property
    def country_code(self) -> str | None:
        """Return the country as stored on profiles: upper-case alpha-2."""
        return self.country.upper() if self.country is not None else None


class Reachable(_Node):
    """Can be messaged on ``channel`` for ``topic``: an address, consent, and not suppressed."""

    type: Literal["reachable"]
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    topic: str = Field(default="all", pattern=TOPIC.pattern)


MAX_OF_LAST = 100


class Engagement(_Node):
    """Received, opened or clicked messages (of one campaign, or any) a number of times.

    With ``of_last`` it counts messages rather than events: of the customer's last
    ``of_last`` messages sent on ``channel`` (from the send ledger), how many drew the
    action — "opened none of the last 5 emails".
    """

    type: Literal["engagement"]
    action: Literal["received", "opened", "clicked"]
    campaign_id: Name | None = None
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    count: Count = Field(default_factory=Count)
    window: Window | None = None
    of_last: int | None = None

    @model_validator(mode="after")
    def _last_messages_of_one_channel(self) -> Self:
        if self.of_last is None:
            return self
        if not 1 <= self.of_last <= MAX_OF_LAST:
            raise ValueError(f"of_last counts the customer's last 1 to {MAX_OF_LAST} messages, got {self.of_last}")
        if self.channel is None:
            raise ValueError("of_last needs a channel: the last messages are counted on one channel")
        if self.count.value > self.of_last:
            raise ValueError(f"count {self.count.value} is more than the {self.of_last} messages of_last looks at")
        return self


class InSegment(_Node):
    """Is a member of another segment."""

    type: Literal["in_segment"]
    segment_id: Name


Condition = Annotated[
    And | Or | Not | Trait | ComputedProperty | Performed | Sequence | Inactive | Device | Location
    | Reachable | Engagement | InSegment,
    Field(discriminator="type"),
]


class SegmentDefinition(_Node):
    """A segment: a name and one (freely nested) condition, under a version of this language."""

    version: Literal[1] = VERSION
    name: Name
    description: str = Field(default="", max_length=2_000)
    condition: Condition

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        depth, count = _measure(self.condition)
        if depth > MAX_DEPTH:
            raise ValueError(f"conditions nest {depth} levels deep; at most {MAX_DEPTH}")
        if count > MAX_CONDITIONS:
            raise ValueError(f"the definition has {count} conditions; at most {MAX_CONDITIONS}")
        return self


def _measure(condition: Any, depth: int = 1) -> tuple[int, int]:
    """Return the nesting depth and the number of conditions under ``condition``."""
    if isinstance(condition, And | Or):
        measured = [_measure(child, depth + 1) for child in condition.conditions]
        return max(d for d, _ in measured), 1 + sum(c for _, c in measured)
    if isinstance(condition, Not):
        inner_depth, inner_count = _measure(condition.condition, depth + 1)
        return inner_depth, 1 + inner_count
    return depth, 1


class SegmentInvalid(ValueError):
    """A definition that cannot be used, with every problem found: ``[{"path", "message"}]``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


def parse_segment(data: Any) -> SegmentDefinition:
    """Validate a definition (parsed JSON); raise SegmentInvalid naming each problem and where it is."""
    if problems := unstorable_text(data):
        raise SegmentInvalid(problems)
    try:
        return SegmentDefinition.model_validate(data)
    except ValidationError as error:
        raise SegmentInvalid(problems_of(error)) from None


def problems_of(error: ValidationError) -> list[dict[str, str]]:
    """Return each validation problem as ``{"path", "message"}``, in words a person reads."""
    return [{"path": problem_path(item["loc"]), "message": str(item["msg"]).removeprefix("Value error, ")}
            for item in error.errors(include_url=False)]


def unstorable_text(data: Any, location: tuple[int | str, ...] = ()) -> list[dict[str, str]]:
    """Return a problem for each text holding a NUL character or a lone surrogate.

    Ingest refuses such text, so no event, trait or name can hold it; and query engines
    cannot take it in a literal. Saying so is clearer than a definition that matches nobody.
    """
    if isinstance(data, str):
        if "\x00" in data or (not data.isascii() and not _encodes(data)):
            return [{"path": ".".join(str(part) for part in location),
                     "message": "text may not hold a NUL character or a lone surrogate (stored data never does)"}]
        return []
    if isinstance(data, dict):
        found = [problem for key in data for problem in unstorable_text(key, (*location, "(key)"))]
        return found + [problem for key, value in data.items()
                        for problem in unstorable_text(value, (*location, str(key)))]
    if isinstance(data, list):
        return [problem for index, value in enumerate(data) for problem in unstorable_text(value, (*location, index))]
    return []


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def problem_path(location: tuple[int | str, ...]) -> str:
    # A discriminated union puts the chosen type's tag after the field (or list index)
    # holding the condition; it says nothing to a person, so it is left out of the path.
    parts: list[str] = []
    for index, part in enumerate(location):
        previous = location[index - 1] if index else None
        holder = previous in ("condition",) or isinstance(previous, int)
        if holder and part in _TAGS:
            continue
        parts.append(str(part))
    return ".".join(parts)


_TAGS = frozenset({
    "and", "or", "not", "trait", "computed", "performed", "sequence", "inactive", "device",
    "location", "reachable", "engagement", "in_segment",
})
