"""Turning database rows into plain Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def aware(value: datetime | None) -> datetime | None:
    """Return a datetime read back from SQLite (naive) as aware UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def as_dict(row: Any) -> dict[str, Any]:
    """Return a row as a dict with plain ``str`` keys and aware datetimes."""
    return {
        str(key): aware(value) if isinstance(value, datetime) else value
        for key, value in row._mapping.items()
    }
