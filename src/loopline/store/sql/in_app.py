"""In-app messages in the operational store: stored once per send key, read per customer, moved up by the SDK."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.domain.in_app import CANDIDATES, DUE_STATES, StoredMessage, states_below
from loopline.store.sql.engine import writer
from loopline.store.sql.members import one_of
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import in_app_messages
from loopline.store.sql.upsert import upsert

CHUNK = 500


def _message(row: Any) -> StoredMessage:
    created, expires = aware(row.created_at), aware(row.expires_at)
    assert created is not None  # both columns are NOT NULL
    assert expires is not None
    return StoredMessage(
        send_key=row.send_key, workspace_id=row.workspace_id, profile_id=row.profile_id, source_id=row.source_id,
        title=row.title, body=row.body, url=row.url, options=dict(row.options or {}), state=row.state,
        created_at=created, expires_at=expires,
    )


class SqlInAppStore:
    """The ``in_app_messages`` table; every read names its workspace."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def put_messages(self, *, rows: Sequence[dict[str, Any]]) -> None:
        """Store messages; a send key already stored keeps its row (and its state) as it is."""
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            first.setdefault(row["send_key"], row)
        unique = list(first.values())
        with self._writer.begin() as conn:
            upsert(conn, in_app_messages, unique, keys=("send_key",))

    def list_live(self, *, workspace_id: str, profile_ids: Sequence[str], now: datetime,
                  limit: int = CANDIDATES) -> list[StoredMessage]:
        """Return the customer's newest messages that are neither expired nor closed (clicked, dismissed)."""
        if not profile_ids:
            return []
        table = in_app_messages
        with self._engine.connect() as conn:
            rows = conn.execute(table.select().where(
                table.c.workspace_id == workspace_id, one_of(conn, table.c.profile_id, list(profile_ids)),
                table.c.state.in_(DUE_STATES), table.c.expires_at > now,
            ).order_by(table.c.created_at.desc(), table.c.send_key).limit(limit)).all()
        return [_message(row) for row in rows]

    def get_message(self, *, workspace_id: str, send_key: str) -> StoredMessage | None:
        """Return one message of the workspace, or None."""
        table = in_app_messages
        with self._engine.connect() as conn:
            row = conn.execute(table.select().where(
                table.c.send_key == send_key, table.c.workspace_id == workspace_id)).first()
        return _message(row) if row is not None else None

    def raise_state(self, *, workspace_id: str, send_key: str, state: str, now: datetime) -> bool:
        """Move a message up to ``state``; return whether it moved (a lower or equal state changes nothing)."""
        table = in_app_messages
        with self._writer.begin() as conn:
            moved = conn.execute(table.update().where(
                table.c.send_key == send_key, table.c.workspace_id == workspace_id,
                table.c.state.in_(states_below(state)),
            ).values(state=state, updated_at=now)).rowcount
        return bool(moved)

    def received(self, send_keys: Sequence[str]) -> set[str]:
        """Return which of these send keys are stored."""
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(send_keys), CHUNK):
                chunk = list(send_keys[start : start + CHUNK])
                found.update(conn.execute(sa.select(in_app_messages.c.send_key).where(
                    one_of(conn, in_app_messages.c.send_key, chunk))).scalars())
        return found

    def list_stored_since(self, *, since: datetime,
                          audience: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """Return (workspace, profile, send key) of the messages stored since ``since`` for these customers."""
        table = in_app_messages
        by_workspace: dict[str, list[str]] = {}
        for workspace_id, profile_id in sorted(set(audience)):
            by_workspace.setdefault(workspace_id, []).append(profile_id)
        found: list[tuple[str, str, str]] = []
        with self._engine.connect() as conn:
            for workspace_id, profile_ids in by_workspace.items():
                for start in range(0, len(profile_ids), CHUNK):
                    found.extend((workspace_id, row.profile_id, row.send_key) for row in conn.execute(
                        sa.select(table.c.profile_id, table.c.send_key).where(
                            table.c.workspace_id == workspace_id,
                            one_of(conn, table.c.profile_id, profile_ids[start : start + CHUNK]),
                            table.c.created_at >= since)))
        return found

    def forget_profile(self, *, workspace_id: str, profile_id: str) -> int:
        """Delete a person's in-app messages (erasure); return how many."""
        table = in_app_messages
        with self._writer.begin() as conn:
            return int(conn.execute(table.delete().where(
                table.c.workspace_id == workspace_id, table.c.profile_id == profile_id)).rowcount)
