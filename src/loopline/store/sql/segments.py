"""Segment definitions and their membership counts over time, in the operational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import segment_counts, segments


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A stored segment."""

    id: str
    workspace_id: str
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    builtin: str | None
    member_count: int | None
    refreshed_at: datetime | None
    refreshed_version: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CountRow:
    """Membership after one refresh."""

    at: datetime
    members: int
    entered: int
    exited: int
    full: bool


class NameTaken(ValueError):
    """Another segment of the workspace has this name."""


def _segment(row: Any) -> SegmentRow:
    values = dict(row._mapping)
    for name in ("refreshed_at", "created_at", "updated_at"):
        values[name] = aware(values[name])
    return SegmentRow(**values)


class SqlSegmentStore:
    """Segments per workspace; every write is one transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, row: SegmentRow) -> None:
        """Store a new segment; raise NameTaken when the name is in use."""
        try:
            with self._writer.begin() as conn:
                conn.execute(segments.insert().values(**_values(row)))
        except sa.exc.IntegrityError:
            raise NameTaken(row.name) from None

    def update(
        self, *, workspace_id: str, segment_id: str, name: str, description: str,
        definition: dict[str, Any], now: datetime,
    ) -> SegmentRow | None:
        """Replace a segment's definition (its version goes up by one); None when not found."""
        try:
            with self._writer.begin() as conn:
                done = conn.execute(
                    segments.update()
                    .where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
                    .values(name=name, description=description, definition=definition,
                            version=segments.c.version + 1, updated_at=now)
                )
                if not done.rowcount:
                    return None
        except sa.exc.IntegrityError:
            raise NameTaken(name) from None
        return self.get(workspace_id=workspace_id, segment_id=segment_id)

    def get(self, *, workspace_id: str, segment_id: str) -> SegmentRow | None:
        """Return one segment of the workspace."""
        with self._engine.connect() as conn:
            row = conn.execute(
                segments.select().where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
            ).first()
        return _segment(row) if row is not None else None

    def in_workspace(self, *, workspace_id: str) -> list[SegmentRow]:
        """Return the workspace's segments by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                segments.select().where(segments.c.workspace_id == workspace_id).order_by(segments.c.name)
            )
            return [_segment(row) for row in rows]

    def delete(self, *, workspace_id: str, segment_id: str) -> bool:
        """Delete a segment and its counts; return whether it existed."""
        with self._writer.begin() as conn:
            conn.execute(segment_counts.delete().where(
                segment_counts.c.workspace_id == workspace_id, segment_counts.c.segment_id == segment_id))
            done = conn.execute(
                segments.delete().where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
            )
            return bool(done.rowcount)

    def record_refresh(
        self, *, workspace_id: str, segment_id: str, version: int, count: CountRow,
    ) -> None:
        """Store a refresh's membership count, and the segment's current size."""
        with self._writer.begin() as conn:
            conn.execute(
                segments.update()
                .where(segments.c.workspace_id == workspace_id, segments.c.id == segment_id)
                .values(member_count=count.members, refreshed_at=count.at, refreshed_version=version)
            )
            # Two refreshes stamped with the same instant (a clock that does not move between
            # them) make one point: the later size, the changes of both.
            module = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = module.insert(segment_counts).values(
                workspace_id=workspace_id, segment_id=segment_id, at=count.at, members=count.members,
                entered=count.entered, exited=count.exited, full=count.full,
            )
            conn.execute(statement.on_conflict_do_update(
                index_elements=["segment_id", "at"],
                set_={"members": statement.excluded.members,
                      "entered": segment_counts.c.entered + statement.excluded.entered,
                      "exited": segment_counts.c.exited + statement.excluded.exited,
                      "full": sa.or_(segment_counts.c.full, statement.excluded.full)},
            ))

    def counts(self, *, workspace_id: str, segment_id: str, since: datetime | None = None) -> list[CountRow]:
        """Return the membership counts over time, oldest first."""
        query = segment_counts.select().where(
            segment_counts.c.workspace_id == workspace_id, segment_counts.c.segment_id == segment_id
        ).order_by(segment_counts.c.at)
        if since is not None:
            query = query.where(segment_counts.c.at >= since)
        with self._engine.connect() as conn:
            return [
                CountRow(aware(r.at), r.members, r.entered, r.exited, r.full)  # type: ignore[arg-type]
                for r in conn.execute(query)
            ]


def _values(row: SegmentRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SegmentRow.__dataclass_fields__}
