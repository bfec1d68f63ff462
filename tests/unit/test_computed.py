"""Computed properties: orders, revenue net of cancellations and returns, sessions, favourites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.events import EventRecord
from loopline.domain.profiles import Computed, apply_event, combine

T0 = datetime(2026, 3, 1, tzinfo=UTC)
GAP = timedelta(minutes=30)


def track(event: str, minutes: int, **props: Any) -> EventRecord:
    return EventRecord(
        workspace_id="ws", message_id=f"{event}{minutes}", type="track", event=event, user_id="u",
        anonymous_id=None, timestamp=T0 + timedelta(minutes=minutes), received_at=T0,
        sent_at=None, original_timestamp=None, timestamp_flag=None, properties=props,
    )


def fold(*records: EventRecord) -> Computed:
    computed = Computed()
    for record in records:
        apply_event(computed, record, session_timeout=GAP)
    return computed


def test_revenue_is_net_of_cancellations_refunds_and_returns():
    c = fold(
        track("Order Completed", 0, order_id="o1", revenue=100.0,
              products=[{"category": "shoes"}, {"category": "shoes"}, {"category": "bags"}]),
        track("Order Completed", 5, order_id="o2", total=50),
        track("Order Cancelled", 6, order_id="o2", total=50),
        track("Product Returned", 7, order_id="o1", price=20.0, quantity=2),
        track("Order Refunded", 8, order_id="o1", total=36),
    )
    assert (c.orders, c.cancelled_orders, c.returns, c.refunds) == (2, 1, 1, 1)
    assert c.gross_revenue == 150.0
    # The refund of o1 repays its returned goods: counted once, at the larger value.
    assert c.net_revenue == 150.0 - 50 - 40
    assert c.return_rate == 0.5
    assert c.favourite_category == "shoes"
    assert c.last_order_at == T0 + timedelta(minutes=5)


def test_a_refund_without_returned_lines_still_counts():
    c = fold(track("Order Completed", 0, order_id="o1", total=100),
             track("Order Refunded", 5, order_id="o1", total=25))
    assert c.net_revenue == 75.0
    assert c.return_rate == 1.0


def test_sessions_split_on_thirty_minutes_of_inactivity():
    c = fold(track("a", 0), track("b", 10), track("c", 45), track("d", 200))
    assert c.sessions == 3
    assert c.first_seen == T0
    assert c.last_session_at == T0 + timedelta(minutes=200)


def test_engagement_counters():
    c = fold(track("Email Opened", 0), track("Email Link Clicked", 1),
             track("Push Notification Received", 2), track("Push Notification Tapped", 3))
    assert (c.emails_opened, c.emails_clicked, c.pushes_received, c.pushes_tapped) == (1, 1, 1, 1)


def test_combine_adds_counts_and_keeps_extremes():
    a = fold(track("Order Completed", 0, revenue=10), track("Product Viewed", 1, category="x"))
    b = fold(track("Order Completed", 100, revenue=5), track("Product Viewed", 101, category="x"))
    both = combine(a, b)
    assert both.orders == 2
    assert both.gross_revenue == 15
    assert both.first_seen == T0
    assert both.last_seen == T0 + timedelta(minutes=101)
    assert both.category_counts == {"x": 2}


def test_json_round_trip():
    c = fold(track("Order Completed", 0, revenue=10))
    assert Computed.from_json(c.as_json()) == c
