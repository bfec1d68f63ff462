"""Add media buys: paid placements whose UTM-tagged traffic, costs and conversions are measured.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table(
        "media_buys",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_media_buys_name"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("media_buys")
