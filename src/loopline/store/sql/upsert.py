"""INSERT … ON CONFLICT for both SQL dialects, with the same call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert rows, updating ``update`` columns (or nothing) where the key already exists."""
    if not rows:
        return
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in update},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    # Chunked so PostgreSQL's 65k bind-parameter limit is never reached.
    chunk = max(1, 30_000 // max(1, len(rows[0])))
    for start in range(0, len(rows), chunk):
        conn.execute(statement, list(rows[start : start + chunk]))
