"""What every mart adapter does with the chunks its queries stream."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def collect(chunks: Iterable[list[tuple[Any, ...]]], limit: int | None) -> list[tuple[Any, ...]]:
    """Return the rows of streamed chunks, at most ``limit`` of them (stopping the stream there)."""
    rows: list[tuple[Any, ...]] = []
    for chunk in chunks:
        rows.extend(chunk)
        if limit is not None and len(rows) >= limit:
            return rows[:limit]
    return rows
