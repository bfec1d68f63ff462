"""Index the send ledger by its change time, the order the mart's copy of the sends pages in.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _index_exists(table: str, name: str) -> bool:
    return any(index["name"] == name for index in sa.inspect(op.get_bind()).get_indexes(table))


def upgrade() -> None:
    # Every status change stamps ``updated_at``; without the index each mart sync would read
    # the whole ledger to find the few rows that changed. Safe to re-run.
    if not _index_exists("sends", "ix_sends_changed"):
        with op.batch_alter_table("sends", schema=None) as batch_op:
            batch_op.create_index("ix_sends_changed", ["updated_at", "send_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_changed")
