"""Counts for the console's overview, read from the operational store."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from loopline.store.sql.tables import sends


class SqlOverviewReads:
    """Small aggregate reads over the send ledger (read-only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def sent_by_channel(self, *, workspace_id: str, since: datetime, until: datetime) -> dict[str, int]:
        """Return messages sent in ``[since, until)`` per channel (tests sends excluded)."""
        query = (
            sa.select(sends.c.channel, sa.func.count())
            .where(sends.c.workspace_id == workspace_id, sends.c.state == "sent",
                   sends.c.source_kind != "test", sends.c.sent_at >= since, sends.c.sent_at < until)
            .group_by(sends.c.channel)
        )
        with self._engine.connect() as conn:
            return {str(channel): int(count) for channel, count in conn.execute(query).all()}
