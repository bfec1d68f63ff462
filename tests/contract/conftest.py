"""Fixtures that run the event store contract against every adapter.

The PostgreSQL schema per test (``pg_schema``) comes from the suite-wide conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loopline.ports import EventStore
from loopline.store.events.duckdb import DuckdbEventStore
from loopline.store.events.postgres import PostgresEventStore


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


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield each adapter in turn, on empty storage of its own."""
    if request.param == "duckdb":
        path = tmp_path / "events.duckdb"
        chosen = Backend("duckdb", lambda: DuckdbEventStore(path))
        yield chosen
        chosen.close_all()
        return
    url, schema = request.getfixturevalue("pg_schema")
    chosen = Backend("postgres", lambda: PostgresEventStore(url, schema=schema))
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> EventStore:
    """Return an open, empty store."""
    return backend.open()
