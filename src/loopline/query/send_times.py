"""The query behind best-time sending: a workspace's attention per hour of the week."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from loopline.query.dialects import Dialect
from loopline.query.segments import owned_events


def attention_by_hour_sql(dialect: Dialect, *, workspace_id: str, events: Iterable[str], since: datetime) -> str:
    """Return (UTC hour of the week, count) of the workspace's attention events since ``since``.

    Only customers' events count (an owner is known); hour 0 is Monday 00:00 UTC, as in
    ``domain.send_times.hour_of_week``.
    """
    names = ", ".join(dialect.text(name) for name in sorted(set(events)))
    slot = f"{dialect.weekday('o.ts')} * 24 + {dialect.hour('o.ts')}"
    return (
        f"SELECT {slot} AS slot, count(*) AS attention FROM ({owned_events(dialect, workspace_id)}) o"
        f" WHERE o.profile_id IS NOT NULL AND o.event IN ({names}) AND o.ts >= {dialect.instant(since)}"
        " GROUP BY 1 ORDER BY 1"
    )
