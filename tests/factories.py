"""Builders of domain objects for tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.events import EventRecord

_counter = itertools.count(1)
BASE_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_record(**overrides: Any) -> EventRecord:
    """Build a valid track EventRecord with unique messageId and timestamp; override any field."""
    n = next(_counter)
    timestamp = BASE_TIME + timedelta(seconds=n, microseconds=n % 1_000_000)
    fields: dict[str, Any] = {
        "workspace_id": "ws_test",
        "message_id": f"msg-{n:08d}",
        "type": "track",
        "event": "Product Viewed",
        "user_id": "user-1",
        "anonymous_id": "anon-1",
        "timestamp": timestamp,
        "received_at": timestamp + timedelta(milliseconds=250),
        "sent_at": timestamp + timedelta(milliseconds=200),
        "original_timestamp": timestamp,
        "timestamp_flag": None,
        "properties": {"sku": f"SKU-{n}", "price": 19.99, "quantity": 2},
        "traits": {},
        "context": {"app": {"name": "Shop", "version": "1.4.0"}, "os": {"name": "iOS"}},
        "group_id": None,
        "previous_id": None,
        "source": "api",
    }
    fields.update(overrides)
    return EventRecord(**fields)
