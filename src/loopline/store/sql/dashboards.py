"""Console users' personal dashboards in the operational store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.ports import DashboardRow
from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import console_dashboards


class SqlDashboardStore:
    """Dashboards by owner: every read and write names the workspace and the user, so nobody reaches another's."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, row: DashboardRow) -> None:
        """Store a new dashboard."""
        with self._writer.begin() as conn:
            conn.execute(console_dashboards.insert().values(
                id=row.id, workspace_id=row.workspace_id, user_id=row.user_id, name=row.name,
                reports=row.reports, created_at=row.created_at, updated_at=row.updated_at))

    def get(self, *, workspace_id: str, user_id: str, dashboard_id: str) -> DashboardRow | None:
        """Return one of the user's dashboards in the workspace, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(console_dashboards.select().where(*_owned(workspace_id, user_id),
                                                                 console_dashboards.c.id == dashboard_id)).first()
        return _row(row) if row is not None else None

    def for_user(self, *, workspace_id: str, user_id: str) -> list[DashboardRow]:
        """Return the user's dashboards in the workspace, by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(console_dashboards.select().where(*_owned(workspace_id, user_id))
                                .order_by(console_dashboards.c.name, console_dashboards.c.id)).all()
        return [_row(row) for row in rows]

    def update(self, *, workspace_id: str, user_id: str, dashboard_id: str, name: str,
               reports: list[dict[str, Any]], now: datetime) -> DashboardRow | None:
        """Replace a dashboard's name and reports; return it, or None when the user has no such dashboard."""
        with self._writer.begin() as conn:
            changed = conn.execute(console_dashboards.update().where(
                *_owned(workspace_id, user_id), console_dashboards.c.id == dashboard_id,
            ).values(name=name, reports=reports, updated_at=now)).rowcount
        return self.get(workspace_id=workspace_id, user_id=user_id, dashboard_id=dashboard_id) if changed else None

    def delete(self, *, workspace_id: str, user_id: str, dashboard_id: str) -> bool:
        """Remove a dashboard; return whether the user had it."""
        with self._writer.begin() as conn:
            return bool(conn.execute(console_dashboards.delete().where(
                *_owned(workspace_id, user_id), console_dashboards.c.id == dashboard_id)).rowcount)


def _owned(workspace_id: str, user_id: str) -> tuple[Any, ...]:
    return console_dashboards.c.workspace_id == workspace_id, console_dashboards.c.user_id == user_id


def _row(row: Any) -> DashboardRow:
    values = as_dict(row)
    return DashboardRow(id=values["id"], workspace_id=values["workspace_id"], user_id=values["user_id"],
                        name=values["name"], reports=list(values["reports"]), created_at=values["created_at"],
                        updated_at=values["updated_at"])
