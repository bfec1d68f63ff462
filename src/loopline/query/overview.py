"""The console overview's live activity: a workspace's events per minute, as SQL for the mart."""

from __future__ import annotations

from datetime import datetime

from loopline.domain.segments.membership import MEMBERSHIP_SOURCE
from loopline.query.dialects import Dialect
from loopline.query.segments import ACTIVITY_TYPES


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
