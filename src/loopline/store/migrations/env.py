"""Alembic environment: migrations run on a connection handed in by ``upgrade``."""

from __future__ import annotations

from alembic import context

from loopline.store.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
