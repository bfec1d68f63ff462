"""The suppression list in the operational store: addresses never to be messaged on a channel."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.domain.suppression_list import SuppressionEntry
from loopline.store.sql.engine import writer
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import contact_suppressions as table
from loopline.store.sql.upsert import upsert

# Keys per IN (…) query: far below every dialect's bind-parameter limit.
LOOKUP_CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    """A stored entry of the suppression list."""

    channel: str
    address: str
    reason: str
    note: str | None
    source: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SuppressionPage:
    """A page of entries and the (channel, address) the next page starts after."""

    items: list[SuppressionRow]
    next_after: tuple[str, str] | None


def _when(value: datetime) -> datetime:
    stamped = aware(value)
    assert stamped is not None  # the column is NOT NULL
    return stamped


def _row(row: Any) -> SuppressionRow:
    return SuppressionRow(
        row.channel, row.address, row.reason, row.note, row.source, _when(row.created_at), _when(row.updated_at)
    )


def _key() -> sa.Tuple:
    return sa.tuple_(table.c.channel, table.c.address)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), LOOKUP_CHUNK):
        yield items[start : start + LOOKUP_CHUNK]


class SqlSuppressionListStore:
    """Entries of each workspace's suppression list; every query is scoped to one workspace.

    The read methods take an optional ``conn`` so that delivery can check addresses inside
    the transaction that claims its messages; without one they open their own.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    @contextmanager
    def _reading(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is not None:
            yield conn
            return
        with self._engine.connect() as own:
            yield own

    def upsert_entries(self, *, workspace_id: str, entries: Sequence[SuppressionEntry], now: datetime) -> int:
        """Add entries or update their reason, note and source; return how many were new.

        ``entries`` must hold each (channel, address) once; an entry already listed keeps
        its ``created_at``.
        """
        keys = [entry.key for entry in entries]
        rows = [
            {
                "workspace_id": workspace_id,
                "channel": e.channel,
                "address": e.address,
                "reason": e.reason,
                "note": e.note,
                "source": e.source,
                "created_at": now,
                "updated_at": now,
            }
            for e in entries
        ]
        with self._writer.begin() as conn:
            existing = sum(
                len(
                    conn.execute(
                        sa.select(table.c.address).where(table.c.workspace_id == workspace_id, _key().in_(chunk))
                    ).all()
                )
                for chunk in _chunks(keys)
            )
            upsert(
                conn,
                table,
                rows,
                keys=["workspace_id", "channel", "address"],
                update=["reason", "note", "source", "updated_at"],
            )
        return len(rows) - existing

    def delete_entry(self, *, workspace_id: str, channel: str, address: str) -> bool:
        """Remove an entry; return whether there was one."""
        with self._writer.begin() as conn:
            result = conn.execute(
                table.delete().where(
                    table.c.workspace_id == workspace_id, table.c.channel == channel, table.c.address == address
                )
            )
        return result.rowcount > 0

    def get_entry(self, *, workspace_id: str, channel: str, address: str) -> SuppressionRow | None:
        """Return the entry for a normalised address on a channel, if listed."""
        with self._engine.connect() as conn:
            row = conn.execute(
                table.select().where(
                    table.c.workspace_id == workspace_id, table.c.channel == channel, table.c.address == address
                )
            ).first()
        return _row(row) if row else None

    def list_entries(
        self,
        *,
        workspace_id: str,
        limit: int,
        after: tuple[str, str] | None = None,
        channel: str | None = None,
        prefixes: Sequence[str] = (),
    ) -> SuppressionPage:
        """Return entries ordered by channel and address, optionally one channel's or matching a prefix."""
        query = table.select().where(table.c.workspace_id == workspace_id)
        if after is not None:
            query = query.where(_key() > sa.tuple_(*map(sa.literal, after)))
        if channel is not None:
            query = query.where(table.c.channel == channel)
        if prefixes:
            # substr rather than LIKE: the same case-sensitive answer on SQLite and
            # PostgreSQL, and no wildcard characters to escape.
            query = query.where(
                sa.or_(*(sa.func.substr(table.c.address, 1, len(prefix)) == prefix for prefix in prefixes))
            )
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.channel, table.c.address).limit(limit + 1)).all()
        items = [_row(r) for r in rows[:limit]]
        return SuppressionPage(items, (items[-1].channel, items[-1].address) if len(rows) > limit else None)

    def is_suppressed(
        self, *, workspace_id: str, channel: str, address: str, conn: sa.Connection | None = None
    ) -> bool:
        """Return whether a normalised address is on the list for a channel."""
        return bool(self.list_suppressed(workspace_id=workspace_id, channel=channel, addresses=[address], conn=conn))

    def list_suppressed(
        self, *, workspace_id: str, channel: str, addresses: Sequence[str], conn: sa.Connection | None = None
    ) -> set[str]:
        """Return which of many normalised addresses are on the list for a channel."""
        found: set[str] = set()
        unique = list(dict.fromkeys(addresses))
        with self._reading(conn) as reading:
            for chunk in _chunks(unique):
                found.update(
                    reading.execute(
                        sa.select(table.c.address).where(
                            table.c.workspace_id == workspace_id, table.c.channel == channel, table.c.address.in_(chunk)
                        )
                    ).scalars()
                )
        return found

    def list_entries_for(
        self, *, workspace_id: str, keys: Sequence[tuple[str, str]], conn: sa.Connection | None = None
    ) -> list[SuppressionRow]:
        """Return the entries of the given (channel, address) pairs that are listed, in key order."""
        rows: list[Any] = []
        unique = list(dict.fromkeys(keys))
        with self._reading(conn) as reading:
            for chunk in _chunks(unique):
                rows.extend(
                    reading.execute(table.select().where(table.c.workspace_id == workspace_id, _key().in_(chunk))).all()
                )
        return sorted((_row(r) for r in rows), key=lambda r: (r.channel, r.address))
