"""Each customer's best time to receive a message, learned from when they pay attention.

A customer's attention is counted per hour of the week (168 slots, UTC): every session they
start and every message they open, tap or click adds one to the slot it happened in (kept on
the profile as the computed property ``active_hours``). A customer with a long history is
sent at their own busiest hour; one with little history leans on the workspace's pattern,
the prior: the score of a slot is the customer's own counts (smoothed over the neighbouring
hours, since a habit at 19:00 says something about 18:00 and 20:00) plus the prior's share
of that slot times ``PRIOR_WEIGHT`` pseudo-observations. A customer with no history at all
is sent at the workspace's busiest hour.

The hours are UTC hours of the week: a habit keeps its UTC hour across the customer's moves
between zones, and shifts by one hour at a daylight-saving change, which the smoothing
absorbs. Quiet hours and send windows always win: a slot inside them is never chosen, and
the decision still defers anything that would fall inside them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from loopline.domain import commerce
from loopline.domain.control_groups import in_holdout
from loopline.domain.engagement import all_engagement_events, engagement_events
from loopline.domain.receipts import EVENTS as RECEIPTS

HOURS_OF_WEEK = 168
PRIOR_WEIGHT = 4.0
"""How many observations the workspace's pattern is worth against a customer's own."""
SMOOTHING = ((-1, 0.25), (0, 0.5), (1, 0.25))
"""A habit at one hour says something about the hours beside it."""

ATTENTION_EVENTS = frozenset({
    *engagement_events("opened", None), *engagement_events("clicked", None), commerce.APP_OPENED,
})
"""Events that show the customer paying attention (besides the start of a session)."""
assert {*all_engagement_events(), commerce.APP_OPENED} >= ATTENTION_EVENTS
RECEIPT_EVENTS = frozenset({*RECEIPTS.values(), *engagement_events("received", None)}) - ATTENTION_EVENTS
"""A provider's or device's report that a message arrived: news of the message, not of the customer."""


def hour_of_week(at: datetime) -> int:
    """Return the UTC hour of the week of an instant: 0 is Monday 00:00–01:00 UTC, 167 Sunday 23:00."""
    utc = at.astimezone(UTC)
    return utc.weekday() * 24 + utc.hour


def count_attention(active_hours: dict[str, int], at: datetime) -> None:
    """Add one moment of attention at ``at`` to a customer's counts per hour of the week, in place."""
    slot = str(hour_of_week(at))
    active_hours[slot] = active_hours.get(slot, 0) + 1


def combine_hours(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Return the counts of two merged profiles."""
    combined = dict(a)
    for slot, count in b.items():
        combined[slot] = combined.get(slot, 0) + count
    return combined


def prior_of(counts: Mapping[int, float]) -> tuple[float, ...]:
    """Return the workspace's pattern as shares of the week's 168 hours (flat when nothing was seen)."""
    total = sum(max(0.0, counts.get(slot, 0.0)) for slot in range(HOURS_OF_WEEK))
    if total <= 0:
        return (1 / HOURS_OF_WEEK,) * HOURS_OF_WEEK
    return tuple(max(0.0, counts.get(slot, 0.0)) / total for slot in range(HOURS_OF_WEEK))


def scores(active_hours: Mapping[str, int] | None, prior: Sequence[float]) -> list[float]:
    """Return the score of every hour of the week for one customer: smoothed own counts plus the weighted prior."""
    own = [0.0] * HOURS_OF_WEEK
    for slot, count in (active_hours or {}).items():
        try:
            index = int(slot)
        except ValueError:
            continue  # not an hour of the week: ignore rather than fail a whole send
        if 0 <= index < HOURS_OF_WEEK and count > 0:
            own[index] += float(count)
    flat = 1 / HOURS_OF_WEEK
    return [
        sum(weight * own[(slot + shift) % HOURS_OF_WEEK] for shift, weight in SMOOTHING)
        + PRIOR_WEIGHT * (prior[slot] if len(prior) == HOURS_OF_WEEK else flat)
        for slot in range(HOURS_OF_WEEK)
    ]


def best_send_time(
    active_hours: Mapping[str, int] | None, prior: Sequence[float], *, start: datetime, end: datetime,
    allowed: Callable[[datetime], bool] = lambda _moment: True,
) -> datetime:
    """Return when to send from ``start`` until before ``end``: the best-scoring allowed hour.

    The candidates are ``start`` itself and the start of every following hour before ``end``;
    ``allowed`` rules out moments inside quiet hours or outside a send window. Ties go to the
    earliest candidate. When no candidate is allowed, ``start`` is returned and the contact
    policy defers the send as it would any other.
    """
    by_slot = scores(active_hours, prior)
    top_of_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    candidates = [start]
    following = top_of_hour + timedelta(hours=1)
    while following < end:
        candidates.append(following)
        following += timedelta(hours=1)
    best: tuple[float, datetime] | None = None
    for moment in candidates:
        if not allowed(moment):
            continue
        score = by_slot[hour_of_week(moment)]
        if best is None or score > best[0]:
            best = (score, moment)
    return best[1] if best is not None else start


def in_fixed_time_control(*, campaign_id: str, profile_id: str, percent: float) -> bool:
    """Return whether a treated customer is sent at the run's own time, to measure best-time sending against.

    A salt of its own makes the draw independent of the holdout and the variant.
    """
    return in_holdout(salt=f"{campaign_id}\x1fsend_time", profile_id=profile_id, percent=percent)
