"""Add landing pages: the pages personalised URLs in messages open for one customer.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table(
        "landing_pages",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("workspace_id", "slug", name="uq_landing_pages_slug"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("landing_pages")
