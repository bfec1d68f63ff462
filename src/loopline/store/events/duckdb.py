"""The embedded event store: one DuckDB file, owned by one process."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
from rbloom import Bloom

from loopline.domain.events import EventRecord
from loopline.ports import AppendResult, Identifier
from loopline.query.dialects.base import quoted
from loopline.store.events import (
    ITER_CHUNK,
    JSON_COLUMNS,
    RECORD_COLUMNS,
    SCHEMA_COMPONENT,
    TIMESTAMP_COLUMNS,
    first_of_each,
    record_from_row,
    split_identifiers,
)

CHECKPOINT_THRESHOLD = "1GB"

# Each entry is one numbered migration; a database records the highest it has applied
# in ``schema_version`` and every statement is idempotent, so reopening is harmless.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """
            CREATE TABLE IF NOT EXISTS events (
                seq BIGINT NOT NULL,
                workspace_id VARCHAR NOT NULL,
                message_id VARCHAR NOT NULL,
                type VARCHAR NOT NULL,
                event VARCHAR,
                user_id VARCHAR,
                anonymous_id VARCHAR,
                "timestamp" TIMESTAMPTZ NOT NULL,
                received_at TIMESTAMPTZ NOT NULL,
                sent_at TIMESTAMPTZ,
                original_timestamp TIMESTAMPTZ,
                timestamp_flag VARCHAR,
                properties JSON NOT NULL,
                traits JSON NOT NULL,
                context JSON NOT NULL,
                group_id VARCHAR,
                previous_id VARCHAR,
                source VARCHAR NOT NULL,
                key_hash BIGINT NOT NULL
            )
            """,
            # The sequence high-water mark survives deleting the newest events, so a
            # reopened store never hands out a seq that a consumer has already passed.
            """
            CREATE TABLE IF NOT EXISTS event_store_state (
                id INTEGER PRIMARY KEY,
                last_seq BIGINT NOT NULL
            )
            """,
            "INSERT INTO event_store_state VALUES (1, 0) ON CONFLICT DO NOTHING",
        ),
    ),
    # The event's owner, written by the mart beside the event (loopline.query.mart.EVENTS):
    # segments and reports then read it instead of joining every event to the identities.
    (2, ("ALTER TABLE events ADD COLUMN IF NOT EXISTS profile_id VARCHAR",
         "ALTER TABLE events ADD COLUMN IF NOT EXISTS profile_bucket UTINYINT")),
)

# Dedupe strategy. Measured on a 2M-event table (this schema, 2 vCPUs), appending 60
# batches of 1,000 new events; the three ran back to back, and the ranges are from
# other runs on the same (shared, hence noisy) machine:
#   PRIMARY KEY (workspace_id, message_id) + ON CONFLICT DO NOTHING: 230 ms per batch
#     (85-230 ms; 4-11k events/s). DuckDB's conflict path costs in proportion to the
#     table (18 ms at 0.5M keys, 58 ms at 2M, 159 ms at 8M) and the ART index makes
#     the file 2.7x larger (287 MB against 107 MB).
#   Anti-join against the table on (workspace_id, message_id): 131 ms per batch
#     (45-131 ms; 7-22k events/s): it reads both string columns of every row.
#   Semi-join on a 64-bit hash of the key, then reading the real keys of the few
#     matching rows: 16 ms per batch (60k events/s). The hash scan still grows with the
#     table (about 5 ms per million events per call, 10 ms per commit at 2M events).
#   So ``append`` first asks an in-memory Bloom filter of every stored key hash (about
#     29 bits per event, see BLOOM_FALSE_POSITIVES): only hashes it may have seen go to the
#     semi-join, and a batch of new messages, the usual case, skips the scan entirely.
#     The filter is rebuilt from the key_hash column when the store opens and when it
#     fills up; deleted events stay in it, which only costs a confirming scan.
# DuckDB enforces uniqueness only through ART indexes, so there is no UNIQUE constraint:
# one writer (``_write_lock`` in-process, DuckDB's file lock across processes) makes
# check-then-insert exact, and comparing real keys makes hash collisions harmless.
# For the same reasons there are no secondary indexes: DuckDB never uses a multi-column
# ART for lookups, and single-column ones on user_id/anonymous_id more than doubled the
# file without speeding up the IN-list scans ``list_for_identifiers`` runs.

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_INSERT_COLUMNS = ", ".join(f'"{name}"' for name in ("seq", *RECORD_COLUMNS, "key_hash"))
# JSON fields a record still holds as validated are cut out of the message text by DuckDB
# (no interpreter lock, on its own threads); the others arrive serialised.
_SOURCE_COLUMN = "source_json"
_BATCH_SELECT = ", ".join(
    f"coalesce(\"{name}\", json_extract({_SOURCE_COLUMN}, '$.{name}'))" if name in JSON_COLUMNS else f'"{name}"'
    for name in ("seq", *RECORD_COLUMNS, "key_hash")
)
# TIMESTAMPTZ values reach Python only through pytz, which we do not depend on; reading
# them as UTC wall-clock TIMESTAMPs (made aware again in ``record_from_row``) avoids it.
# The alias keeps the name, so ORDER BY "timestamp" sorts the converted values, which
# sort like the instants they came from.
_SELECT = ", ".join(
    ["seq"]
    + [
        f"timezone('UTC', \"{name}\") AS \"{name}\"" if name in TIMESTAMP_COLUMNS else f'"{name}"'
        for name in RECORD_COLUMNS
    ]
)
_BATCH_VIEW = "loopline_event_batch"
BLOOM_MIN_CAPACITY = 1_000_000
# Per key, not per batch: a commit of 1,000 new keys at 1 % would almost always find a
# false candidate and pay for the scan anyway. At one in a million (about 29 bits per
# key) a thousand-key commit scans about once in a thousand commits.
BLOOM_FALSE_POSITIVES = 1e-6
_BLOOM_CHUNK = 1_000_000
_KEYS_VIEW = "loopline_event_keys"


def key_hash(workspace_id: str, message_id: str) -> int:
    """Return the stable signed 64-bit hash under which a (workspace, messageId) key is looked up."""
    digest = hashlib.blake2b(f"{workspace_id}\x1f{message_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _arrow_batch(records: Sequence[EventRecord], hashes: Sequence[int], first_seq: int) -> pa.Table:
    columns: dict[str, pa.Array] = {"seq": pa.array(range(first_seq, first_seq + len(records)), pa.int64())}
    for name in RECORD_COLUMNS:
        values = list(map(attrgetter(name), records))
        if name in JSON_COLUMNS:
            # orjson writes UTF-8, so its bytes can be viewed as text without a copy.
            texts = [
                None if record.in_source_json(name) else orjson.dumps(value)
                for record, value in zip(records, values, strict=True)
            ]
            columns[name] = pa.array(texts, pa.binary()).view(pa.string())
        elif name in TIMESTAMP_COLUMNS:
            columns[name] = pa.array(values, _TIMESTAMP)
        else:
            columns[name] = pa.array(values, pa.string())
    columns["key_hash"] = pa.array(hashes, pa.int64())
    sources = [record.source_json[0] if record.source_json is not None else None for record in records]
    columns[_SOURCE_COLUMN] = pa.array(sources, pa.binary()).view(pa.string())
    return pa.table(columns)


def _keys_at(seqs: list[int]) -> str:
    """Return a query for the keys stored at (and near) these sorted seqs."""
    # Seqs follow insertion order, so a range of them lies in few row groups and zone maps
    # skip the rest. Duplicates are usually retries of recent messages: a handful of short
    # runs, each read as one range (other keys in a range are harmless extras). Past a
    # few runs, one filtered pass over the whole span is cheaper than many branches.
    runs: list[list[int]] = []
    for seq in seqs:
        if runs and seq - runs[-1][1] <= 2_048:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    if len(runs) > 16:
        listed = ", ".join(f"{seq:d}" for seq in seqs)
        return (
            "SELECT workspace_id, message_id FROM events"
            f" WHERE seq BETWEEN {seqs[0]:d} AND {seqs[-1]:d} AND seq IN ({listed})"
        )
    return " UNION ALL ".join(
        f"SELECT workspace_id, message_id FROM events WHERE seq BETWEEN {low:d} AND {high:d}" for low, high in runs
    )


class _PersonFilter:
    """The WHERE clauses selecting one workspace's events that carry any of some identifiers."""

    def __init__(self, workspace_id: str, user_ids: list[str], anonymous_ids: list[str]) -> None:
        # One placeholder per value lets DuckDB push each IN list into the column scan.
        users = f"user_id IN ({', '.join('?' * len(user_ids))})"
        anonymous = f"anonymous_id IN ({', '.join('?' * len(anonymous_ids))})"
        self.branches: list[tuple[str, list[Any]]] = []
        if user_ids:
            self.branches.append((f"workspace_id = ? AND {users}", [workspace_id, *user_ids]))
        if anonymous_ids:
            where = f"workspace_id = ? AND {anonymous}"
            params: list[Any] = [workspace_id, *anonymous_ids]
            if user_ids:
                # Leave out rows the user_id branch already returns, so UNION ALL needs no DISTINCT.
                where += f" AND (user_id IS NULL OR NOT {users})"
                params.extend(user_ids)
            self.branches.append((where, params))
        self.where = " OR ".join(f"({where})" for where, _ in self.branches)
        self.params = [param for _, branch_params in self.branches for param in branch_params]

    def select(self, extra: str = "", extra_params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
        """Return a UNION ALL of one single-column scan per identifier kind, with ``extra`` ANDed in."""
        # An OR across user_id and anonymous_id defeats filter pushdown and reads three
        # string columns in full; one branch per column was 30-40% faster on 2M events.
        parts: list[str] = []
        params: list[Any] = []
        for where, branch_params in self.branches:
            parts.append(f"SELECT {_SELECT} FROM events WHERE {where}{extra}")
            params.extend(branch_params)
            params.extend(extra_params)
        return " UNION ALL ".join(parts), params


def _person_filter(workspace_id: str, identifiers: Sequence[Identifier]) -> _PersonFilter | None:
    user_ids, anonymous_ids = split_identifiers(identifiers)
    if not user_ids and not anonymous_ids:
        return None
    return _PersonFilter(workspace_id, user_ids, anonymous_ids)


class DuckdbEventStore:
    """Event store in a DuckDB file (or in memory); appends from one writer, reads from any thread."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        database = str(path)
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(database)
        self._write_lock = threading.Lock()
        try:
            # The Python client draws a progress bar on stdout for slow statements on its
            # first connection (cursors start without one); a server must not.
            self._conn.execute("SET enable_progress_bar = false")
            # DuckDB folds its write-ahead log into the file once the log passes the
            # threshold, inside whichever commit crosses it; at the default 16 MB that
            # stalled every waiting ingest request several times a minute (p99 1.6 s in
            # the ingest benchmark). The writer checkpoints when ingest is idle instead,
            # and this high threshold only bounds the log during a long burst.
            self._conn.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            self._migrate()
            row = self._conn.execute(
                "SELECT greatest(coalesce((SELECT max(seq) FROM events), 0),"
                " (SELECT last_seq FROM event_store_state WHERE id = 1))"
            ).fetchone()
        except BaseException:
            self._conn.close()
            raise
        self._last_seq = int(row[0]) if row else 0
        self._seen = self._build_seen_filter()

    def _build_seen_filter(self) -> Bloom:
        """Return a Bloom filter holding every stored key hash, sized for twice as many."""
        stored = self._conn.execute("SELECT count(*) FROM events").fetchone()
        count = int(stored[0]) if stored else 0
        self._seen_capacity = max(BLOOM_MIN_CAPACITY, 2 * count)
        self._seen_items = count
        seen = Bloom(self._seen_capacity, BLOOM_FALSE_POSITIVES)
        with self._conn.cursor() as cursor:
            reader = cursor.execute("SELECT key_hash FROM events").to_arrow_reader(_BLOOM_CHUNK)
            for batch in reader:
                seen.update(batch.column(0).to_pylist())
        return seen

    def _remember(self, hashes: list[int]) -> None:
        self._seen.update(hashes)
        self._seen_items += len(hashes)
        if self._seen_items > self._seen_capacity:
            # Past its capacity the false-positive rate climbs; a bigger filter keeps
            # new batches off the scan. Rebuilding reads one column, rarely (doubling).
            self._seen = self._build_seen_filter()

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " component VARCHAR PRIMARY KEY, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        # No bound parameters here: binding any Python value makes DuckDB's client import
        # pandas (75 MB, a second), which a process that only reads the store never needs.
        row = conn.execute(
            f"SELECT version FROM schema_version WHERE component = {quoted(SCHEMA_COMPONENT)}"
        ).fetchone()
        current = int(row[0]) if row else 0
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            conn.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO schema_version VALUES ({quoted(SCHEMA_COMPONENT)}, {int(version)}, now())"
                    " ON CONFLICT (component) DO UPDATE SET version = excluded.version,"
                    " applied_at = excluded.applied_at",
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def append(self, records: Sequence[EventRecord]) -> AppendResult:
        """Store records durably in one transaction; a repeated (workspace, messageId) is skipped."""
        unique = first_of_each(records)
        hashes = [key_hash(record.workspace_id, record.message_id) for record in unique]
        with self._write_lock:
            if not unique:
                return AppendResult(inserted=0, duplicates=len(records), last_seq=self._last_seq)
            conn = self._conn
            conn.execute("BEGIN TRANSACTION")
            try:
                seen = self._seen
                maybe = [digest for digest in hashes if digest in seen]
                stored = self._stored_keys(maybe) if maybe else set()
                if stored:
                    kept = [
                        (record, digest)
                        for record, digest in zip(unique, hashes, strict=True)
                        if (record.workspace_id, record.message_id) not in stored
                    ]
                    unique = [record for record, _ in kept]
                    hashes = [digest for _, digest in kept]
                if unique:
                    conn.register(_BATCH_VIEW, _arrow_batch(unique, hashes, self._last_seq + 1))
                    try:
                        conn.execute(
                            f"INSERT INTO events ({_INSERT_COLUMNS}) SELECT {_BATCH_SELECT} FROM {_BATCH_VIEW}"
                        )
                    finally:
                        conn.unregister(_BATCH_VIEW)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._last_seq += len(unique)
            self._remember(hashes)
            return AppendResult(
                inserted=len(unique), duplicates=len(records) - len(unique), last_seq=self._last_seq
            )

    def _stored_keys(self, hashes: list[int]) -> set[tuple[str, str]]:
        # Reading only the narrow hash column keeps the scan cheap; a hash match is a
        # candidate, confirmed against the real key so collisions never drop an event.
        # Hashes travel as an Arrow table: binding a Python list as a query parameter
        # converts element by element and costs more than the scan itself.
        conn = self._conn
        conn.register(_KEYS_VIEW, pa.table({"key_hash": pa.array(hashes, pa.int64())}))
        try:
            candidates = conn.execute(
                f"SELECT e.seq FROM events e SEMI JOIN {_KEYS_VIEW} b ON e.key_hash = b.key_hash"
            ).fetchall()
        finally:
            conn.unregister(_KEYS_VIEW)
        if not candidates:
            return set()
        rows = conn.execute(_keys_at(sorted(seq for (seq,) in candidates))).fetchall()
        return {(workspace_id, message_id) for workspace_id, message_id in rows}

    def _read(self, sql: str, params: Sequence[Any]) -> list[EventRecord]:
        # Each read gets its own cursor (a connection to the same database), so readers on
        # other threads never share the writer's connection state.
        with self._conn.cursor() as cursor:
            rows = cursor.execute(sql, list(params)).fetchall()
        return [record_from_row(row) for row in rows]

    def read_after(self, seq: int, *, limit: int) -> list[EventRecord]:
        """Return up to ``limit`` records with a sequence number above ``seq``, in order."""
        return self._read(f"SELECT {_SELECT} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])

    def list_for_identifiers(
        self,
        *,
        workspace_id: str,
        identifiers: Sequence[Identifier],
        limit: int | None = None,
        after_seq: int = 0,
    ) -> list[EventRecord]:
        """Return one workspace's records carrying any of the identifiers, newest first."""
        person = _person_filter(workspace_id, identifiers)
        if person is None:
            return []
        union, params = person.select(" AND seq > ?", [after_seq])
        sql = f'{union} ORDER BY "timestamp" DESC, seq DESC'
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._read(sql, params)

    def iter_for_identifiers(
        self, *, workspace_id: str, identifiers: Sequence[Identifier]
    ) -> Iterator[EventRecord]:
        """Yield every record carrying any of the identifiers, oldest first, without buffering."""
        person = _person_filter(workspace_id, identifiers)
        if person is None:
            return
        # Keyset paging on (timestamp, seq): each chunk is a short query, so a slow consumer
        # holds no cursor or snapshot open between chunks.
        position: tuple[datetime, int] | None = None
        while True:
            if position is None:
                union, params = person.select()
            else:
                union, params = person.select(
                    ' AND ("timestamp" > ? OR ("timestamp" = ? AND seq > ?))',
                    [position[0], position[0], position[1]],
                )
            chunk = self._read(f'{union} ORDER BY "timestamp", seq LIMIT ?', [*params, ITER_CHUNK])
            yield from chunk
            if len(chunk) < ITER_CHUNK:
                return
            last = chunk[-1]
            position = (last.timestamp, last.seq or 0)

    def delete_for_identifiers(self, *, workspace_id: str, identifiers: Sequence[Identifier]) -> int:
        """Delete one workspace's records carrying any of the identifiers; return how many."""
        person = _person_filter(workspace_id, identifiers)
        if person is None:
            return 0
        with self._write_lock:
            conn = self._conn
            conn.execute("BEGIN TRANSACTION")
            try:
                row = conn.execute(f"DELETE FROM events WHERE {person.where}", person.params).fetchone()
                # Record the high-water mark in case the newest events were the ones deleted.
                conn.execute("UPDATE event_store_state SET last_seq = ? WHERE id = 1", [self._last_seq])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(row[0]) if row else 0

    def count(self, *, workspace_id: str | None = None) -> int:
        """Return how many records are stored, in one workspace or in all."""
        with self._conn.cursor() as cursor:
            if workspace_id is None:
                row = cursor.execute("SELECT count(*) FROM events").fetchone()
            else:
                row = cursor.execute("SELECT count(*) FROM events WHERE workspace_id = ?", [workspace_id]).fetchone()
        return int(row[0]) if row else 0

    def last_seq(self) -> int:
        """Return the highest sequence number assigned so far (0 when empty)."""
        return self._last_seq

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a new cursor on the database: the mart keeps its tables beside the events."""
        return self._conn.cursor()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file, unless another writer is mid-transaction.

        The mart writes in this database too (copies, event owners); DuckDB refuses a
        checkpoint while such a transaction is open, and the next idle moment tries again.
        """
        with self._write_lock:
            try:
                self._conn.execute("CHECKPOINT")
            except duckdb.TransactionException as error:
                if "other write transactions" not in str(error):
                    raise

    def warm_up(self) -> None:
        """Bind one parameter now, so DuckDB's client imports pandas at start-up, not on the first request.

        Binding any Python value loads it (about a second, 75 MB). Opening the store binds
        nothing, so a process that only reads (a campaign worker) never pays; a server that
        takes events calls this before it serves, or its first events would wait seconds.
        """
        with self._conn.cursor() as cursor:
            cursor.execute("SELECT ?", [0]).fetchall()

    def close(self) -> None:
        """Release connections and files."""
        with self._write_lock:
            self._conn.close()
