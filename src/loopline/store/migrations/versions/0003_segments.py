"""Add segments, their membership counts over time, and the indexes the mart's copy reads by.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _index_exists(table: str, name: str) -> bool:
    return any(index["name"] == name for index in sa.inspect(op.get_bind()).get_indexes(table))


def upgrade() -> None:
    # Safe to re-run, like 0002: what already exists is left as it is.
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("segments"):
        op.create_table(
            "segments",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("workspace_id", sa.String(length=40), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("definition", Json, nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("builtin", sa.String(length=40), nullable=True),
            sa.Column("member_count", sa.BigInteger(), nullable=True),
            sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("refreshed_version", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("workspace_id", "name", name="uq_segments_name"),
        )
    if not inspector.has_table("segment_counts"):
        op.create_table(
            "segment_counts",
            sa.Column("workspace_id", sa.String(length=40), nullable=False),
            sa.Column("segment_id", sa.String(length=40), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("members", sa.BigInteger(), nullable=False),
            sa.Column("entered", sa.BigInteger(), nullable=False),
            sa.Column("exited", sa.BigInteger(), nullable=False),
            sa.Column("full", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("segment_id", "at"),
        )
    if not _index_exists("profiles", "ix_profiles_updated"):
        with op.batch_alter_table("profiles", schema=None) as batch_op:
            batch_op.create_index("ix_profiles_updated", ["updated_at"], unique=False)
    if not _index_exists("consents", "ix_consents_updated"):
        with op.batch_alter_table("consents", schema=None) as batch_op:
            batch_op.create_index("ix_consents_updated", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_updated")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_updated")
    op.drop_table("segment_counts")
    op.drop_table("segments")
