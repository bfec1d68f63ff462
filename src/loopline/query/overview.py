"""The console overview's figures as SQL for the mart: events per minute, and orders credited to messages."""

from __future__ import annotations

from datetime import datetime

from loopline.domain.commerce import ORDER_COMPLETED
from loopline.domain.segments.membership import MEMBERSHIP_SOURCE
from loopline.query.dialects import Dialect
from loopline.query.segments import ACTIVITY_TYPES, owned_events


def events_per_minute(dialect: Dialect, *, workspace_id: str, since: datetime, until: datetime) -> str:
    """Return SQL counting the workspace's events per minute in ``[since, until)``: (epoch µs, events).

    Events are counted as the analytics reports count them (track, page and screen, not the
    platform's own segment membership events), whether or not their owner is known yet, so a
    burst of anonymous traffic shows at once.
    """
    types = ", ".join(dialect.text(kind) for kind in ACTIVITY_TYPES)
    minute = dialect.epoch_us(dialect.minute('"timestamp"'))
    return (
        f"SELECT {minute} AS m, count(*) FROM events WHERE workspace_id = {dialect.text(workspace_id)}"
        f" AND type IN ({types}) AND source <> {dialect.text(MEMBERSHIP_SOURCE)}"
        f' AND "timestamp" >= {dialect.instant(since)} AND "timestamp" < {dialect.instant(until)} GROUP BY m'
    )


def _order_value(dialect: Dialect, column: str) -> str:
    # As commerce.order_value: ``revenue`` when the order names one, else ``total``.
    return f"coalesce({dialect.json_number(column, ['revenue'])}, {dialect.json_number(column, ['total'])}, 0)"


def _orders(dialect: Dialect, workspace_id: str, since: datetime, until: datetime) -> str:
    return (
        f"SELECT o.seq, o.profile_id, o.ts, {_order_value(dialect, 'o.properties')} AS value"
        f" FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.type = 'track' AND o.event = {dialect.text(ORDER_COMPLETED)}"
        f" AND o.ts >= {dialect.instant(since)} AND o.ts < {dialect.instant(until)}"
    )


def orders_sql(dialect: Dialect, *, workspace_id: str, since: datetime, until: datetime) -> str:
    """Return SQL of the workspace's completed orders in ``[since, until)``: (orders, their value)."""
    return f"SELECT count(*), coalesce(sum(value), 0) FROM ({_orders(dialect, workspace_id, since, until)}) x"


def attributed_orders_sql(dialect: Dialect, *, workspace_id: str, since: datetime, until: datetime,
                          window_days: int) -> str:
    """Return SQL crediting each completed order in ``[since, until)`` to the last message sent before it.

    Last touch: of the messages sent to the buyer in the ``window_days`` before the order, the
    latest one gets the order and its value. Rows: (source kind, campaign or journey id,
    orders, value). Orders with no message in the window are not returned.
    """
    latest_first = f"-{dialect.epoch_us('s.sent_at')}"
    source = "coalesce(s.campaign_id, s.journey_id)"
    credited = (
        f"SELECT o.seq, {dialect.first_by('s.source_kind', latest_first, 's.send_key')} AS kind,"
        f" {dialect.first_by(source, latest_first, 's.send_key')} AS source_id, max(o.value) AS value"
        f" FROM ({_orders(dialect, workspace_id, since, until)}) o"
        f" JOIN mart_sends s ON s.profile_id = o.profile_id"
        f" WHERE s.workspace_id = {dialect.text(workspace_id)} AND s.status = 'sent' AND s.sent_at IS NOT NULL"
        f" AND s.sent_at <= o.ts AND s.sent_at > {dialect.plus_minutes('o.ts', -window_days * 1440)}"
        " GROUP BY o.seq"
    )
    return f"SELECT kind, source_id, count(*), sum(value) FROM ({credited}) c GROUP BY kind, source_id"
