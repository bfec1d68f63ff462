"""The EventStore contract, run against every adapter."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.factories import BASE_TIME, make_record

from loopline.domain.events import EventRecord, IngestLimits, parse_message
from loopline.ports import EventStore
from loopline.store.events import ITER_CHUNK, open_event_store
from loopline.store.events.duckdb import DuckdbEventStore
from loopline.store.events.postgres import PostgresEventStore

if TYPE_CHECKING:
    from tests.contract.conftest import Backend

WS = "ws_test"


def stored_as(record: EventRecord, seq: int | None) -> EventRecord:
    """Return ``record`` as the store should hand it back: same fields, seq set."""
    return replace(record, seq=seq)


def test_append_reads_back_equal_records(store: EventStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    rich = make_record(
        type="identify",
        event=None,
        user_id="ユーザー-1",
        anonymous_id="anon-ß-1",
        timestamp=datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        received_at=datetime(2024, 3, 1, 1, 0, 0, 123_456, tzinfo=plus_two),
        sent_at=None,
        original_timestamp=None,
        timestamp_flag="future",
        properties={},
        traits={
            "name": "Zoë Ångström 🚀",
            "address": {"city": "Zürich", "lines": ["Bahnhofstrasse 1", None]},
            "scores": [1, 2.5, -3, 0, True, False],
            "nested": {"a": {"b": {"c": {"d": "deep"}}}},
            "quote": 'He said "hi"\n\ttab\\backslash',
            "big": 2**53 + 1,
        },
        context={"library": {"name": "analytics-ios", "version": "4.1.0"}, "locale": "de-CH"},
        group_id="group-7",
        previous_id="prev-1",
        source="segment",
    )
    # Device clocks can claim any year a timestamp can express; extremes must survive.
    plain = make_record(
        original_timestamp=datetime(1, 1, 1, tzinfo=UTC),
        sent_at=datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        timestamp_flag="past",
    )
    result = store.append([rich, plain])

    assert result.inserted == 2
    assert result.duplicates == 0
    stored = store.read_after(0, limit=10)
    assert [record.seq for record in stored] == sorted(record.seq or 0 for record in stored)
    assert stored == [stored_as(rich, stored[0].seq), stored_as(plain, stored[1].seq)]
    assert result.last_seq == stored[1].seq
    for record in stored:
        for value in (record.timestamp, record.received_at, record.sent_at, record.original_timestamp):
            assert value is None or value.utcoffset() == timedelta(0)
    assert stored[0].received_at == datetime(2024, 2, 29, 23, 0, 0, 123_456, tzinfo=UTC)


def test_empty_append_changes_nothing(store: EventStore) -> None:
    assert store.append([]) == store.append([])
    assert store.append([]).inserted == 0
    assert store.count() == 0
    assert store.last_seq() == 0


def test_repeated_message_is_skipped_across_calls(store: EventStore) -> None:
    first, second, third = make_record(), make_record(), make_record()
    store.append([first, second])

    result = store.append([replace(second, event="Changed"), third])

    assert (result.inserted, result.duplicates) == (1, 1)
    assert store.count() == 3
    assert [record.event for record in store.read_after(0, limit=10)] == [first.event, second.event, third.event]


def test_repeated_message_within_one_call_keeps_the_first(store: EventStore) -> None:
    original = make_record(event="Original")
    repeat = replace(original, event="Repeat", properties={"other": True})

    other = make_record()

    result = store.append([original, other, repeat, repeat])

    assert (result.inserted, result.duplicates) == (2, 2)
    stored = store.read_after(0, limit=10)
    assert stored == [stored_as(original, stored[0].seq), stored_as(other, stored[1].seq)]


def test_repeats_of_messages_scattered_through_history_are_skipped(store: EventStore) -> None:
    history = [make_record(user_id=f"user-{i % 97}") for i in range(36_000)]
    for start in range(0, len(history), 12_000):
        store.append(history[start : start + 12_000])
    repeats = history[::2_100]  # far apart, so they sit in many separate row ranges
    fresh = [make_record() for _ in range(10)]

    result = store.append([*repeats[:5], *fresh, *repeats[5:]])

    assert (result.inserted, result.duplicates) == (10, len(repeats))
    assert store.count() == len(history) + 10
    assert [record.message_id for record in store.read_after(result.last_seq - 10, limit=20)] == [
        record.message_id for record in fresh
    ]


def test_same_message_id_in_two_workspaces_is_stored_twice(store: EventStore) -> None:
    a = make_record(workspace_id="ws_a", message_id="shared", user_id="u1")
    b = make_record(workspace_id="ws_b", message_id="shared", user_id="u1")

    result = store.append([a, b])

    assert result.inserted == 2
    assert store.count(workspace_id="ws_a") == 1
    assert store.count(workspace_id="ws_b") == 1
    assert store.count(workspace_id="ws_c") == 0
    assert store.count() == 2
    assert store.list_for_identifiers(workspace_id="ws_a", identifiers=[("user_id", "u1")]) == [
        stored_as(a, store.read_after(0, limit=1)[0].seq)
    ]
    assert store.delete_for_identifiers(workspace_id="ws_a", identifiers=[("user_id", "u1")]) == 1
    assert store.count(workspace_id="ws_b") == 1
    assert [record.workspace_id for record in store.read_after(0, limit=10)] == ["ws_b"]


def test_seq_increases_strictly_and_read_after_pages_through_everything(store: EventStore) -> None:
    appended: list[EventRecord] = []
    last_seqs: list[int] = []
    for size in (3, 1, 7, 0, 5, 9):
        batch = [make_record(user_id=f"user-{size}-{i}") for i in range(size)]
        appended.extend(batch)
        result = store.append(batch)
        last_seqs.append(result.last_seq)
        assert result.last_seq == store.last_seq()
    assert last_seqs == sorted(last_seqs)

    seen: list[EventRecord] = []
    position = 0
    while page := store.read_after(position, limit=4):
        assert len(page) <= 4
        seen.extend(page)
        position = page[-1].seq or 0
    seqs = [record.seq or 0 for record in seen]
    assert all(earlier < later for earlier, later in itertools.pairwise(seqs))
    assert [record.message_id for record in seen] == [record.message_id for record in appended]
    assert seqs[-1] == store.last_seq()
    assert store.read_after(store.last_seq(), limit=10) == []


def test_list_returns_newest_first_with_limit_and_after_seq(store: EventStore) -> None:
    older = make_record(timestamp=BASE_TIME, anonymous_id="anon-9", user_id=None)
    newest = make_record(timestamp=BASE_TIME + timedelta(hours=2))
    tie_first = make_record(timestamp=BASE_TIME + timedelta(hours=1))
    tie_second = make_record(timestamp=BASE_TIME + timedelta(hours=1), user_id=None, anonymous_id="anon-9")
    stranger = make_record(user_id="someone-else", anonymous_id="anon-other")
    store.append([older, newest, tie_first, tie_second, stranger])
    identifiers = [("user_id", "user-1"), ("anonymous_id", "anon-9")]

    listed = store.list_for_identifiers(workspace_id=WS, identifiers=identifiers)

    assert [record.message_id for record in listed] == [
        newest.message_id,
        tie_second.message_id,
        tie_first.message_id,
        older.message_id,
    ]
    limited = store.list_for_identifiers(workspace_id=WS, identifiers=identifiers, limit=2)
    assert limited == listed[:2]
    cutoff = next(record.seq or 0 for record in listed if record.message_id == tie_first.message_id)
    after = store.list_for_identifiers(workspace_id=WS, identifiers=identifiers, after_seq=cutoff)
    assert after == [record for record in listed if (record.seq or 0) > cutoff]
    assert [record.message_id for record in after] == [tie_second.message_id]
    assert store.list_for_identifiers(workspace_id=WS, identifiers=identifiers, after_seq=cutoff, limit=0) == []


def test_list_ignores_identifier_kinds_events_do_not_carry(store: EventStore) -> None:
    record = make_record(user_id="u-1", anonymous_id="a-1")
    store.append([record])

    assert store.list_for_identifiers(workspace_id=WS, identifiers=[]) == []
    assert store.list_for_identifiers(workspace_id=WS, identifiers=[("email", "u-1"), ("phone", "a-1")]) == []
    assert len(store.list_for_identifiers(workspace_id=WS, identifiers=[("email", "x"), ("anonymous_id", "a-1")])) == 1
    assert store.delete_for_identifiers(workspace_id=WS, identifiers=[("email", "u-1")]) == 0
    assert list(store.iter_for_identifiers(workspace_id=WS, identifiers=[("phone", "a-1")])) == []


def test_iter_yields_oldest_first_across_chunks(store: EventStore) -> None:
    # More than one chunk, with a run of equal timestamps straddling the chunk boundary.
    same_time = BASE_TIME + timedelta(days=1)
    records = [
        make_record(
            user_id="heavy" if i % 2 == 0 else None,
            anonymous_id="heavy-device",
            timestamp=same_time if ITER_CHUNK - 50 <= i < ITER_CHUNK + 50 else BASE_TIME + timedelta(seconds=i),
        )
        for i in range(ITER_CHUNK + 300)
    ]
    store.append(list(reversed(records[: ITER_CHUNK // 2])))
    store.append(records[ITER_CHUNK // 2 :])
    store.append([make_record(user_id="light", anonymous_id="light-device")])

    iterator = store.iter_for_identifiers(
        workspace_id=WS, identifiers=[("user_id", "heavy"), ("anonymous_id", "heavy-device")]
    )
    assert iter(iterator) is iterator
    yielded = list(iterator)

    assert len(yielded) == len(records)
    assert len({record.message_id for record in yielded}) == len(records)
    keys = [(record.timestamp, record.seq or 0) for record in yielded]
    assert keys == sorted(keys)
    assert yielded == sorted(yielded, key=lambda record: (record.timestamp, record.seq or 0))


def test_delete_removes_only_that_persons_rows(store: EventStore) -> None:
    mine = [
        make_record(user_id="me", anonymous_id="my-phone"),
        make_record(user_id=None, anonymous_id="my-laptop"),
        make_record(user_id="me", anonymous_id=None),
    ]
    theirs = [
        make_record(user_id="them", anonymous_id="their-phone"),
        make_record(workspace_id="ws_other", user_id="me", anonymous_id="my-phone"),
    ]
    store.append(mine + theirs)
    last = store.last_seq()
    me = [("user_id", "me"), ("anonymous_id", "my-laptop")]

    assert store.delete_for_identifiers(workspace_id=WS, identifiers=me) == 3

    assert store.list_for_identifiers(workspace_id=WS, identifiers=me) == []
    assert store.count(workspace_id=WS) == 1
    assert store.count(workspace_id="ws_other") == 1
    assert {record.user_id for record in store.read_after(0, limit=10)} == {"them", "me"}
    assert store.delete_for_identifiers(workspace_id=WS, identifiers=me) == 0
    assert store.last_seq() == last


def test_count_per_workspace_and_in_total(store: EventStore) -> None:
    store.append([make_record(workspace_id="ws_a") for _ in range(3)])
    store.append([make_record(workspace_id="ws_b") for _ in range(2)])

    assert store.count(workspace_id="ws_a") == 3
    assert store.count(workspace_id="ws_b") == 2
    assert store.count(workspace_id="ws_missing") == 0
    assert store.count() == 5


def test_last_seq_starts_at_zero_and_tracks_appends(store: EventStore) -> None:
    assert store.last_seq() == 0
    first = store.append([make_record(), make_record()])
    assert store.last_seq() == first.last_seq > 0
    duplicate_only = store.append([store.read_after(0, limit=1)[0]])
    assert duplicate_only.inserted == 0
    assert duplicate_only.last_seq == first.last_seq == store.last_seq()


def test_reopening_keeps_data_and_continues_seq(backend: Backend) -> None:
    store = backend.open()
    before = [make_record(), make_record(), make_record(user_id="newest")]
    store.append(before)
    # Deleting the newest events must not let the next store reuse their seqs.
    store.delete_for_identifiers(workspace_id=WS, identifiers=[("user_id", "newest")])
    high_water = store.last_seq()
    kept = store.read_after(0, limit=10)
    store.close()

    reopened = backend.open()
    assert reopened.read_after(0, limit=10) == kept
    assert reopened.last_seq() == high_water
    result = reopened.append([make_record()])
    assert result.inserted == 1
    assert result.last_seq > high_water
    assert reopened.append(before[:1]).duplicates == 1


def test_reads_from_other_threads_while_appending(store: EventStore) -> None:
    batches = [[make_record(user_id=f"user-{n % 7}") for _ in range(50)] for n in range(40)]
    done = threading.Event()
    failures: list[BaseException] = []
    observed_counts: list[int] = []

    def read_continuously() -> None:
        try:
            position = 0
            while not done.is_set():
                page = store.read_after(position, limit=200)
                seqs = [record.seq or 0 for record in page]
                assert seqs == sorted(seqs)
                if page:
                    position = seqs[-1]
                observed_counts.append(store.count(workspace_id=WS))
                store.list_for_identifiers(workspace_id=WS, identifiers=[("user_id", "user-3")], limit=5)
        except BaseException as error:  # reported to the main thread below
            failures.append(error)

    readers = [threading.Thread(target=read_continuously) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for batch in batches:
            store.append(batch)
    finally:
        done.set()
        for reader in readers:
            reader.join(timeout=30)

    assert failures == []
    assert observed_counts
    assert store.count() == 40 * 50
    assert len(store.read_after(0, limit=10_000)) == 40 * 50


def test_open_event_store_picks_the_adapter_from_the_url() -> None:
    memory = open_event_store("duckdb:///:memory:")
    try:
        assert isinstance(memory, DuckdbEventStore)
        memory.append([make_record()])
        assert memory.count() == 1
    finally:
        memory.close()
    with pytest.raises(ValueError, match="unsupported event store URL"):
        open_event_store("mysql://localhost/events")
    with pytest.raises(ValueError, match="three slashes"):
        open_event_store("duckdb://relative/events.duckdb")


@pytest.mark.postgres
def test_open_event_store_reads_postgres_schema_from_the_url(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    separator = "&" if "?" in url else "?"
    _, rest = url.split("://", 1)
    store = open_event_store(f"postgresql+psycopg://{rest}{separator}schema={schema}")
    try:
        assert isinstance(store, PostgresEventStore)
        assert store.schema == schema
        store.append([make_record()])
    finally:
        store.close()
    again = PostgresEventStore(url, schema=schema)
    try:
        assert again.count() == 1
    finally:
        again.close()


@pytest.mark.postgres
def test_postgres_concurrent_appenders_never_let_a_reader_skip_a_row(pg_schema: tuple[str, str]) -> None:
    # Seqs must become visible in order even with several writers: a reader paging with
    # read_after must end up having seen every row, none of them out of order.
    url, schema = pg_schema
    writers = [PostgresEventStore(url, schema=schema) for _ in range(3)]
    reader = PostgresEventStore(url, schema=schema)
    writing = threading.Event()
    failures: list[BaseException] = []
    seen: list[int] = []

    def append_batches(store: PostgresEventStore, writer: int) -> None:
        try:
            for batch in range(25):
                store.append([make_record(user_id=f"w{writer}-b{batch}-{i}") for i in range(20)])
        except BaseException as error:  # reported to the main thread below
            failures.append(error)

    def page_through() -> None:
        position = 0
        while writing.is_set() or position < reader.last_seq():
            page = reader.read_after(position, limit=37)
            seen.extend(record.seq or 0 for record in page)
            if page:
                position = page[-1].seq or 0

    threads = [threading.Thread(target=append_batches, args=(store, n)) for n, store in enumerate(writers)]
    writing.set()
    paging = threading.Thread(target=page_through)
    paging.start()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        writing.clear()
        paging.join(timeout=60)
        for store in [*writers, reader]:
            store.close()

    assert failures == []
    final = PostgresEventStore(url, schema=schema)
    try:
        everything = [record.seq or 0 for record in final.read_after(0, limit=10_000)]
    finally:
        final.close()
    assert len(everything) == 3 * 25 * 20
    assert seen == everything


def test_duckdb_key_hash_collisions_never_drop_or_duplicate_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force every key onto one hash: dedupe must fall back to comparing the real keys.
    monkeypatch.setattr("loopline.store.events.duckdb.key_hash", lambda workspace_id, message_id: 42)
    store = DuckdbEventStore(tmp_path / "collisions.duckdb")
    try:
        first = [make_record() for _ in range(5)]
        assert store.append(first).inserted == 5
        same_id_elsewhere = make_record(workspace_id="ws_other", message_id=first[0].message_id)
        result = store.append([*first[:2], make_record(), same_id_elsewhere])
        assert (result.inserted, result.duplicates) == (2, 2)
        assert store.count() == 7
    finally:
        store.close()


def test_duckdb_dedupe_survives_the_seen_filter_growing_and_reopening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny filter fills after a few appends and must be rebuilt from the stored hashes;
    # every earlier message is still recognised afterwards and after reopening the file.
    monkeypatch.setattr("loopline.store.events.duckdb.BLOOM_MIN_CAPACITY", 8)
    path = tmp_path / "grow.duckdb"
    store = DuckdbEventStore(path)
    batches = [[make_record() for _ in range(5)] for _ in range(6)]
    try:
        for batch in batches:
            assert store.append(batch).inserted == 5
        assert store.append([record for batch in batches for record in batch]).duplicates == 30
    finally:
        store.close()
    reopened = DuckdbEventStore(path)
    try:
        result = reopened.append([*batches[0], make_record()])
        assert (result.inserted, result.duplicates) == (1, 5)
    finally:
        reopened.close()


def test_duckdb_filter_false_positives_are_confirmed_against_stored_keys(tmp_path: Path) -> None:
    class AlwaysSeen:
        def __contains__(self, digest: object) -> bool:
            return True

        def update(self, digests: object) -> None:
            pass

    store = DuckdbEventStore(tmp_path / "positives.duckdb")
    try:
        first = [make_record() for _ in range(3)]
        store.append(first)
        store._seen = AlwaysSeen()  # type: ignore[assignment]  # every new key looks seen
        result = store.append([first[1], make_record(), make_record()])
        assert (result.inserted, result.duplicates) == (2, 1)
        assert store.count() == 5
    finally:
        store.close()


def test_checkpoint_keeps_everything_and_appends_continue(store: EventStore) -> None:
    first = [make_record(workspace_id="ws_cp") for _ in range(3)]
    store.append(first)
    store.checkpoint()
    store.append([make_record(workspace_id="ws_cp")])
    assert store.count(workspace_id="ws_cp") == 4
    assert [r.message_id for r in store.read_after(0, limit=10) if r.workspace_id == "ws_cp"][:3] == [
        r.message_id for r in first
    ]


def _validated(message: dict[str, object]) -> EventRecord:
    return parse_message(
        message, workspace_id=WS, default_type=None, batch_sent_at=None, batch_context=None,
        received_at=BASE_TIME, new_message_id=lambda: "generated", limits=IngestLimits(),
    )


def test_validated_messages_read_back_exactly_whatever_their_json(store: EventStore) -> None:
    # Validated records carry their message's JSON, which an adapter may cut fields out of
    # instead of serialising them again: the values must come back exactly.
    awkward = {
        "text": 'quotes " and \\ backslashes, ünïcödé, emoji 🛍️, tab\t, line\n',
        "floats": [0.1, 1e-7, -2.5e-308, 1.7976931348623157e308, 12345.678901234567],
        "ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1],
        "nested": {"empty": {}, "list": [[], [{}], [1, "a", None, True, False]]},
    }
    sent = [
        _validated({"type": "track", "userId": "u-json", "messageId": "m1", "event": "Order Completed",
                    "properties": awkward, "context": {"locale": "de-DE", "traits": {"a": 1}}}),
        _validated({"type": "identify", "userId": "u-json", "messageId": "m2",
                    "context": {"traits": {"email": "a@example.com"}}}),
        _validated({"type": "page", "userId": "u-json", "messageId": "m3"}),
    ]
    replaced = replace(sent[0], message_id="m4", context={"replaced": True})
    changed = _validated({"type": "track", "userId": "u-json", "messageId": "m5", "event": "X",
                          "context": {"ip": "1.2.3.4"}})
    changed.forget_source("context")
    changed.context["extra"] = "added in place"
    store.append([*sent, replaced, changed])
    back = {record.message_id: record for record in store.read_after(0, limit=10) if record.workspace_id == WS}
    for record in [*sent, replaced, changed]:
        assert back[record.message_id] == stored_as(record, back[record.message_id].seq)
    assert back["m2"].traits == {"email": "a@example.com"}
    assert back["m4"].context == {"replaced": True}
    assert back["m5"].context == {"ip": "1.2.3.4", "extra": "added in place"}


def test_a_duckdb_checkpoint_waits_for_the_marts_open_transaction(tmp_path) -> None:
    store = DuckdbEventStore(tmp_path / "events.duckdb")
    try:
        store.append([make_record(workspace_id="ws_cp")])
        mart = store.cursor()
        mart.execute("BEGIN TRANSACTION")
        mart.execute("UPDATE events SET profile_id = 'p1'")  # as the mart attributes owners
        store.checkpoint()  # DuckDB refuses while an update is open: skipped, not an error
        mart.execute("COMMIT")
        store.checkpoint()
        store.append([make_record(workspace_id="ws_cp")])
        assert store.count(workspace_id="ws_cp") == 2
    finally:
        store.close()
