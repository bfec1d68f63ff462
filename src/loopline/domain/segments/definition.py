"""The segment definition language: a versioned JSON document of freely nested conditions.

A definition is data, not SQL: one isolated compiler turns it into each engine's dialect,
so the same audience is computed identically on DuckDB, PostgreSQL and ClickHouse. Every
definition is validated here first, and an invalid one is refused with the path and the
reason of each problem, in words a marketer building it in the console can act on.
"""

from __future__ import annotations

from datetime import datetime
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
        return self


class PropertyFilter(Comparison):
    """A condition on one event property (dotted paths reach nested ones: ``product.category``)."""

    property: Name


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
    trait: Name


COMPUTED_PROPERTIES = (
    "first_seen", "last_seen", "events", "sessions", "last_session_at", "orders", "cancelled_orders",
    "returns", "refunds", "gross_revenue", "refunded_revenue", "net_revenue", "return_rate",
    "last_order_at", "favourite_category", "emails_opened", "emails_clicked", "pushes_received",
    "pushes_tapped",
)


class ComputedProperty(Comparison):
    """A computed property (orders, net revenue, return rate, last seen…) compared with a value."""

    type: Literal["computed"]
    property: Literal[COMPUTED_PROPERTIES]  # type: ignore[valid-type]


class Count(_Node):
    """How many times: at least, at most or exactly ``value``."""

    operator: Literal["at_least", "at_most", "exactly"] = "at_least"
    value: int = Field(default=1, ge=0, le=1_000_000)


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
        return self


class Reachable(_Node):
    """Can be messaged on ``channel`` for ``topic``: an address, consent, and not suppressed."""

    type: Literal["reachable"]
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    topic: str = Field(default="all", pattern=TOPIC.pattern)


class Engagement(_Node):
    """Received, opened or clicked messages (of one campaign, or any) a number of times."""

    type: Literal["engagement"]
    action: Literal["received", "opened", "clicked"]
    campaign_id: Name | None = None
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    count: Count = Field(default_factory=Count)
    window: Window | None = None


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
    try:
        return SegmentDefinition.model_validate(data)
    except ValidationError as error:
        problems = [
            {"path": _path(item["loc"]), "message": str(item["msg"]).removeprefix("Value error, ")}
            for item in error.errors(include_url=False)
        ]
        raise SegmentInvalid(problems) from None


def _path(location: tuple[int | str, ...]) -> str:
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
