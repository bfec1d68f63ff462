"""The workspaces' media buys in the operational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import media_buys


class MediaBuyNameTaken(Exception):
    """Another media buy of the workspace has this name."""


@dataclass(frozen=True, slots=True)
class MediaBuyRow:
    """One stored media buy."""

    id: str
    workspace_id: str
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SqlMediaBuyStore:
    """Media buys by workspace; every read and write names the workspace."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, row: MediaBuyRow) -> None:
        """Store a new media buy; raise MediaBuyNameTaken when the name is in use."""
        try:
            with self._writer.begin() as conn:
                conn.execute(media_buys.insert().values(**{k: getattr(row, k) for k in MediaBuyRow.__slots__}))
        except sa.exc.IntegrityError:
            raise MediaBuyNameTaken(row.name) from None

    def get(self, *, workspace_id: str, media_buy_id: str) -> MediaBuyRow | None:
        """Return one media buy of a workspace, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(media_buys.select().where(
                media_buys.c.workspace_id == workspace_id, media_buys.c.id == media_buy_id)).first()
        return _row(row) if row is not None else None

    def in_workspace(self, *, workspace_id: str) -> list[MediaBuyRow]:
        """Return the workspace's media buys, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(media_buys.select().where(media_buys.c.workspace_id == workspace_id)
                                .order_by(media_buys.c.created_at.desc(), media_buys.c.id)).all()
        return [_row(row) for row in rows]

    def replace(self, *, workspace_id: str, media_buy_id: str, name: str, definition: dict[str, Any],
                now: datetime) -> MediaBuyRow | None:
        """Replace a media buy's name and definition; return it, or None when the workspace has no such buy."""
        try:
            with self._writer.begin() as conn:
                changed = conn.execute(media_buys.update().where(
                    media_buys.c.workspace_id == workspace_id, media_buys.c.id == media_buy_id,
                ).values(name=name, definition=definition, updated_at=now)).rowcount
        except sa.exc.IntegrityError:
            raise MediaBuyNameTaken(name) from None
        return self.get(workspace_id=workspace_id, media_buy_id=media_buy_id) if changed else None

    def delete(self, *, workspace_id: str, media_buy_id: str) -> bool:
        """Remove a media buy; return whether there was one."""
        with self._writer.begin() as conn:
            return bool(conn.execute(media_buys.delete().where(
                media_buys.c.workspace_id == workspace_id, media_buys.c.id == media_buy_id)).rowcount)


def _row(row: Any) -> MediaBuyRow:
    values = as_dict(row)
    return MediaBuyRow(**{name: values[name] for name in MediaBuyRow.__slots__})
