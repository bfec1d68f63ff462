"""Engines for the operational store, with the SQLite settings an embedded server needs."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event


def normalise_url(url: str) -> str:
    """Return a SQLAlchemy URL using psycopg 3 for ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def to_json(value: Any) -> str:
    """Serialise a JSON column's value: orjson (several times faster than the standard library on
    the ledger's payloads and the profiles' traits), the standard library for what orjson refuses
    (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def from_json(text: str | bytes) -> Any:
    """Read a JSON column's value: orjson (several times faster on traits, computed properties and
    payloads), the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_store_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and NORMAL sync so readers never block."""
    url = normalise_url(url)
    codec: dict[str, Any] = {"json_serializer": to_json, "json_deserializer": from_json}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **codec)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **codec)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves so
    # a writer takes the lock up front instead of failing half-way on upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Checkpoint the log into the file every 10,000 pages (about 40 MB) instead of SQLite's
    # 1,000: a campaign batch rewrites the same index pages in several transactions, and a
    # longer log copies each of them once per checkpoint, not once per transaction (9 %
    # more messages per second in the campaign benchmark).
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    # Writers take the write lock when they begin; a deferred transaction that reads
    # and then writes can fail at once with SQLITE_BUSY when another writer committed
    # in between, which busy_timeout cannot wait out. Readers stay deferred.
    if connection.get_execution_options().get("write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def writer(engine: sa.Engine) -> sa.Engine:
    """Return the engine to use for transactions that write."""
    return engine.execution_options(write=True)


class WalCheckpoints:
    """Copies SQLite's write-ahead log into the database file from a connection of its own.

    A writer whose commit finds the log past ``wal_autocheckpoint`` copies it into the file
    itself, inside its transaction: in a million-customer campaign that was 7 % of the time
    per message, on the one core the interpreter lock lets Python use. Checkpointing every
    fraction of a second from another thread (SQLite's work runs without the lock) leaves
    writers little or nothing to copy when they reach the limit. PASSIVE never waits for
    readers or writers; frames it cannot copy yet wait for the next pass. Other databases
    have nothing to do here.
    """

    def __init__(self, engine: sa.Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = database if database and database != ":memory:" else None
        self._conn: sqlite3.Connection | None = None
        self.last: tuple[int, int] = (0, 0)  # after the last pass: frames in the log, and of them in the file

    def run_once(self) -> None:
        """Checkpoint what the log holds now (``last`` says how far it got)."""
        if self._path is None:
            return
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=0)
        _busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.last = (max(frames, 0), max(copied, 0))

    def close(self) -> None:
        """Close the checkpointing connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
