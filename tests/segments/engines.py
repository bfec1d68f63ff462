"""The three analytics engines, each holding one synthetic dataset in the mart's tables."""

from __future__ import annotations

import functools
import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest

from loopline.query.dialects import DIALECTS, POSTGRES_FUNCTIONS, Dialect
from loopline.query.mart import EVENTS, MART_TABLES, PROFILES, Table, create_table, typed_computed
from tests.conftest import POSTGRES_ENV

Runner = Callable[[str], list[tuple[Any, ...]]]
"""Runs a query; returns its rows."""

TABLE_OF = {
    "profiles": "mart_profiles", "identities": "mart_identities", "devices": "mart_devices",
    "consents": "mart_consents", "suppressions": "mart_suppressions", "members": "mart_segment_members",
    "events": "events", "sends": "mart_sends",
}
DEFAULTS = {"updated_at": "created_at", "source": "api"}
ALL_TABLES = {table.name: table for table in (*MART_TABLES, EVENTS)}


def _rows(data: Any, table: Table) -> list[dict[str, Any]]:
    """Return the dataset's rows of ``table``, JSON columns as text, instants in UTC."""
    frame = getattr(data, next(key for key, name in TABLE_OF.items() if name == table.name))
    rows = []
    for position, found in enumerate(frame.to_dict("records")):
        # The typed copies of computed properties, as the mart sync makes them.
        record = {**found, **typed_computed(found["computed"] or {})} if table is PROFILES else found
        row = {}
        for column in table.columns:
            value = record.get(column.name)
            if value is None and column.name in DEFAULTS:  # columns the dataset need not spell out
                value = record.get(DEFAULTS[column.name], DEFAULTS[column.name])
            if column.kind == "json":
                value = orjson.dumps(value).decode()
            elif column.kind == "instant":
                value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
                value = value.astimezone(UTC) if value is not None and value == value else None
            elif column.kind == "integer":  # seq: arrival order; a dataset without one arrives in row order
                value = int(value) if value is not None and value == value else position + 1
            elif column.kind == "number":
                value = None if value is None or value != value else float(value)
            elif value is not None and not isinstance(value, str):
                value = None if value != value else str(value)  # NaN from pandas means missing
            row[column.name] = value
        rows.append(row)
    return rows


@contextmanager
def duckdb_engine(data: Any, *, synced: bool = False) -> Iterator[Runner]:
    """Yield a runner over an in-memory DuckDB holding ``data``.

    Synced, every event carries its attributed owner, as right after a mart sync; otherwise
    a third of them (the newest, as it were) do not yet, as between two syncs.
    """
    conn = duckdb.connect(":memory:")
    conn.execute("SET TimeZone = 'UTC'")
    for table in ALL_TABLES.values():
        conn.execute(create_table(table, "duckdb"))
        rows = _rows(data, table)
        if rows:
            arrow = pa.Table.from_pylist(rows)  # noqa: F841 - read by name in the statement below
            conn.execute(f"INSERT INTO {table.name} SELECT {', '.join(table.column_names)} FROM arrow")
    # Between two syncs older events carry their attributed owner and the newest (here every
    # third) not yet, so queries read both the column and the lookup.
    conn.execute(f"""
        UPDATE events e SET profile_id = coalesce(
            (SELECT i.profile_id FROM mart_identities i
             WHERE i.workspace_id = e.workspace_id AND i.kind = 'user_id' AND i.value = e.user_id),
            (SELECT i.profile_id FROM mart_identities i
             WHERE i.workspace_id = e.workspace_id AND i.kind = 'anonymous_id' AND i.value = e.anonymous_id))
        WHERE {"TRUE" if synced else "e.seq % 3 <> 0"}
    """)
    conn.execute(f"UPDATE events SET profile_bucket = {DIALECTS['duckdb'].sample_bucket('profile_id')}")

    def run(sql: str) -> list[tuple[Any, ...]]:
        return conn.execute(sql + DIALECTS["duckdb"].settings).fetchall()

    try:
        yield run
    finally:
        conn.close()


@contextmanager
def postgres_engine(data: Any) -> Iterator[Runner]:
    """Yield a runner over a private schema in the test PostgreSQL holding ``data``."""
    import psycopg

    url = os.environ["LOOPLINE_TEST_POSTGRES_URL"]
    schema = f"segments_{uuid.uuid4().hex[:12]}"
    conn = psycopg.connect(url, autocommit=True)
    try:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("SET TIME ZONE 'UTC'")
        for statement in POSTGRES_FUNCTIONS:
            conn.execute(statement)
        for table in ALL_TABLES.values():
            conn.execute(create_table(table, "postgres"))
            rows = _rows(data, table)
            columns = table.column_names
            with conn.cursor().copy(
                f"COPY {table.name} ({', '.join(f'{c!r}'.replace(chr(39), chr(34)) for c in columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])

        # Statistics, as autovacuum would gather them on a live database: without them the
        # planner takes every fresh table for nearly empty and picks nested loops.
        conn.execute("ANALYZE")

        def run(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in conn.execute(sql).fetchall()]

        yield run
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


@contextmanager
def clickhouse_engine(data: Any) -> Iterator[Runner]:
    """Yield a runner over an embedded ClickHouse (chDB) session holding ``data``."""
    from chdb import session as chdb_session

    session = chdb_session.Session()
    try:
        for table in ALL_TABLES.values():
            session.query(create_table(table, "clickhouse"))
            rows = _rows(data, table)
            if not rows:
                continue
            lines = []
            for row in rows:
                encoded = {
                    key: value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value
                    for key, value in row.items()
                }
                lines.append(orjson.dumps(encoded).decode())
            session.query(f"INSERT INTO {table.name} FORMAT JSONEachRow\n" + "\n".join(lines))

        def run(sql: str) -> list[tuple[Any, ...]]:
            result = session.query(sql + DIALECTS["clickhouse"].settings, "JSONCompact")
            payload = orjson.loads(result.bytes()) if result.bytes() else {"data": []}
            return [tuple(row) for row in payload["data"]]

        yield run
    finally:
        session.close()


ENGINES: dict[str, Callable[[Any], Any]] = {
    "duckdb": functools.partial(duckdb_engine, synced=True), "duckdb-unsynced": duckdb_engine,
    "postgres": postgres_engine, "clickhouse": clickhouse_engine,
}
"""Every engine a cross-engine test runs on, by name (DuckDB both right after a mart sync and between two)."""


def dialect_of(engine_name: str) -> Dialect:
    """Return the dialect an engine of ``ENGINES`` speaks."""
    return DIALECTS[engine_name.split("-", maxsplit=1)[0]]


@contextmanager
def engine_or_skip(engine_name: str, data: Any) -> Iterator[Runner]:
    """Yield a runner over ``data`` on the named engine; skip, saying why, when its server or package is absent."""
    if engine_name == "postgres" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL engine needs a server")
    if engine_name == "clickhouse" and importlib.util.find_spec("chdb") is None:
        pytest.skip("chdb is not installed: `uv sync --group clickhouse` adds the embedded ClickHouse engine")
    with ENGINES[engine_name](data) as run:
        yield run
