"""Record the send-key format each campaign run and journey enrolment claims under.

Send keys now keep a sender's keys together in customer order (``domain.send_ledger``). A run
or enrolment begun before this revision may hold keys in the first format; its column stays
empty, and its claims look both formats up, so a run resumed across the upgrade sends nothing
twice.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Safe to re-run: a column that exists is left as it is.
    inspector = sa.inspect(op.get_bind())
    for table in ("campaigns", "enrollments"):
        if not any(column["name"] == "key_format" for column in inspector.get_columns(table)):
            op.add_column(table, sa.Column("key_format", sa.SmallInteger, nullable=True))


def downgrade() -> None:
    for table in ("campaigns", "enrollments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("key_format")
