"""Add click and open tracking: tracked links, their hits, deferred deep links, and each workspace's link settings.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)
TABLES = ("link_settings", "deferred_links", "link_hits", "tracked_links")


def upgrade() -> None:
    # Safe to re-run: a table that exists is left as it is (create_all checks first).
    meta = sa.MetaData()
    sa.Table(
        "tracked_links",
        meta,
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("send_key", sa.String(44), nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("screen", sa.Text),
        sa.Column("created_at", When, nullable=False),
        sa.Index("ix_tracked_links_send", "workspace_id", "send_key"),
    )
    sa.Table(
        "link_hits",
        meta,
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("link_id", sa.String(24), nullable=False),
        sa.Column("send_key", sa.String(44), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("bot", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False, server_default=""),
        sa.Column("route", sa.String(8), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Index("ix_link_hits_link", "link_id", "at"),
        sa.Index("ix_link_hits_send", "send_key", "at"),
    )
    sa.Table(
        "deferred_links",
        meta,
        sa.Column("click_id", sa.String(32), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("link_id", sa.String(24), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("os_version", sa.String(16), nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("claimed_at", When),
        sa.Index("ix_deferred_links_match", "workspace_id", "fingerprint", "created_at"),
    )
    sa.Table(
        "link_settings",
        meta,
        sa.Column("workspace_id", sa.String(40), primary_key=True),
        sa.Column("settings", Json, nullable=False),
        sa.Column("link_domain", sa.String(253)),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("link_domain", name="uq_link_settings_domain"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
