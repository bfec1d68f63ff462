"""The in-app channel: each message is stored for its customer until their app or web page shows it.

There is no provider between the platform and the customer: "delivered" means stored, where
the SDK endpoint (``GET /v1/in-app/messages``) and the live stream find it. The store can be
asked what it holds, so a hand-over whose answer was lost is settled from it and never sent
twice. Delivery is idempotent on the send key: a repeated key keeps the first row and its state.
"""

from __future__ import annotations

from collections.abc import Sequence

from loopline.channels.sandbox import SandboxChannel
from loopline.domain.in_app import PENDING, expires_at, in_app_options
from loopline.ports import Clock, Delivery, Outbound
from loopline.store.sql.in_app import SqlInAppStore


class InAppChannel:
    """Stores in-app messages in the ``in_app_messages`` table."""

    def __init__(self, store: SqlInAppStore, clock: Clock, *, outbox: SandboxChannel | None = None) -> None:
        self._store = store
        self._clock = clock
        # The console's outbox lists what the platform delivered by itself; an in-app message
        # has no provider keeping a log, so a copy goes there too when an outbox is given.
        self._outbox = outbox

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Store each message once (by send key) and accept it; refuse unreadable options or a past ``until``."""
        now = self._clock.now()
        answers: list[Delivery] = []
        rows, stored = [], []
        for message in messages:
            try:
                options = in_app_options(message.options)
            except ValueError as error:  # pydantic.ValidationError is one
                answers.append(Delivery(message.send_key, accepted=False, reason="invalid_options",
                                        detail=str(error)[:500]))
                continue
            until = expires_at(options, stored_at=now)
            if until <= now:
                answers.append(Delivery(message.send_key, accepted=False, reason="expired",
                                        detail=f"its display window ended at {until.isoformat()}"))
                continue
            rows.append({
                "send_key": message.send_key, "workspace_id": message.workspace_id,
                "profile_id": message.profile_id, "source_id": message.source_id, "title": message.subject,
                "body": message.body, "url": message.url,
                "options": options.model_dump(mode="json", exclude_defaults=True),
                "state": PENDING, "created_at": now, "expires_at": until, "updated_at": now,
            })
            stored.append(message)
            answers.append(Delivery(message.send_key, accepted=True))
        self._store.put_messages(rows=rows)
        if self._outbox is not None and stored:
            self._outbox.deliver(stored)
        return answers

    def received(self, send_keys: Sequence[str]) -> set[str]:
        """Return which send keys are stored (an in-app store can always tell)."""
        return self._store.received(send_keys)
