"""The topic catalogue and the theme of customer-facing pages, in the operational store.

Every read and write names the workspace, so another workspace's topic key finds nothing
(tenant isolation: the API answers it like a topic that does not exist).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.ports import TopicRow
from loopline.store.sql.engine import writer
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import topics, workspace_themes
from loopline.store.sql.upsert import upsert


def _row(row: Any) -> TopicRow:
    created, updated = aware(row.created_at), aware(row.updated_at)
    assert created is not None  # both columns are NOT NULL
    assert updated is not None
    return TopicRow(row.workspace_id, row.key, row.label, row.description, list(row.channels), row.default_status,
                    created, updated)


class SqlTopicStore:
    """The ``topics`` and ``workspace_themes`` tables; one transaction per method."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def list_topics(self, *, workspace_id: str) -> list[TopicRow]:
        """Return the workspace's topics by label (then key, for labels that repeat)."""
        with self._engine.connect() as conn:
            rows = conn.execute(topics.select().where(topics.c.workspace_id == workspace_id)
                                .order_by(topics.c.label, topics.c.key)).all()
        return [_row(row) for row in rows]

    def get_topic(self, *, workspace_id: str, key: str) -> TopicRow | None:
        """Return one topic, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(topics.select().where(topics.c.workspace_id == workspace_id,
                                                     topics.c.key == key)).first()
        return _row(row) if row is not None else None

    def create_topic(self, row: TopicRow) -> bool:
        """Store a new topic; return False (storing nothing) when the workspace has one with its key."""
        try:
            with self._writer.begin() as conn:
                conn.execute(topics.insert().values(
                    workspace_id=row.workspace_id, key=row.key, label=row.label, description=row.description,
                    channels=row.channels, default_status=row.default_status, created_at=row.created_at,
                    updated_at=row.updated_at))
        except sa.exc.IntegrityError:
            return False
        return True

    def replace_topic(self, *, workspace_id: str, key: str, values: dict[str, Any], now: datetime) -> TopicRow | None:
        """Replace a topic's label, description, channels and default; None when there is no such topic."""
        with self._writer.begin() as conn:
            changed = conn.execute(topics.update().where(topics.c.workspace_id == workspace_id, topics.c.key == key)
                                   .values(**values, updated_at=now)).rowcount
        return self.get_topic(workspace_id=workspace_id, key=key) if changed else None

    def delete_topic(self, *, workspace_id: str, key: str) -> bool:
        """Remove a topic; return whether it existed (the consents recorded for it stay)."""
        with self._writer.begin() as conn:
            return bool(conn.execute(topics.delete().where(topics.c.workspace_id == workspace_id,
                                                           topics.c.key == key)).rowcount)

    def get_theme(self, *, workspace_id: str) -> dict[str, Any] | None:
        """Return the workspace's theme document, or None when it never set one."""
        with self._engine.connect() as conn:
            settings = conn.execute(sa.select(workspace_themes.c.settings)
                                    .where(workspace_themes.c.workspace_id == workspace_id)).scalar()
        return dict(settings) if settings is not None else None

    def put_theme(self, *, workspace_id: str, settings: dict[str, Any], now: datetime) -> None:
        """Store the workspace's theme document, replacing the one before."""
        # One statement, so two first saves at once cannot both insert.
        with self._writer.begin() as conn:
            upsert(conn, workspace_themes, [{"workspace_id": workspace_id, "settings": settings, "updated_at": now}],
                   keys=("workspace_id",), update=("settings", "updated_at"))
