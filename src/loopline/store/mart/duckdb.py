"""The mart in the embedded DuckDB file, beside the events it is queried with."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from loopline.ports import MartBatch, QueryTooSlow
from loopline.query.dialects import Dialect, DuckdbDialect
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
from loopline.store.events.duckdb import DuckdbEventStore
from loopline.store.mart.rows import collect

_STATE = "CREATE TABLE IF NOT EXISTS mart_state (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
_BY_PROFILE = (IDENTITIES, DEVICES, CONSENTS, SEGMENT_MEMBERS)


class DuckdbMart:
    """Mart tables in the event store's DuckDB database; one writer at a time."""

    dialect: Dialect = DuckdbDialect()

    def __init__(self, events: DuckdbEventStore) -> None:
        self._conn = events.cursor()
        self._lock = threading.Lock()
        self._conn.execute("SET TimeZone = 'UTC'")
        for table in MART_TABLES:
            self._conn.execute(create_table(table, "duckdb"))
        self._conn.execute(_STATE)

    def apply(self, batch: MartBatch) -> None:
        """Apply one batch of copied changes in a transaction.

        Events whose owner moved with it (identities re-pointed by a merge, added, or
        removed) are attributed again in the same transaction.
        """
        with self._lock, _Transaction(self._conn) as conn:
            gone = _keys(batch.gone)
            touched = _keys(batch.touched + batch.gone)
            before = _identities_of(conn, touched) if touched is not None else set()
            _move_sends(conn, batch.merged)
            if gone is not None:
                for table in (PROFILES, SEGMENT_MEMBERS, SENDS):
                    _delete_by_profile(conn, table, gone)
            if touched is not None:
                for table in (IDENTITIES, DEVICES, CONSENTS):
                    _delete_by_profile(conn, table, touched)
            for table, rows in ((PROFILES, batch.profiles), (IDENTITIES, batch.identities),
                                (DEVICES, batch.devices), (CONSENTS, batch.consents), (SENDS, batch.sends)):
                _upsert(conn, table, rows)
            moved = before ^ {(row["workspace_id"], row["kind"], row["value"], row["profile_id"])
                              for row in batch.identities}
            if moved:
                _attribute_again(conn, {(workspace, kind, value) for workspace, kind, value, _ in moved})
            if batch.suppressions is not None:
                conn.execute(f"DELETE FROM {SUPPRESSIONS.name}")
                _upsert(conn, SUPPRESSIONS, batch.suppressions)
            for name, value in batch.watermarks.items():
                conn.execute("INSERT OR REPLACE INTO mart_state VALUES (?, ?)", [name, value])

    def attribute_events(self) -> int:
        """Write the owner of every event that has none yet and now has one; return how many."""
        with self._lock, _Transaction(self._conn) as conn:
            row = conn.execute(
                f"UPDATE events SET profile_id = o.owner, profile_bucket = {_BUCKET}"
                f" FROM ({_OWNERS.format(where='e.profile_id IS NULL')}) o"
                " WHERE events.seq = o.seq AND o.owner IS NOT NULL"
            ).fetchone()
        return int(row[0]) if row else 0

    def watermarks(self) -> dict[str, str]:
        """Return how far each kind of change has been copied."""
        with self._lock:
            rows = self._conn.execute("SELECT name, value FROM mart_state").fetchall()
        return {str(name): str(value) for name, value in rows}

    def forget_profiles(self, *, workspace_id: str, profile_ids: Sequence[str]) -> None:
        """Remove erased profiles and their rows."""
        self.apply(MartBatch(gone=[(workspace_id, profile_id) for profile_id in profile_ids]))

    def fetch(self, sql: str, *, timeout_s: float, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run a query read-only with a time limit."""
        return collect(self.stream(sql, timeout_s=timeout_s, chunk=limit or 10_000), limit)

    def stream(self, sql: str, *, timeout_s: float, chunk: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """Run a query read-only with a time limit on producing its result, yielding chunks."""
        cursor = self._conn.cursor()
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            # Compiled queries only read; the rollback makes sure nothing they could do sticks.
            cursor.execute("BEGIN TRANSACTION")
            stopper = threading.Timer(timeout_s, cursor.interrupt)
            stopper.start()
            try:
                cursor.execute(sql)
                while batch := cursor.fetchmany(chunk):
                    yield batch
            except duckdb.InterruptException:
                raise QueryTooSlow(f"the query ran longer than {timeout_s:g} s and was stopped") from None
            finally:
                stopper.cancel()
        finally:
            # An interruption or an error may already have rolled the transaction back.
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            cursor.close()

    def change_members(
        self, *, workspace_id: str, segment_id: str, entered: Sequence[str], exited: Sequence[str]
    ) -> None:
        """Add and remove members of a segment in one transaction."""
        with self._lock, _Transaction(self._conn) as conn:
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
        """Close the cursor (the event store owns the database)."""
        with self._lock:
            self._conn.close()


class _Transaction:
    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self._conn.execute("BEGIN TRANSACTION")
        return self._conn

    def __exit__(self, kind: object, *_: object) -> None:
        self._conn.execute("COMMIT" if kind is None else "ROLLBACK")


# Each event's owner by the identities in the mart: its user id's profile, else its anonymous id's.
_OWNERS = """
    SELECT e.seq AS seq, coalesce(u.profile_id, a.profile_id) AS owner FROM events e
    LEFT JOIN mart_identities u ON u.workspace_id = e.workspace_id AND u.kind = 'user_id' AND u.value = e.user_id
    LEFT JOIN mart_identities a
        ON a.workspace_id = e.workspace_id AND a.kind = 'anonymous_id' AND a.value = e.anonymous_id
    WHERE {where}
"""


_BUCKET = DuckdbDialect().sample_bucket("o.owner")


def _identities_of(conn: duckdb.DuckDBPyConnection, keys: pa.Table) -> set[tuple[str, str, str, str]]:
    """Return the identity rows the mart holds for these (workspace, profile) pairs."""
    conn.register("mart_keys", keys)
    try:
        rows = conn.execute(
            f"SELECT i.workspace_id, i.kind, i.value, i.profile_id FROM {IDENTITIES.name} i JOIN mart_keys k"
            " ON i.workspace_id = k.workspace_id AND i.profile_id = k.profile_id"
        ).fetchall()
    finally:
        conn.unregister("mart_keys")
    return {(str(w), str(k), str(v), str(p)) for w, k, v, p in rows}


def _attribute_again(conn: duckdb.DuckDBPyConnection, moved: set[tuple[str, str, str]]) -> None:
    """Look the owner up again for the events carrying identities that moved (NULL when none is left)."""
    conn.register("moved_identities", pa.table({
        "workspace_id": [w for w, _, _ in moved], "kind": [k for _, k, _ in moved], "value": [v for _, _, v in moved],
    }))
    try:
        carrying = (
            "e.seq IN (SELECT e.seq FROM events e JOIN moved_identities m ON m.workspace_id = e.workspace_id"
            " AND m.kind = 'user_id' AND m.value = e.user_id"
            " UNION SELECT e.seq FROM events e JOIN moved_identities m ON m.workspace_id = e.workspace_id"
            " AND m.kind = 'anonymous_id' AND m.value = e.anonymous_id)"
        )
        conn.execute(
            f"UPDATE events SET profile_id = o.owner, profile_bucket = {_BUCKET}"
            f" FROM ({_OWNERS.format(where=carrying)}) o"
            " WHERE events.seq = o.seq AND events.profile_id IS DISTINCT FROM o.owner"
        )
    finally:
        conn.unregister("moved_identities")


def _move_sends(conn: duckdb.DuckDBPyConnection, merged: list[tuple[str, str, str]]) -> None:
    """Give the sends of merged-away profiles to the profiles they merged into."""
    if not merged:
        return
    conn.register("mart_merges", pa.table({
        "workspace_id": [w for w, _, _ in merged], "loser": [lo for _, lo, _ in merged],
        "survivor": [su for _, _, su in merged],
    }))
    try:
        conn.execute(
            f"UPDATE {SENDS.name} SET profile_id = m.survivor FROM mart_merges m"
            f" WHERE {SENDS.name}.workspace_id = m.workspace_id AND {SENDS.name}.profile_id = m.loser"
        )
    finally:
        conn.unregister("mart_merges")


def _keys(pairs: list[tuple[str, str]]) -> pa.Table | None:
    if not pairs:
        return None
    return pa.table({"workspace_id": [w for w, _ in pairs], "profile_id": [p for _, p in pairs]})


def _delete_by_profile(
    conn: duckdb.DuckDBPyConnection, table: Table, keys: pa.Table | list[tuple[str, str]],
    segment_id: str | None = None,
) -> None:
    """Delete the rows of the given (workspace, profile) pairs, of one segment when given."""
    conn.register("mart_keys", keys if isinstance(keys, pa.Table) else _keys(keys))
    try:
        conn.execute(
            f"DELETE FROM {table.name} t USING mart_keys k"
            " WHERE t.workspace_id = k.workspace_id AND t.profile_id = k.profile_id"
            + (" AND t.segment_id = ?" if segment_id is not None else ""),
            [segment_id] if segment_id is not None else [],
        )
    finally:
        conn.unregister("mart_keys")


def _upsert(conn: duckdb.DuckDBPyConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = table.column_names
    # One row per key, the last given: an upsert may not touch a row twice in one statement.
    rows = list({tuple(row[name] for name in table.key): row for row in rows}.values())
    arrow = pa.table({name: [row.get(name) for row in rows] for name in names})
    conn.register("mart_rows", arrow)
    try:
        columns = ", ".join(names)
        conn.execute(f"INSERT OR REPLACE INTO {table.name} ({columns}) SELECT {columns} FROM mart_rows")
    finally:
        conn.unregister("mart_rows")
