"""Event store adapters: DuckDB (embedded default) and PostgreSQL, picked by URL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from loopline.domain.events import EventRecord
from loopline.ports import EventStore, Identifier

# Stored columns in the order both adapters write and read them; ``seq`` comes first
# in every SELECT so rows map onto records without looking names up.
RECORD_COLUMNS: tuple[str, ...] = (
    "workspace_id",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "timestamp",
    "received_at",
    "sent_at",
    "original_timestamp",
    "timestamp_flag",
    "properties",
    "traits",
    "context",
    "group_id",
    "previous_id",
    "source",
)
# The name under which both adapters record their schema version in ``schema_version``.
SCHEMA_COMPONENT = "events"
JSON_COLUMNS = frozenset({"properties", "traits", "context"})
TIMESTAMP_COLUMNS = frozenset({"timestamp", "received_at", "sent_at", "original_timestamp"})
# Records per round trip when streaming a person's history.
ITER_CHUNK = 1_000


def open_event_store(url: str) -> EventStore:
    """Open the event store named by ``url``: ``duckdb:///path``, ``duckdb:///:memory:`` or ``postgresql://``."""
    scheme, _, _ = url.partition("://")
    scheme = scheme.lower()
    if scheme == "duckdb":
        from loopline.store.events.duckdb import DuckdbEventStore

        return DuckdbEventStore(duckdb_path_from_url(url))
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        from loopline.store.events.postgres import PostgresEventStore

        return PostgresEventStore(url)
    raise ValueError(
        f"unsupported event store URL {url.split('://', maxsplit=1)[0]!r}://...; use duckdb:///absolute/path.duckdb, "
        "duckdb:///:memory: or postgresql://user@host:port/database"
    )


def duckdb_path_from_url(url: str) -> str:
    """Return the database path of a ``duckdb:///...`` URL, or ``:memory:``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise ValueError(
            f"DuckDB URLs take an absolute path after three slashes, such as duckdb:///var/lib/loopline/events.duckdb; "
            f"got host {parts.netloc!r}"
        )
    # duckdb:///abs/path and duckdb:////abs/path (a slash-prefixed path appended to
    # "duckdb:///") name the same file.
    path = "/" + unquote(parts.path).lstrip("/")
    if path == "/:memory:":
        return ":memory:"
    if path == "/":
        raise ValueError("DuckDB URL has no file path; use duckdb:///absolute/path.duckdb or duckdb:///:memory:")
    return path


def first_of_each(records: Iterable[EventRecord]) -> list[EventRecord]:
    """Return records without repeats of (workspace, messageId) within the batch, keeping the first."""
    seen: set[tuple[str, str]] = set()
    unique: list[EventRecord] = []
    for record in records:
        key = (record.workspace_id, record.message_id)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def split_identifiers(identifiers: Sequence[Identifier]) -> tuple[list[str], list[str]]:
    """Return the user ids and anonymous ids among identifiers; events carry no other kinds."""
    user_ids: dict[str, None] = {}
    anonymous_ids: dict[str, None] = {}
    for kind, value in identifiers:
        if kind == "user_id":
            user_ids[value] = None
        elif kind == "anonymous_id":
            anonymous_ids[value] = None
    return list(user_ids), list(anonymous_ids)


def dump_json(value: dict[str, Any]) -> str:
    """Serialise a JSON object column."""
    return orjson.dumps(value).decode()


def _load_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    loaded: dict[str, Any] = orjson.loads(value)
    return loaded


def _utc(value: datetime | None) -> datetime | None:
    # DuckDB hands back naive UTC wall-clock values (see the adapter's SELECT list);
    # PostgreSQL hands back aware values in the session time zone, which we pin to UTC.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def record_from_row(row: Sequence[Any]) -> EventRecord:
    """Build a record from a ``(seq, *RECORD_COLUMNS)`` row."""
    timestamp = _utc(row[7])
    received_at = _utc(row[8])
    if timestamp is None or received_at is None:
        raise ValueError(f"stored event seq={row[0]} has no timestamp or received_at")
    return EventRecord(
        seq=int(row[0]),
        workspace_id=row[1],
        message_id=row[2],
        type=row[3],
        event=row[4],
        user_id=row[5],
        anonymous_id=row[6],
        timestamp=timestamp,
        received_at=received_at,
        sent_at=_utc(row[9]),
        original_timestamp=_utc(row[10]),
        timestamp_flag=row[11],
        properties=_load_json(row[12]),
        traits=_load_json(row[13]),
        context=_load_json(row[14]),
        group_id=row[15],
        previous_id=row[16],
        source=row[17],
    )


__all__ = [
    "ITER_CHUNK",
    "JSON_COLUMNS",
    "RECORD_COLUMNS",
    "SCHEMA_COMPONENT",
    "TIMESTAMP_COLUMNS",
    "duckdb_path_from_url",
    "dump_json",
    "first_of_each",
    "open_event_store",
    "record_from_row",
    "split_identifiers",
]
