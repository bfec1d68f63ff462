"""The mart: profile facts copied beside the events, and the engine segment queries run on."""

from __future__ import annotations

from loopline.ports import EventStore, Mart


def open_mart(url: str, events: EventStore) -> Mart:
    """Open the mart in the analytics store named by ``url`` (the one holding ``events``)."""
    scheme = url.partition("://")[0].lower()
    if scheme == "duckdb":
        from loopline.store.events.duckdb import DuckdbEventStore
        from loopline.store.mart.duckdb import DuckdbMart

        # One process owns a DuckDB file: the mart shares the event store's database.
        assert isinstance(events, DuckdbEventStore), "a DuckDB analytics URL opens a DuckDB event store"
        return DuckdbMart(events)
    from loopline.store.mart.postgres import PostgresMart

    return PostgresMart(url)
