"""Add campaigns, the send ledger, contact policies and the sandbox channel's outbox.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)
TABLES = ("campaigns", "sends", "contact_policies", "sandbox_outbox")


def upgrade() -> None:
    # Safe to re-run: tables that exist are left as they are (create_all checks first).
    meta = sa.MetaData()
    # Campaigns: the definition (JSON, validated by domain.campaigns), where the lifecycle
    # stands, and the run's durable progress: which occurrence is running, the cursor (the
    # last profile id whose sends are settled), and a lease so only one scheduler runs it.
    sa.Table(
        "campaigns",
        meta,
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("next_run_at", When),
        sa.Column("occurrence", sa.String(40)),
        sa.Column("run_started_at", When),
        sa.Column("cursor", sa.String(40), nullable=False, server_default=""),
        sa.Column("audience_done", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("claimed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", When),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("completed_at", When),
        sa.UniqueConstraint("workspace_id", "name", name="uq_campaigns_name"),
        sa.Index("ix_campaigns_due", "status", "next_run_at"),
    )

    # The send ledger: one row per intended message, named by its send key. The unique key
    # is what makes a claim idempotent (a resumed run, a second scheduler, a redelivered
    # trigger find the row instead of sending again). ``payload`` holds the rendered message
    # until it is handed over; erasure removes it with the rest of the person.
    sa.Table(
        "sends",
        meta,
        sa.Column("send_key", sa.String(44), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(40), nullable=False),
        sa.Column("step", sa.String(100), nullable=False, server_default=""),
        sa.Column("occurrence", sa.String(64), nullable=False, server_default=""),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(512)),
        sa.Column("variant", sa.String(200)),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("rank", sa.SmallInteger, nullable=False, server_default="5"),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("offer", sa.String(200)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
        sa.Column("not_before", When),
        sa.Column("expires_at", When),
        sa.Column("payload", Json),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("sent_at", When),
        sa.Index("ix_sends_profile", "workspace_id", "profile_id", "created_at"),
        sa.Index("ix_sends_due", "state", "not_before"),
        sa.Index("ix_sends_source", "source_id", "occurrence", "state"),
    )

    # The workspace's contact policy (caps, quiet hours, consent rules, global control group).
    sa.Table(
        "contact_policies",
        meta,
        sa.Column("workspace_id", sa.String(40), primary_key=True),
        sa.Column("policy", Json, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )

    # What the sandbox channel "delivered": the console's outbox, one row per send key.
    sa.Table(
        "sandbox_outbox",
        meta,
        sa.Column("send_key", sa.String(44), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(512)),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("source_id", sa.String(40), nullable=False),
        sa.Column("delivered_at", When, nullable=False),
        sa.Index("ix_sandbox_outbox_workspace", "workspace_id", "delivered_at"),
    )
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
