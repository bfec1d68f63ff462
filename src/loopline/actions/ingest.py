"""Accept Segment-spec messages: validate each, drop erased people's, commit, then ack."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ulid import ULID

from loopline.domain.events import (
    EventError,
    EventRecord,
    MessageRejected,
    parse_message,
    parse_timestamp,
)
from loopline.domain.location import DERIVED_KEY, client_ip_for, locatable_ip
from loopline.domain.privacy import is_suppressed
from loopline.domain.ratelimit import TokenBucket
from loopline.ingest.writer import GroupCommitWriter
from loopline.services import Services


class BatchRejected(ValueError):
    """The request as a whole cannot be accepted."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class RateLimited(RuntimeError):
    """The workspace sends faster than its limit; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after:.1f}s")
        self.retry_after = retry_after


@dataclass(slots=True)
class IngestOutcome:
    """What happened to a request's messages."""

    accepted: int = 0
    suppressed: int = 0
    errors: list[EventError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the response body sent to the client."""
        return {
            "success": not self.errors,
            "accepted": self.accepted,
            "suppressed": self.suppressed,
            "errors": [e.as_json() for e in self.errors],
        }


def _messages(payload: Any, kind: str | None, workspace_id: str) -> tuple[list[Any], dict[str, Any]]:
    if not isinstance(payload, dict):
        raise BatchRejected("invalid_body", "the request body must be a JSON object")
    if kind is not None:
        return [payload], {}
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise BatchRejected("invalid_batch", "a batch body needs a 'batch' array of messages")
    if not batch:
        raise BatchRejected("empty_batch", "the batch is empty; send at least one message")
    context = payload.get("context")
    return batch, context if isinstance(context, dict) else {}


def _new_message_id() -> str:
    return f"ll-{ULID()}"


class IngestPipeline:
    """Validates requests and hands their records to the group-commit writer."""

    def __init__(self, services: Services, writer: GroupCommitWriter) -> None:
        self._services = services
        self._writer = writer
        self._suppressed: dict[str, set[tuple[str, str]]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.reload_suppressions()

    def reload_suppressions(self) -> None:
        """Re-read the suppression list after an erasure."""
        self._suppressed = self._services.privacy.list_suppressions()

    def _check_rate(self, workspace_id: str, events: int) -> None:
        rate = float(self._services.settings.workspace_events_per_second)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(workspace_id, TokenBucket(rate, rate * 2, rate * 2, now))
            wait = bucket.take(events, now)
        if wait > 0:
            raise RateLimited(max(1.0, math.ceil(wait)))

    def _place(self, record: EventRecord, request_ip: str | None) -> None:
        """Fill in the customer's IP and the location derived from it, in the record's context."""
        context = record.context
        client_ip = client_ip_for(context, request_ip)
        geo = self._services.geo
        if DERIVED_KEY not in context and client_ip is None and geo is None:
            return  # nothing changes, so the context stays as validated
        record.forget_source("context")
        context.pop(DERIVED_KEY, None)
        if client_ip is not None:
            context["ip"] = client_ip
        address = locatable_ip(context.get("ip")) if geo is not None else None
        located = geo.locate(address) if geo is not None and address is not None else None
        if located is not None:
            context[DERIVED_KEY] = located.as_json()

    def prepare(
        self, *, workspace_id: str, payload: Any, kind: str | None, received_at: datetime,
        request_ip: str | None = None,
    ) -> tuple[list[EventRecord], IngestOutcome]:
        """Validate every message; return the records to store and the outcome so far."""
        messages, batch_context = _messages(payload, kind, workspace_id)
        self._check_rate(workspace_id, len(messages))
        sent_at_raw = payload.get("sentAt") if kind is None else None
        outcome = IngestOutcome()
        records: list[EventRecord] = []
        suppressed = self._suppressed.get(workspace_id, set())
        limits = self._services.limits
        try:
            batch_sent_at = parse_timestamp(sent_at_raw, "sentAt")
        except MessageRejected as error:
            raise BatchRejected(error.code, error.message) from None
        for index, raw in enumerate(messages):
            try:
                record = parse_message(
                    raw, workspace_id=workspace_id, default_type=kind, batch_sent_at=batch_sent_at,
                    batch_context=batch_context, received_at=received_at,
                    new_message_id=_new_message_id, limits=limits,
                )
            except MessageRejected as error:
                message_id = raw.get("messageId") if isinstance(raw, dict) else None
                outcome.errors.append(EventError(
                    index, error.code, error.message,
                    message_id if isinstance(message_id, str) else None))
                continue
            if suppressed and is_suppressed(suppressed, workspace_id, record.identifiers()):
                outcome.suppressed += 1
                continue
            # parse_message gives every record a context dict of its own, so it may be filled in.
            self._place(record, request_ip)
            records.append(record)
        return records, outcome

    async def commit(self, records: list[EventRecord], outcome: IngestOutcome) -> IngestOutcome:
        """Wait until the records are durably stored, then count them as accepted."""
        if records:
            await asyncio.wrap_future(self._writer.submit(records))
        outcome.accepted = len(records)
        return outcome

    def record_platform_events(self, *, workspace_id: str, messages: list[dict[str, Any]], source: str) -> int:
        """Validate and store messages the platform writes itself (segment membership changes…).

        They bypass the workspace's rate limit, which protects against clients; a message the
        platform builds wrongly is a bug, so it raises instead of being reported per item.
        """
        now = self._services.clock.now()
        records = [
            replace(
                parse_message(
                    raw, workspace_id=workspace_id, default_type=None, batch_sent_at=None, batch_context=None,
                    received_at=now, new_message_id=_new_message_id, limits=self._services.limits,
                ),
                source=source,
            )
            for raw in messages
        ]
        self.commit_sync(records, IngestOutcome())
        return len(records)

    def commit_sync(self, records: list[EventRecord], outcome: IngestOutcome) -> IngestOutcome:
        """Store records from a worker thread (imports, demo seeding) and wait for the commit."""
        if records:
            self._writer.append_now(records)
        outcome.accepted = len(records)
        return outcome
