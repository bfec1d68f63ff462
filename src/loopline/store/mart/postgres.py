"""The mart in PostgreSQL, in the analytics database beside the events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql as pgsql

from loopline.ports import MartBatch, QueryTooSlow
from loopline.query.dialects import POSTGRES_FUNCTIONS, Dialect, PostgresDialect
from loopline.query.mart import (
    CONSENTS,
    DEVICES,
    IDENTITIES,
    MART_TABLES,
    PROFILES,
    SEGMENT_MEMBERS,
    SENDS,
    SUPPRESSIONS,
    Table,
    create_table,
)
from loopline.store.events.postgres import Pool, split_url
from loopline.store.mart.rows import collect

WORK_MEM = "256MB"
ANALYZE_AFTER_ROWS = 1_000
_STATE = "CREATE TABLE IF NOT EXISTS mart_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS mart_identities_profile ON mart_identities (workspace_id, profile_id)",
    "CREATE INDEX IF NOT EXISTS mart_devices_profile ON mart_devices (workspace_id, profile_id)",
    "CREATE INDEX IF NOT EXISTS mart_sends_profile ON mart_sends (workspace_id, profile_id, channel)",
)
# Serialises concurrent first opens, like the event store's own migration lock.
_LOCK = 0x6D617274  # "mart"
Conn = psycopg.Connection[Any]


class PostgresMart:
    """Mart tables in PostgreSQL; queries run in read-only transactions with a statement timeout."""

    dialect: Dialect = PostgresDialect()

    def __init__(self, url: str, *, max_idle_connections: int = 4) -> None:
        conninfo, schema = split_url(url)
        self._pool = Pool(conninfo, schema, max_idle_connections, setup=())
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
                for statement in (*POSTGRES_FUNCTIONS, *(create_table(t, "postgres") for t in MART_TABLES),
                                  _STATE, *_INDEXES):
                    conn.execute(statement)
        except BaseException:
            self._pool.close()
            raise

    def apply(self, batch: MartBatch) -> None:
        """Apply one batch of copied changes in a transaction."""
        with self._pool.connection() as conn, conn.transaction():
            if batch.merged:  # a merged-away profile's sends go to the profile it merged into
                conn.execute(
                    f"UPDATE {SENDS.name} s SET profile_id = m.survivor"
                    " FROM unnest(%s::text[], %s::text[], %s::text[]) AS m(workspace_id, loser, survivor)"
                    " WHERE s.workspace_id = m.workspace_id AND s.profile_id = m.loser",
                    [[w for w, _, _ in batch.merged], [lo for _, lo, _ in batch.merged],
                     [su for _, _, su in batch.merged]],
                )
            if batch.gone:
                for table in (PROFILES, SEGMENT_MEMBERS, SENDS):
                    _delete_by_profile(conn, table, batch.gone)
            if batch.touched or batch.gone:
                for table in (IDENTITIES, DEVICES, CONSENTS):
                    _delete_by_profile(conn, table, batch.touched + batch.gone)
            for table, rows in ((PROFILES, batch.profiles), (IDENTITIES, batch.identities),
                                (DEVICES, batch.devices), (CONSENTS, batch.consents), (SENDS, batch.sends)):
                _upsert(conn, table, rows)
            if batch.suppressions is not None:
                conn.execute(f"DELETE FROM {SUPPRESSIONS.name}")
                _upsert(conn, SUPPRESSIONS, batch.suppressions)
            for name, value in batch.watermarks.items():
                conn.execute(
                    "INSERT INTO mart_state VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    [name, value],
                )
        if max(len(batch.profiles), len(batch.sends)) >= ANALYZE_AFTER_ROWS:
            # Fresh statistics after a large copy: planned on stale ones, a segment's hash joins
            # can turn into nested loops over a million rows.
            with self._pool.connection() as conn:
                for table in MART_TABLES:
                    conn.execute(f"ANALYZE {table.name}")

    def attribute_events(self) -> int:
        """Attribute nothing: on PostgreSQL queries look owners up (``attributed_owners`` is off)."""
        return 0

    def watermarks(self) -> dict[str, str]:
        """Return how far each kind of change has been copied."""
        with self._pool.connection() as conn:
            return {str(n): str(v) for n, v in conn.execute("SELECT name, value FROM mart_state").fetchall()}

    def forget_profiles(self, *, workspace_id: str, profile_ids: Sequence[str]) -> None:
        """Remove erased profiles and their rows."""
        self.apply(MartBatch(gone=[(workspace_id, profile_id) for profile_id in profile_ids]))

    def fetch(self, sql: str, *, timeout_s: float, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run a query read-only with a time limit."""
        return collect(self.stream(sql, timeout_s=timeout_s, chunk=limit or 10_000), limit)

    def stream(self, sql: str, *, timeout_s: float, chunk: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """Run a query in a read-only transaction with a statement timeout, yielding chunks."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
            # Segment and report queries hash many sub-queries; with the default 4 MB the planner
            # falls back to re-running a NOT IN sub-query per row on large workspaces.
            conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            try:
                # A named (server-side) cursor streams a large member list without buffering it.
                with conn.cursor(name="mart_query") as cursor:
                    cursor.execute(sql)  # type: ignore[arg-type] # compiled from validated values
                    while batch := cursor.fetchmany(chunk):
                        yield batch
            except psycopg.errors.QueryCanceled:
                raise QueryTooSlow(f"the query ran longer than {timeout_s:g} s and was stopped") from None

    def change_members(
        self, *, workspace_id: str, segment_id: str, entered: Sequence[str], exited: Sequence[str]
    ) -> None:
        """Add and remove members of a segment in one transaction."""
        with self._pool.connection() as conn, conn.transaction():
            if exited:
                _delete_by_profile(
                    conn, SEGMENT_MEMBERS, [(workspace_id, profile_id) for profile_id in exited],
                    segment_id=segment_id,
                )
            _upsert(conn, SEGMENT_MEMBERS, [
                {"workspace_id": workspace_id, "segment_id": segment_id, "profile_id": profile_id}
                for profile_id in entered
            ])

    def close(self) -> None:
        """Close the connections."""
        self._pool.close()


def _delete_by_profile(
    conn: Conn, table: Table, pairs: list[tuple[str, str]], segment_id: str | None = None
) -> None:
    """Delete the rows of the given (workspace, profile) pairs, of one segment when given."""
    conn.execute(
        f"DELETE FROM {table.name} t USING unnest(%s::text[], %s::text[]) AS k(workspace_id, profile_id)"
        " WHERE t.workspace_id = k.workspace_id AND t.profile_id = k.profile_id"
        + (" AND t.segment_id = %s" if segment_id is not None else ""),
        [[w for w, _ in pairs], [p for _, p in pairs], *([segment_id] if segment_id is not None else [])],
    )


def _upsert(conn: Conn, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = table.column_names
    rows = list({tuple(row[name] for name in table.key): row for row in rows}.values())
    staging = f"mart_staging_{table.name}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table.name}) ON COMMIT DELETE ROWS")
    columns = pgsql.SQL(", ").join(pgsql.Identifier(name) for name in names)
    with conn.cursor().copy(pgsql.SQL("COPY {} ({}) FROM STDIN").format(pgsql.Identifier(staging), columns)) as copy:
        json_columns = {column.name for column in table.columns if column.kind == "json"}
        for row in rows:
            copy.write_row([
                orjson.dumps(row[name]).decode() if name in json_columns and not isinstance(row[name], str)
                else row[name]
                for name in names
            ])
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in names if name not in table.key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    conn.execute(
        f"INSERT INTO {table.name} SELECT * FROM {staging} ON CONFLICT ({', '.join(table.key)}) {action}"
    )
