"""Counts for the console's overview, read from the operational store."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from loopline.store.sql.members import unindexed
from loopline.store.sql.tables import sends


class SqlOverviewReads:
    """Small aggregate reads over the send ledger (read-only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def sent_by_channel(self, *, workspace_id: str, since: datetime, until: datetime) -> dict[str, int]:
        """Return messages sent in ``[since, until)`` per channel (tests sends excluded).

        The console asks every 15 seconds. A send's ``updated_at`` is set with its ``sent_at``
        and only grows, so ``updated_at >= since`` holds for every row counted and lets the
        ledger's ``updated_at`` index read only today's changes. On SQLite the workspace and
        the state are guarded from the planner (``+column``), which would otherwise pick their
        indexes and read every send the workspace ever had.
        """
        with self._engine.connect() as conn:
            query = (
                sa.select(sends.c.channel, sa.func.count())
                .where(unindexed(conn, sends.c.workspace_id) == workspace_id, unindexed(conn, sends.c.state) == "sent",
                       sends.c.source_kind != "test", sends.c.updated_at >= since, sends.c.sent_at >= since,
                       sends.c.sent_at < until)
                .group_by(sends.c.channel)
            )
            return {str(channel): int(count) for channel, count in conn.execute(query).all()}
