"""The mart's tables, once, and their DDL for each analytics engine (the compilers read them).

The mart is the customer-centric side of the analytics store: the profile-side facts a
segment or report needs (profiles, identities, devices, consents, suppressions, segment
members, the sends of the ledger) next to the events, in the same engine, so a query joins them without leaving it.
The operational store stays the source of truth; the mart is a copy kept current by
``loopline.store.mart.sync``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopline.domain.segments.definition import COMPUTED_TYPES, parse_date


@dataclass(frozen=True, slots=True)
class Column:
    """One column: a name, a kind (text, json, instant, number) and whether it may be NULL."""

    name: str
    kind: str
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One mart table and the columns that identify a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Return the column names in order."""
        return tuple(column.name for column in self.columns)


def _text(*names: str, nullable: bool = False) -> tuple[Column, ...]:
    return tuple(Column(name, "text", nullable) for name in names)


_COMPUTED_KINDS = {"number": "number", "date": "instant", "text": "text"}


def computed_column(name: str) -> str:
    """Return the typed column holding computed property ``name``."""
    return f"computed_{name}"


# Computed properties are also kept as typed columns: segments on orders, revenue or last
# seen then compare numbers and instants instead of parsing JSON for every profile.
PROFILES = Table(
    "mart_profiles",
    (*_text("workspace_id", "profile_id"), Column("traits", "json"), Column("computed", "json"),
     Column("created_at", "instant"), Column("known_since", "instant"), Column("updated_at", "instant"),
     *(Column(computed_column(name), _COMPUTED_KINDS[kind], nullable=True) for name, kind in COMPUTED_TYPES.items())),
    ("workspace_id", "profile_id"),
)


def typed_computed(computed: dict[str, Any]) -> dict[str, Any]:
    """Return the typed columns of a profile's computed properties (NULL where the JSON has no such value)."""
    row: dict[str, Any] = {}
    for name, kind in COMPUTED_TYPES.items():
        value = computed.get(name)
        typed: Any = None
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            typed = float(value)
        elif kind == "date" and isinstance(value, str):
            typed = parse_date(value)
        elif kind == "text" and isinstance(value, str):
            typed = value
        row[computed_column(name)] = typed
    return row

IDENTITIES = Table(
    "mart_identities", _text("workspace_id", "kind", "value", "profile_id"), ("workspace_id", "kind", "value")
)
DEVICES = Table(
    "mart_devices",
    (*_text("workspace_id", "device_id", "profile_id"),
     *_text("platform", "os_name", "os_version", "app_version", "model", "push_token", nullable=True)),
    ("workspace_id", "device_id"),
)
CONSENTS = Table(
    "mart_consents",
    _text("workspace_id", "profile_id", "channel", "topic", "status"),
    ("workspace_id", "profile_id", "channel", "topic"),
)
SUPPRESSIONS = Table(
    "mart_suppressions", _text("workspace_id", "channel", "address"), ("workspace_id", "channel", "address")
)
SEGMENT_MEMBERS = Table(
    "mart_segment_members",
    _text("workspace_id", "segment_id", "profile_id"),
    ("workspace_id", "segment_id", "profile_id"),
)
# The send ledger's rows, copied so segments and reports can ask what each customer was
# sent: one row per send key, its status as the ledger last had it. ``campaign_id`` /
# ``journey_id`` name the source (the other is NULL); ``decided_at`` is when the ledger
# row was written, ``sent_at`` when the provider took the message.
SENDS = Table(
    "mart_sends",
    (*_text("workspace_id", "send_key", "profile_id", "source_kind"),
     *_text("campaign_id", "journey_id", "step", "variant", nullable=True),
     *_text("channel", "status", "reason"),
     Column("decided_at", "instant"), Column("sent_at", "instant", nullable=True), Column("updated_at", "instant")),
    ("workspace_id", "send_key"),
)
MART_TABLES = (PROFILES, IDENTITIES, DEVICES, CONSENTS, SUPPRESSIONS, SEGMENT_MEMBERS, SENDS)

EVENTS = Table(
    "events",
    (Column("seq", "integer"), *_text("workspace_id", "type", "source"),
     *_text("event", "user_id", "anonymous_id", nullable=True),
     Column("timestamp", "instant"), Column("properties", "json"), Column("context", "json"),
     Column("profile_id", "text", nullable=True), Column("profile_bucket", "integer", nullable=True)),
    (),
)
"""The columns of the event store that queries read (the stores keep more).

``profile_id`` is the event's owner as the mart last attributed it, on engines whose dialect
says ``attributed_owners``: NULL until attributed, and rewritten when identities move (a
merge, a new alias). Queries read it where set and look the owner up where not.
``profile_bucket`` is the owner's sample bucket, written with it, so an estimate's sample
needs no hashing per event.
"""

_TYPES = {
    "duckdb": {"text": "VARCHAR", "json": "JSON", "instant": "TIMESTAMPTZ", "number": "DOUBLE", "integer": "BIGINT"},
    "postgres": {"text": "TEXT", "json": "JSONB", "instant": "TIMESTAMPTZ", "number": "DOUBLE PRECISION",
                 "integer": "BIGINT"},
    "clickhouse": {"text": "String", "json": "String", "instant": "DateTime64(6, 'UTC')", "number": "Float64",
                   "integer": "Int64"},
}


def create_table(table: Table, dialect: str) -> str:
    """Return the CREATE TABLE statement for ``table`` on an engine (idempotent)."""
    types = _TYPES[dialect]
    columns = []
    for column in table.columns:
        kind = types[column.kind]
        if dialect == "clickhouse":
            columns.append(f'"{column.name}" {f"Nullable({kind})" if column.nullable else kind}')
        else:
            columns.append(f'"{column.name}" {kind}{"" if column.nullable else " NOT NULL"}')
    if dialect == "clickhouse":
        # A keyed table keeps the newest row per key; events keep every row.
        engine = f"ReplacingMergeTree ORDER BY ({', '.join(table.key)})" if table.key else "MergeTree ORDER BY tuple()"
        return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(columns)}) ENGINE = {engine}"
    key = f", PRIMARY KEY ({', '.join(table.key)})" if table.key else ""
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(columns)}{key})"
