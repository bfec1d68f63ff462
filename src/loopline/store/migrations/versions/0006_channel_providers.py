"""Add the workspaces' delivery providers, with their credentials sealed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    # One provider per workspace and channel: its public settings, and its secrets sealed
    # with the secrets key (never stored in the clear, never returned).
    sa.Table(
        "channel_providers",
        meta,
        sa.Column("workspace_id", sa.String(40), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("secret_names", Json, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("channel_providers")
