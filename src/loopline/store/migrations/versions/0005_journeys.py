"""Add journeys, their versions, and enrolments.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)
TABLES = ("journeys", "journey_versions", "enrollments")


def upgrade() -> None:
    # Safe to re-run: tables that exist are left as they are (create_all checks first).
    meta = sa.MetaData()
    # Journeys: the current version number and status; every version's definition is kept,
    # because enrolments finish on the version they started with.
    sa.Table(
        "journeys",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("active_since", When),  # events received before it do not trigger entries
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_journeys_name"),
    )

    sa.Table(
        "journey_versions",
        meta,
        sa.Column("journey_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", Json, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )

    # One customer's way through a journey. ``entry_key`` makes entering idempotent: "once"
    # for once-only journeys (so a second entry can never be stored), else the triggering
    # event's message id (so a redelivered or replayed trigger finds the enrolment).
    sa.Table(
        "enrollments",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("journey_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("entry_key", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("wake_at", When),
        sa.Column("waiting_for", Json),
        sa.Column("visits", sa.Integer, nullable=False),
        sa.Column("done_reason", sa.String(32), nullable=False, server_default=""),
        sa.Column("trigger", Json, nullable=False),
        sa.Column("entered_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("journey_id", "profile_id", "entry_key", name="uq_enrollments_entry"),
        sa.Index("ix_enrollments_wake", "state", "wake_at"),
        sa.Index("ix_enrollments_profile", "workspace_id", "profile_id", "state"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
