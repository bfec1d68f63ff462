"""Add in-app messages: each customer's messages for the SDK to show, and what they did with them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table(
        "in_app_messages",
        meta,
        sa.Column("send_key", sa.String(44), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("source_id", sa.String(40), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("options", Json, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_in_app_messages_profile", "workspace_id", "profile_id", "created_at"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("in_app_messages")
