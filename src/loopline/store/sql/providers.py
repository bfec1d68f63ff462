"""The workspaces' delivery providers in the operational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import channel_providers
from loopline.store.sql.upsert import upsert


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """One stored provider: public settings, sealed secrets, and the names of the secrets set."""

    workspace_id: str
    channel: str
    kind: str
    settings: dict[str, Any]
    sealed: bytes
    secret_names: list[str]
    updated_at: datetime


class SqlProviderStore:
    """One provider per workspace and channel."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def put(self, row: ProviderRow) -> None:
        """Store (or replace) a workspace's provider for a channel."""
        with self._writer.begin() as conn:
            values = {name: getattr(row, name) for name in ProviderRow.__slots__}
            upsert(conn, channel_providers, [values], keys=("workspace_id", "channel"),
                   update=("kind", "settings", "sealed", "secret_names", "updated_at"))

    def get(self, *, workspace_id: str, channel: str) -> ProviderRow | None:
        """Return a workspace's provider for a channel, if it has one."""
        with self._engine.connect() as conn:
            row = conn.execute(channel_providers.select().where(
                channel_providers.c.workspace_id == workspace_id, channel_providers.c.channel == channel)).first()
        return _row(row) if row is not None else None

    def in_workspace(self, *, workspace_id: str) -> list[ProviderRow]:
        """Return a workspace's providers, by channel."""
        with self._engine.connect() as conn:
            rows = conn.execute(channel_providers.select().where(channel_providers.c.workspace_id == workspace_id)
                                .order_by(channel_providers.c.channel)).all()
        return [_row(row) for row in rows]

    def delete(self, *, workspace_id: str, channel: str) -> bool:
        """Remove a workspace's provider for a channel; return whether there was one."""
        with self._writer.begin() as conn:
            return bool(conn.execute(channel_providers.delete().where(
                channel_providers.c.workspace_id == workspace_id, channel_providers.c.channel == channel)).rowcount)


def _row(row: Any) -> ProviderRow:
    values = as_dict(row)
    values["sealed"] = bytes(values["sealed"])
    values["secret_names"] = list(values["secret_names"] or [])
    return ProviderRow(**values)
