"""The sandbox channel: every message lands in the workspace's outbox instead of reaching a person.

It is the channel of the embedded demo, of tests and of a workspace that has not connected a
provider yet, so the whole decision path (audience, policy, ledger, personalisation) runs for
real and its result can be read back in the console's outbox. Delivery is idempotent on the
send key, like a provider that takes an idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loopline.ports import Clock, Delivery, Outbound
from loopline.store.sql.engine import writer
from loopline.store.sql.rows import as_dict
from loopline.store.sql.tables import sandbox_outbox
from loopline.store.sql.upsert import upsert


class SandboxChannel:
    """Records messages in the ``sandbox_outbox`` table of the operational store."""

    # A send handed over again (after a crash between delivery and its record) is kept once,
    # so the hand-over need not mark its sends first (see actions/delivery.py).
    keeps_one_per_send_key = True

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._clock = clock

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Store each message once (by send key) and accept it."""
        now = self._clock.now()
        rows = [
            {"send_key": m.send_key, "workspace_id": m.workspace_id, "profile_id": m.profile_id,
             "channel": m.channel, "address": m.address, "subject": m.subject, "body": m.body, "url": m.url,
             "source_id": m.source_id, "delivered_at": now}
            for m in messages
        ]
        with self._writer.begin() as conn:
            upsert(conn, sandbox_outbox, rows, keys=("send_key",))
        return [Delivery(m.send_key, accepted=True) for m in messages]

    def received(self, send_keys: Sequence[str]) -> set[str]:
        """Return which send keys are in the outbox."""
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(send_keys), 900):
                chunk = list(send_keys[start : start + 900])
                found.update(conn.execute(sa.select(sandbox_outbox.c.send_key)
                                          .where(sandbox_outbox.c.send_key.in_(chunk))).scalars())
        return found

    def list_outbox(self, *, workspace_id: str, limit: int = 50, profile_id: str | None = None,
                    source_id: str | None = None, before: datetime | None = None) -> list[dict[str, Any]]:
        """Return the workspace's latest sandbox messages, newest first."""
        table = sandbox_outbox
        query = table.select().where(table.c.workspace_id == workspace_id)
        if profile_id is not None:
            query = query.where(table.c.profile_id == profile_id)
        if source_id is not None:
            query = query.where(table.c.source_id == source_id)
        if before is not None:
            query = query.where(table.c.delivered_at < before)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.delivered_at.desc(), table.c.send_key).limit(limit)).all()
        return [as_dict(row) for row in rows]

    def forget_profile(self, *, workspace_id: str, profile_id: str) -> int:
        """Delete the messages a person received (erasure)."""
        with self._writer.begin() as conn:
            return int(conn.execute(sandbox_outbox.delete().where(
                sandbox_outbox.c.workspace_id == workspace_id, sandbox_outbox.c.profile_id == profile_id)).rowcount)
