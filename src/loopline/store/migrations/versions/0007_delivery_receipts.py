"""Add what the provider reported after accepting a send (delivered, undelivered, bounced, complained),
and when a claimed send was about to be handed over (so a dead worker's unsent claims can go again).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (("receipt", sa.String(16)), ("receipt_at", sa.DateTime(timezone=True)),
           ("handed_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    # Safe to re-run: a column that exists is left as it is.
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sends")}
    for name, kind in COLUMNS:
        if name not in present:
            op.add_column("sends", sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
