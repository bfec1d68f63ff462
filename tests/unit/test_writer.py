"""The group-commit writer: one transaction for many requests, maintenance only when idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from loopline.domain.events import EventRecord
from loopline.ingest import writer as writer_module
from loopline.ingest.writer import GroupCommitWriter, Overloaded
from loopline.ports import AppendResult
from tests.factories import make_record


class RecordingStore:
    """An event store that only remembers what was asked of it."""

    def __init__(self) -> None:
        self.appends: list[int] = []
        self.checkpoints = 0
        self.gate = threading.Event()
        self.gate.set()

    def append(self, records: Sequence[EventRecord]) -> AppendResult:
        self.gate.wait(5)
        self.appends.append(len(records))
        return AppendResult(len(records), 0, sum(self.appends))

    def checkpoint(self) -> None:
        self.checkpoints += 1

    def last_seq(self) -> int:
        return sum(self.appends)


def test_requests_waiting_together_share_one_commit():
    store = RecordingStore()
    writer = GroupCommitWriter(store, max_queue_events=1000, interval_s=0.001)  # type: ignore[arg-type]
    store.gate.clear()
    writer.start()
    blocker = writer.submit([make_record()])
    time.sleep(0.05)
    waiting = [writer.submit([make_record(), make_record()]) for _ in range(5)]
    store.gate.set()
    blocker.result(5)
    for future in waiting:
        future.result(5)
    writer.stop()
    assert store.appends == [1, 10]


def test_a_full_queue_refuses_instead_of_growing():
    store = RecordingStore()
    writer = GroupCommitWriter(store, max_queue_events=3, interval_s=0.001)  # type: ignore[arg-type]
    with pytest.raises(Overloaded):
        writer.submit([make_record() for _ in range(4)])
    assert writer.queued_events == 0


def test_maintenance_runs_when_ingest_is_idle_and_not_before(monkeypatch):
    monkeypatch.setattr(writer_module, "IDLE_MAINTENANCE_S", 0.05)
    store = RecordingStore()
    writer = GroupCommitWriter(store, max_queue_events=1000, interval_s=0.001)  # type: ignore[arg-type]
    writer.start()
    time.sleep(0.2)
    assert store.checkpoints == 0  # nothing written yet, nothing to fold
    writer.submit([make_record()]).result(5)
    deadline = time.monotonic() + 5
    while store.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop()
    assert store.checkpoints == 1


def test_utilisation_reports_the_share_of_time_spent_committing():
    store = RecordingStore()
    slow_append = store.append

    def append(records: Sequence[EventRecord]) -> AppendResult:
        time.sleep(0.1)
        return slow_append(records)

    store.append = append  # type: ignore[method-assign]
    writer = GroupCommitWriter(store, max_queue_events=1000, interval_s=0.001)  # type: ignore[arg-type]
    writer.start()
    assert writer.utilisation() == 0.0
    for _ in range(3):
        writer.submit([make_record()]).result(5)
    busy = writer.utilisation()
    writer.stop()
    assert 0.25 <= busy <= 1.0


def test_pressure_counts_slow_commits_and_large_fast_ones():
    store = RecordingStore()
    writer = GroupCommitWriter(store, max_queue_events=100_000, interval_s=0.001)  # type: ignore[arg-type]
    writer.start()
    assert writer.pressure() == 0.0
    writer.submit([make_record() for _ in range(10)]).result(5)
    light = writer.pressure()
    # One fast commit of 2,000 events: requests piled up faster than single commits.
    writer.submit([make_record() for _ in range(3_990)]).result(5)
    heavy = writer.pressure()
    writer.stop()
    assert light < 1.0
    assert heavy >= 1.0
