"""Profile state: traits with last-write-wins by event time, and computed properties."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from loopline.domain import commerce
from loopline.domain.events import EventRecord
from loopline.domain.location import best_location
from loopline.domain.segments.membership import MEMBERSHIP_SOURCE
from loopline.domain.send_times import ATTENTION_EVENTS, RECEIPT_EVENTS, combine_hours, count_attention


@dataclass(slots=True)
class Computed:
    """Properties kept current on ingest; every field combines when two profiles merge."""

    first_seen: datetime | None = None
    last_seen: datetime | None = None
    events: int = 0
    sessions: int = 0
    last_session_at: datetime | None = None
    orders: int = 0
    cancelled_orders: int = 0
    returns: int = 0
    refunds: int = 0
    gross_revenue: float = 0.0
    cancelled_revenue: float = 0.0
    # Per order id: [value of returned lines, amount refunded]. A shop may send the goods
    # coming back (Product Returned), the money going back (Order Refunded), or both for
    # the same return; counting the larger of the two per order never counts a return twice.
    order_returns: dict[str, list[float]] = field(default_factory=dict)
    last_order_at: datetime | None = None
    emails_opened: int = 0
    emails_clicked: int = 0
    pushes_received: int = 0
    pushes_tapped: int = 0
    category_counts: dict[str, int] = field(default_factory=dict)
    # Sessions started and messages opened or clicked, per UTC hour of the week ("0"–"167"):
    # what a customer's best send time is learned from (``send_times``).
    active_hours: dict[str, int] = field(default_factory=dict)
    # The latest known whereabouts (explicit beats IP-derived within one event), by event time.
    location: dict[str, Any] | None = None
    location_at: datetime | None = None

    @property
    def net_revenue(self) -> float:
        """Return revenue after cancellations, refunds and returns."""
        return round(self.gross_revenue - self.cancelled_revenue - self.refunded_revenue, 2)

    @property
    def refunded_revenue(self) -> float:
        """Return the value that went back to the customer through returns and refunds."""
        return round(sum(max(returned, refunded) for returned, refunded in self.order_returns.values()), 2)

    @property
    def return_rate(self) -> float:
        """Return the share of completed orders that saw a return or refund."""
        if not self.orders:
            return 0.0
        return round(min(1.0, len(self.order_returns) / self.orders), 4)

    @property
    def favourite_category(self) -> str | None:
        """Return the most touched product category (ties broken by name)."""
        if not self.category_counts:
            return None
        return min(self.category_counts.items(), key=lambda item: (-item[1], item[0]))[0]

    def as_json(self) -> dict[str, Any]:
        """Return the computed properties, derived ones included, as JSON-ready values."""
        # Built field by field: dataclasses.asdict deep-copies and costs several times more
        # on the projection's hot path.
        data: dict[str, Any] = {name: getattr(self, name) for name in _SCALAR_FIELDS}
        for name in _TIME_FIELDS:
            value = getattr(self, name)
            data[name] = value.isoformat() if value is not None else None
        data["category_counts"] = dict(self.category_counts)
        data["active_hours"] = dict(self.active_hours)
        data["location"] = dict(self.location) if self.location is not None else None
        data["order_returns"] = {key: list(value) for key, value in self.order_returns.items()}
        data["refunded_revenue"] = self.refunded_revenue
        data["net_revenue"] = self.net_revenue
        data["return_rate"] = self.return_rate
        data["favourite_category"] = self.favourite_category
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Computed:
        """Rebuild computed properties from their stored JSON form."""
        known = set(cls.__dataclass_fields__)  # derived values in the JSON are recomputed
        values = {key: value for key, value in data.items() if key in known}
        for key in _TIME_FIELDS:
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


_TIME_FIELDS = ("first_seen", "last_seen", "last_session_at", "last_order_at", "location_at")
_SCALAR_FIELDS = tuple(
    name for name in Computed.__dataclass_fields__
    if name not in _TIME_FIELDS and name not in ("category_counts", "active_hours", "order_returns", "location")
)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def apply_event(computed: Computed, record: EventRecord, *, session_timeout: timedelta) -> None:
    """Fold one event into the computed properties, in place."""
    if record.source == MEMBERSHIP_SOURCE:
        return  # a segment's note about the person, not something the person did
    when = record.timestamp
    # Events arriving out of order can only extend, never split, a session here;
    # exact sessionisation is an analytics query over the event store.
    session_started = computed.last_seen is None or when - computed.last_seen > session_timeout
    if session_started:
        computed.sessions += 1
        computed.last_session_at = when
    if record.type == "track" and record.event is not None:
        # A delivery receipt is the platform's news, not the customer's attention.
        attentive = record.event in ATTENTION_EVENTS or (session_started and record.event not in RECEIPT_EVENTS)
    else:
        # Pages and screens are the customer's; an identify is as often a back office's sync.
        attentive = session_started and record.type in ("page", "screen")
    if attentive:
        count_attention(computed.active_hours, when)
    computed.first_seen = _earliest(computed.first_seen, when)
    computed.last_seen = _latest(computed.last_seen, when)
    computed.events += 1
    if computed.location_at is None or when >= computed.location_at:
        located = best_location(record.context)
        if located is not None:
            computed.location, computed.location_at = located.as_json(), when
    if record.type != "track" or record.event is None:
        return
    _apply_track(computed, record.event, record.properties, when)


def _apply_track(computed: Computed, event: str, props: dict[str, Any], when: datetime) -> None:
    if event == commerce.ORDER_COMPLETED:
        computed.orders += 1
        computed.gross_revenue += commerce.order_value(props)
        computed.last_order_at = _latest(computed.last_order_at, when)
    elif event == commerce.ORDER_CANCELLED:
        computed.cancelled_orders += 1
        computed.cancelled_revenue += commerce.order_value(props)
    elif event == commerce.ORDER_REFUNDED:
        computed.refunds += 1
        _order_return(computed, props)[1] += commerce.order_value(props)
    elif event == commerce.PRODUCT_RETURNED:
        computed.returns += 1
        _order_return(computed, props)[0] += commerce.returned_value(props)
    elif event == commerce.EMAIL_OPENED:
        computed.emails_opened += 1
    elif event == commerce.EMAIL_CLICKED:
        computed.emails_clicked += 1
    elif event == commerce.PUSH_RECEIVED:
        computed.pushes_received += 1
    elif event == commerce.PUSH_TAPPED:
        computed.pushes_tapped += 1
    for category in commerce.categories_of(event, props):
        computed.category_counts[category] = computed.category_counts.get(category, 0) + 1


def _order_return(computed: Computed, props: dict[str, Any]) -> list[float]:
    order_id = props.get("order_id")
    key = str(order_id) if isinstance(order_id, str | int) else ""
    return computed.order_returns.setdefault(key, [0.0, 0.0])


def combine(a: Computed, b: Computed) -> Computed:
    """Return the computed properties of two merged profiles."""
    counts = dict(a.category_counts)
    for key, value in b.category_counts.items():
        counts[key] = counts.get(key, 0) + value
    summed = {
        name: getattr(a, name) + getattr(b, name)
        for name in (
            "events", "sessions", "orders", "cancelled_orders", "returns", "refunds",
            "gross_revenue", "cancelled_revenue",
            "emails_opened", "emails_clicked", "pushes_received", "pushes_tapped",
        )
    }
    returns = {key: list(value) for key, value in a.order_returns.items()}
    for key, (returned, refunded) in b.order_returns.items():
        mine = returns.setdefault(key, [0.0, 0.0])
        mine[0], mine[1] = mine[0] + returned, mine[1] + refunded
    newer = b if a.location_at is None or (b.location_at is not None and b.location_at > a.location_at) else a
    return replace(
        a,
        order_returns=returns,
        location=newer.location,
        location_at=newer.location_at,
        first_seen=_earliest(a.first_seen, b.first_seen),
        last_seen=_latest(a.last_seen, b.last_seen),
        last_session_at=_latest(a.last_session_at, b.last_session_at),
        last_order_at=_latest(a.last_order_at, b.last_order_at),
        category_counts=counts,
        active_hours=combine_hours(a.active_hours, b.active_hours),
        **summed,
    )


@dataclass(slots=True)
class Profile:
    """One customer: traits (each with the event time that set it) and computed properties."""

    workspace_id: str
    profile_id: str
    traits: dict[str, Any] = field(default_factory=dict)
    trait_times: dict[str, str] = field(default_factory=dict)
    computed: Computed = field(default_factory=Computed)
    merged_into: str | None = None

    def snapshot(self) -> dict[str, Any]:
        """Return the state needed to restore this profile after an unmerge."""
        return {
            "traits": dict(self.traits),
            "trait_times": dict(self.trait_times),
            "computed": self.computed.as_json(),
        }

    @classmethod
    def restore(cls, workspace_id: str, profile_id: str, snapshot: dict[str, Any]) -> Profile:
        """Rebuild a profile from a snapshot taken at merge time."""
        return cls(
            workspace_id=workspace_id,
            profile_id=profile_id,
            traits=dict(snapshot["traits"]),
            trait_times=dict(snapshot["trait_times"]),
            computed=Computed.from_json(snapshot["computed"]),
        )


def set_traits(profile: Profile, traits: dict[str, Any], at: datetime) -> bool:
    """Apply traits last-write-wins by event time; return whether anything changed."""
    stamp = at.isoformat()
    changed = False
    for key, value in traits.items():
        previous = profile.trait_times.get(key)
        # ISO strings of aware UTC datetimes sort chronologically; ties go to the
        # later arrival so a correction sent with the same timestamp still applies.
        newer = previous is None or previous <= stamp
        if newer and (profile.traits.get(key) != value or previous != stamp):
            profile.traits[key] = value
            profile.trait_times[key] = stamp
            changed = True
    return changed


def merge_traits(winner: Profile, loser: Profile) -> None:
    """Fold the loser's traits into the winner, last-write-wins per trait."""
    for key, value in loser.traits.items():
        stamp = loser.trait_times.get(key, "")
        if key not in winner.traits or winner.trait_times.get(key, "") < stamp:
            winner.traits[key] = value
            winner.trait_times[key] = stamp


def rebuild(
    workspace_id: str, profile_id: str, records: list[EventRecord], *, session_timeout: timedelta
) -> Profile:
    """Return a profile recomputed from its own events, as after an unmerge."""
    profile = Profile(workspace_id=workspace_id, profile_id=profile_id)
    for record in records:
        if record.type == "identify" and record.traits:
            set_traits(profile, record.traits, record.timestamp)
        apply_event(profile.computed, record, session_timeout=session_timeout)
    return profile
