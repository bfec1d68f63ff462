"""Add the topic catalogue and the per-workspace theme of customer-facing pages.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table(
        "topics",
        meta,
        sa.Column("workspace_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("channels", Json, nullable=False),
        sa.Column("default_status", sa.String(16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    sa.Table(
        "workspace_themes",
        meta,
        sa.Column("workspace_id", sa.String(40), primary_key=True),
        sa.Column("settings", Json, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    tables = [meta.tables[name] for name in ("topics", "workspace_themes")]
    meta.create_all(op.get_bind(), tables=tables, checkfirst=True)


def downgrade() -> None:
    for name in ("workspace_themes", "topics"):
        op.drop_table(name)
