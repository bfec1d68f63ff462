"""Count the links journey enrolments follow, so every path of a journey's flow has an exact count.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Safe to re-run: a table or column that exists is left as it is.
    bind = op.get_bind()
    meta = sa.MetaData()
    table = sa.Table(
        "journey_moves",
        meta,
        sa.Column("journey_id", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("target", sa.String(64), primary_key=True),  # "" where the path ends
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("moves", sa.BigInteger, nullable=False),
    )
    meta.create_all(bind, tables=[table], checkfirst=True)
    if not any(column["name"] == "moves_counted" for column in sa.inspect(bind).get_columns("journeys")):
        op.add_column("journeys", sa.Column("moves_counted", sa.Boolean, nullable=False, server_default=sa.true()))
        # Enrolments that moved before this revision left no count: their journeys' paths
        # keep the counts the flow's shape implies.
        op.execute("UPDATE journeys SET moves_counted = false WHERE id IN (SELECT journey_id FROM enrollments)")


def downgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_column("moves_counted")
    op.drop_table("journey_moves")
