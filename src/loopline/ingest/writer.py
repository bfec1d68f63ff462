"""Group commit: many requests' events appended in one transaction, each acked after it.

Requests hand their records to one writer thread and wait on a future. The thread
gathers whatever is queued (up to ``max_batch`` events or ``interval`` of waiting),
appends it in a single transaction and only then resolves the futures, so an ack always
means a durable commit while the cost of a commit is shared by every waiting request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from loopline.domain.events import EventRecord
from loopline.ports import AppendResult, EventStore

IDLE_MAINTENANCE_S = 1.0
# Ingest counts as saturated when the writer spent this share of the last second committing
# (a lower load commits small batches in a few ms), or when its commits averaged this many
# events: group commit only gathers that many when requests arrive faster than it commits,
# even when a fast store keeps the time share low.
BUSY_SHARE = 0.35
FULL_COMMIT_EVENTS = 1_000
log = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """Raised when too many events already wait for a commit; the caller should retry later."""


@dataclass(slots=True)
class _Pending:
    records: Sequence[EventRecord]
    future: Future[AppendResult]


class GroupCommitWriter:
    """The only writer of the event store in its process."""

    def __init__(
        self,
        store: EventStore,
        *,
        max_queue_events: int,
        interval_s: float,
        max_batch: int = 20_000,
        on_commit: Callable[[AppendResult], None] | None = None,
    ) -> None:
        self._store = store
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._queued_events = 0
        self._lock = threading.Lock()
        self._max_queue_events = max_queue_events
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._thread = threading.Thread(target=self._run, name="loopline-event-writer", daemon=True)
        self._started = False
        # (finished at, seconds spent, events) of recent commits, for utilisation() and pressure().
        self._recent: deque[tuple[float, float, int]] = deque(maxlen=4096)

    def start(self) -> None:
        """Start the writer thread."""
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self._started:
            self._queue.put(None)
            self._thread.join()
            self._started = False

    @property
    def queued_events(self) -> int:
        """Return how many events wait for a commit."""
        return self._queued_events

    def utilisation(self, window_s: float = 1.0) -> float:
        """Return the share of the last ``window_s`` seconds spent committing (1.0 = saturated)."""
        now = time.monotonic()
        busy = sum(spent for finished, spent, _ in list(self._recent) if now - finished < window_s)
        return min(1.0, busy / window_s)

    def pressure(self, window_s: float = 1.0) -> float:
        """Return how saturated ingest was over the last ``window_s`` seconds; 1.0 or more is saturated."""
        now = time.monotonic()
        sizes = [events for finished, _, events in list(self._recent) if now - finished < window_s]
        if not sizes:
            return 0.0
        return max(self.utilisation(window_s) / BUSY_SHARE, sum(sizes) / len(sizes) / FULL_COMMIT_EVENTS)

    def submit(self, records: Sequence[EventRecord]) -> Future[AppendResult]:
        """Queue records for the next commit; raise Overloaded when the queue is full."""
        future: Future[AppendResult] = Future()
        if not records:
            future.set_result(AppendResult(0, 0, self._store.last_seq()))
            return future
        with self._lock:
            if self._queued_events + len(records) > self._max_queue_events:
                raise Overloaded(f"{self._queued_events} events are waiting for a commit")
            self._queued_events += len(records)
        self._queue.put(_Pending(records, future))
        return future

    def append_now(self, records: Sequence[EventRecord]) -> AppendResult:
        """Append and wait; for bulk loaders running beside the server's requests."""
        return self.submit(records).result()

    def _run(self) -> None:
        stopping = False
        dirty = False
        while not stopping:
            try:
                first = self._queue.get(timeout=IDLE_MAINTENANCE_S if dirty else None)
            except queue.Empty:
                # Ingest is idle: do the store's deferred maintenance now, not inside a
                # commit that requests are waiting on.
                self._maintain()
                dirty = False
                continue
            if first is None:
                break
            dirty = True
            batch = [first]
            size = len(first.records)
            stopping = self._gather(batch, size)
            self._commit(batch)

    def _gather(self, batch: list[_Pending], size: int) -> bool:
        while size < self._max_batch:
            try:
                item = self._queue.get(timeout=self._interval_s) if size < 1000 else (
                    self._queue.get_nowait()
                )
            except queue.Empty:
                return False
            if item is None:
                return True
            batch.append(item)
            size += len(item.records)
        return False

    def _maintain(self) -> None:
        try:
            self._store.checkpoint()
        except Exception:
            log.exception("event store maintenance failed")

    def _commit(self, batch: list[_Pending]) -> None:
        records = [record for pending in batch for record in pending.records]
        started = time.monotonic()
        try:
            result = self._store.append(records)
        except Exception as error:  # noqa: BLE001 - every waiter must learn of the failure
            for pending in batch:
                pending.future.set_exception(error)
        else:
            for pending in batch:
                pending.future.set_result(result)
            if self._on_commit is not None:
                self._on_commit(result)
        finally:
            finished = time.monotonic()
            self._recent.append((finished, finished - started, len(records)))
            with self._lock:
                self._queued_events -= len(records)
