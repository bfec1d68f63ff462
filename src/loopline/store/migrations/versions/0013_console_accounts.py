"""Add console accounts: users, their roles per workspace, signed-in sessions and the audit log.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table("workspaces", meta, sa.Column("id", sa.String(40), primary_key=True))
    sa.Table(
        "console_users",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("disabled_at", When),
        sa.UniqueConstraint("email", name="uq_console_users_email"),
    )
    sa.Table(
        "console_memberships",
        meta,
        sa.Column("user_id", sa.String(40), sa.ForeignKey("console_users.id"), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Index("ix_console_memberships_workspace", "workspace_id"),
    )
    sa.Table(
        "console_sessions",
        meta,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("console_users.id"), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("seen_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(200), nullable=False, server_default=""),
        sa.Index("ix_console_sessions_user", "user_id"),
    )
    sa.Table(
        "console_audit",
        meta,
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("at", When, nullable=False),
        sa.Column("user_id", sa.String(40)),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("workspace_id", sa.String(40)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(254), nullable=False, server_default=""),
        sa.Column("detail", Json, nullable=False),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
        sa.Index("ix_console_audit_workspace", "workspace_id", "at"),
        sa.Index("ix_console_audit_at", "at"),
    )
    tables = [meta.tables[name] for name in ("console_users", "console_memberships", "console_sessions",
                                             "console_audit")]
    meta.create_all(op.get_bind(), tables=tables, checkfirst=True)


def downgrade() -> None:
    for name in ("console_audit", "console_sessions", "console_memberships", "console_users"):
        op.drop_table(name)
