"""Fixtures that run the event store contract against every adapter."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from loopline.ports import EventStore
from loopline.store.events.duckdb import DuckdbEventStore
from loopline.store.events.postgres import PostgresEventStore, split_url

POSTGRES_URL_VARIABLE = "LOOPLINE_TEST_POSTGRES_URL"


@dataclass
class Backend:
    """One adapter under test; ``open`` opens a store on the same data every time."""

    name: str
    opener: Callable[[], EventStore]
    opened: list[EventStore] = field(default_factory=list)

    def open(self) -> EventStore:
        """Open a store on this backend's data; the fixture closes it afterwards."""
        store = self.opener()
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        """Close every store opened through this backend."""
        for store in self.opened:
            store.close()


def postgres_url() -> str:
    """Return the test server URL, or skip the test when none is configured."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set: PostgreSQL contract tests need a server")
    return url


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """Yield the server URL and a fresh schema name; drop the schema afterwards."""
    url = postgres_url()
    schema = f"loopline_test_{uuid.uuid4().hex[:12]}"
    yield url, schema
    conninfo, _ = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield each adapter in turn, on empty storage of its own."""
    if request.param == "duckdb":
        path = tmp_path / "events.duckdb"
        chosen = Backend("duckdb", lambda: DuckdbEventStore(path))
        yield chosen
        chosen.close_all()
        return
    url, schema = request.getfixturevalue("postgres_schema")
    chosen = Backend("postgres", lambda: PostgresEventStore(url, schema=schema))
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> EventStore:
    """Return an open, empty store."""
    return backend.open()
