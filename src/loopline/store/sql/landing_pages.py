"""Landing pages in the operational store: one row per page, its slug unique in its workspace.

Every read and write names the workspace, so a page id or slug from another workspace finds
nothing (tenant isolation: the management API answers it like a page that does not exist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.store.sql.engine import writer
from loopline.store.sql.members import one_of
from loopline.store.sql.rows import aware
from loopline.store.sql.tables import landing_pages


class SlugTaken(ValueError):
    """Another page of the workspace has this slug already."""


@dataclass(frozen=True, slots=True)
class LandingPageRow:
    """A stored landing page; ``definition`` is the document domain.landing_pages validates."""

    id: str
    workspace_id: str
    slug: str
    title: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _row(row: Any) -> LandingPageRow:
    created, updated = aware(row.created_at), aware(row.updated_at)
    assert created is not None  # both columns are NOT NULL
    assert updated is not None
    return LandingPageRow(row.id, row.workspace_id, row.slug, row.title, dict(row.definition), created, updated)


class SqlLandingPageStore:
    """The ``landing_pages`` table; one transaction per method."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def list_pages(self, *, workspace_id: str) -> list[LandingPageRow]:
        """Return the workspace's pages by slug."""
        table = landing_pages
        with self._engine.connect() as conn:
            rows = conn.execute(table.select().where(table.c.workspace_id == workspace_id)
                                .order_by(table.c.slug)).all()
        return [_row(row) for row in rows]

    def get_page(self, *, workspace_id: str, page_id: str) -> LandingPageRow | None:
        """Return one page of the workspace by id, or None."""
        table = landing_pages
        with self._engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.workspace_id == workspace_id,
                                                    table.c.id == page_id)).first()
        return _row(row) if row is not None else None

    def get_by_slug(self, *, workspace_id: str, slug: str) -> LandingPageRow | None:
        """Return the workspace's page with this slug, or None."""
        table = landing_pages
        with self._engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.workspace_id == workspace_id,
                                                    table.c.slug == slug)).first()
        return _row(row) if row is not None else None

    def existing_slugs(self, *, workspace_id: str, slugs: Sequence[str]) -> set[str]:
        """Return which of these slugs name a page of the workspace."""
        wanted = sorted(set(slugs))
        if not wanted:
            return set()
        table = landing_pages
        with self._engine.connect() as conn:
            return {str(slug) for slug in conn.execute(sa.select(table.c.slug).where(
                table.c.workspace_id == workspace_id, one_of(conn, table.c.slug, wanted))).scalars()}

    def create_page(self, *, row: dict[str, Any]) -> LandingPageRow:
        """Store a new page; raise SlugTaken when the workspace has one with its slug."""
        try:
            with self._writer.begin() as conn:
                conn.execute(landing_pages.insert().values(**row))
        except sa.exc.IntegrityError:
            raise SlugTaken(row["slug"]) from None
        found = self.get_page(workspace_id=row["workspace_id"], page_id=row["id"])
        assert found is not None  # just written
        return found

    def update_page(self, *, workspace_id: str, page_id: str, values: dict[str, Any]) -> LandingPageRow | None:
        """Replace a page's slug, title and definition; None when it does not exist, SlugTaken on a clash."""
        table = landing_pages
        try:
            with self._writer.begin() as conn:
                changed = conn.execute(table.update().where(table.c.workspace_id == workspace_id,
                                                            table.c.id == page_id).values(**values)).rowcount
        except sa.exc.IntegrityError:
            raise SlugTaken(values.get("slug", "")) from None
        return self.get_page(workspace_id=workspace_id, page_id=page_id) if changed else None

    def delete_page(self, *, workspace_id: str, page_id: str) -> bool:
        """Delete a page; return whether it existed."""
        table = landing_pages
        with self._writer.begin() as conn:
            return bool(conn.execute(table.delete().where(table.c.workspace_id == workspace_id,
                                                          table.c.id == page_id)).rowcount)
