"""Workspaces and their API keys in the operational store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import api_keys, workspaces


@dataclass(frozen=True, slots=True)
class WorkspaceRow:
    """A workspace (tenant)."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A stored key: its digest, never its secret."""

    id: str
    workspace_id: str
    kind: str
    secret_hash: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class SqlWorkspaceStore:
    """Workspaces and keys on SQLite or PostgreSQL."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create_workspace(self, *, workspace_id: str, name: str, now: datetime) -> WorkspaceRow:
        """Insert a workspace."""
        with self._writer.begin() as conn:
            conn.execute(workspaces.insert().values(id=workspace_id, name=name, created_at=now))
        return WorkspaceRow(workspace_id, name, now)

    def get_workspace(self, *, workspace_id: str) -> WorkspaceRow | None:
        """Return a workspace by id."""
        with self._engine.connect() as conn:
            row = conn.execute(workspaces.select().where(workspaces.c.id == workspace_id)).first()
        return WorkspaceRow(row.id, row.name, aware(row.created_at)) if row else None  # type: ignore[arg-type]

    def list_workspaces(self) -> list[WorkspaceRow]:
        """Return every workspace, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(workspaces.select().order_by(workspaces.c.created_at)).all()
        return [WorkspaceRow(r.id, r.name, aware(r.created_at)) for r in rows]  # type: ignore[arg-type]

    def create_key(
        self, *, key_id: str, workspace_id: str, kind: str, secret_hash: str, label: str, now: datetime
    ) -> None:
        """Insert a key digest."""
        with self._writer.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id, workspace_id=workspace_id, kind=kind, secret_hash=secret_hash,
                    label=label, created_at=now,
                )
            )

    def get_key(self, *, key_id: str) -> KeyRow | None:
        """Return a key row by its public id."""
        with self._engine.connect() as conn:
            row = conn.execute(api_keys.select().where(api_keys.c.id == key_id)).first()
        return _key(row) if row else None

    def list_keys(self, *, workspace_id: str) -> list[KeyRow]:
        """Return a workspace's keys, revoked ones included."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                api_keys.select()
                .where(api_keys.c.workspace_id == workspace_id)
                .order_by(api_keys.c.created_at)
            ).all()
        return [_key(r) for r in rows]

    def revoke_key(self, *, workspace_id: str, key_id: str, now: datetime) -> bool:
        """Mark a key revoked; return False when the workspace has no such active key."""
        with self._writer.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.workspace_id == workspace_id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return result.rowcount == 1


def _key(row: sa.Row[tuple[object, ...]]) -> KeyRow:
    return KeyRow(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        secret_hash=row.secret_hash,
        label=row.label,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        revoked_at=aware(row.revoked_at),
    )
