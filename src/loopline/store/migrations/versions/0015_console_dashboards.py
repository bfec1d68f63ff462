"""Add console dashboards: a user's named collections of saved analytics reports per workspace.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    table = sa.Table(
        "console_dashboards",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("reports", Json, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Index("ix_console_dashboards_owner", "workspace_id", "user_id"),
    )
    meta.create_all(op.get_bind(), tables=[table], checkfirst=True)


def downgrade() -> None:
    op.drop_table("console_dashboards")
