"""``loopline bench ingest`` and ``loopline bench ingest-single``: HTTP ingest against its limits.

The server runs in a subprocess (``loopline.bench.server``) and this process is the load
generator, so client work never takes turns on the server's event loop. Both benches
stop the server cleanly, then count what the event store holds and compare it with
what was acknowledged.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loopline.bench.load import (
    MARK,
    LoadResult,
    Payloads,
    closed_loop,
    make_payloads,
    open_loop,
    percentile_ms,
    request_head,
    run_async,
)
from loopline.bench.server import HOST, BenchServer
from loopline.config import Settings
from loopline.domain.events import EventRecord, IngestLimits, parse_message, parse_timestamp
from loopline.store.events import open_event_store

SEED = 20_260_115
FULL_BATCH_REQUESTS = 20_000
EVENTS_PER_BATCH = 100
# A handful of connections, as a few SDK senders would hold: enough for group commit to
# gather several requests per transaction without queueing requests behind each other.
BATCH_CONCURRENCY = 32
FULL_SINGLE_REQUESTS = 20_000
SATURATION_CONCURRENCY = (16, 64, 256)
PACED_FRACTION = 0.7
PACED_CONNECTIONS = 256
TEMPLATES = 64
# Seconds allowed for a clean shutdown: the runtime projects every event before exiting.
STOP_BASE_S = 300.0
STOP_PER_EVENT_S = 0.002


@contextmanager
def _progress() -> Iterator[Progress]:
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, refresh_per_second=4) as progress:
        yield progress


class _Ticker:
    """Advances a progress task in steps, so the load loop does not pay for every request."""

    def __init__(self, progress: Progress, description: str, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=total)
        self._pending = 0
        self._step = max(1, total // 200)

    def __call__(self, done: int) -> None:
        self._pending += done
        if self._pending >= self._step:
            self._progress.advance(self._task, self._pending)
            self._pending = 0

    def finish(self) -> None:
        """Show the task complete."""
        self._progress.advance(self._task, self._pending)
        self._pending = 0


@contextmanager
def _step(progress: Progress, description: str) -> Iterator[None]:
    task = progress.add_task(description, total=1)
    yield
    progress.update(task, completed=1)


def _started(progress: Progress, server: BenchServer) -> BenchServer:
    with _step(progress, f"start the {server.app_name} server"):
        server.start()
    return server


def _stored(data_dir: Path, workspace_id: str) -> int:
    store = open_event_store(Settings(data_dir=data_dir).resolved_analytics_url)
    try:
        return store.count(workspace_id=workspace_id)
    finally:
        store.close()


def _stop_timeout(events: int) -> float:
    return STOP_BASE_S + STOP_PER_EVENT_S * events


def _no_fallback() -> str:
    raise AssertionError("every generated message carries a messageId")


def _template_records(payloads: Payloads, workspace_id: str) -> list[list[EventRecord]]:
    """Parse every template's messages once, exactly as ingest does, keeping the mark in the ids."""
    received = datetime.now(UTC)
    limits = IngestLimits()
    parsed: list[list[EventRecord]] = []
    for body in payloads.templates:
        payload = orjson.loads(body)
        sent_at = parse_timestamp(payload.get("sentAt"), "sentAt")
        parsed.append([
            parse_message(raw, workspace_id=workspace_id, default_type=None, batch_sent_at=sent_at,
                          batch_context=None, received_at=received, new_message_id=_no_fallback, limits=limits)
            for raw in payload["batch"]
        ])
    return parsed


def _limit_records(payloads: Payloads, requests: int, workspace_id: str) -> list[EventRecord]:
    """Return the rows the load sent: each request's template records with its own messageIds."""
    templates = _template_records(payloads, workspace_id)
    mark = MARK.decode()
    records: list[EventRecord] = []
    for number in range(requests):
        slot = f"{number:08x}"
        records.extend(
            dataclasses.replace(record, message_id=record.message_id.replace(mark, slot))
            for record in templates[number % len(templates)]
        )
    return records


def _limit_events_per_s(records: list[EventRecord], batch: int, path: Path, tick: _Ticker) -> float:
    """Append records with the store's own ``append`` in batches of ``batch``; return events/s."""
    store = open_event_store(f"duckdb:///{path}")
    try:
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            chunk = records[start:start + batch]
            store.append(chunk)
            tick(len(chunk))
        seconds = time.perf_counter() - started
        stored = store.count()
    finally:
        store.close()
    tick.finish()
    if stored != len(records):
        raise RuntimeError(f"the limit run stored {stored} of {len(records)} rows")
    return len(records) / seconds


def run_ingest(*, scale: float = 1.0) -> dict[str, Any]:
    """Ingest batches of 100 track events over HTTP; compare with the store's bare bulk append."""
    requests = max(1, round(FULL_BATCH_REQUESTS * scale))
    payloads = make_payloads(seed=SEED, events_per_body=EVENTS_PER_BATCH, templates=min(TEMPLATES, requests))
    with tempfile.TemporaryDirectory(prefix="loopline-bench-") as tmp, _progress() as progress:
        root = Path(tmp)
        server = _started(progress, BenchServer("loopline", root / "server"))
        workspace_id = str(server.info["workspace_id"])
        head = request_head("/v1/batch", HOST, server.port, str(server.info["write_key"]))
        tick = _Ticker(progress, f"ingest {requests * EVENTS_PER_BATCH:,} events", requests)
        with server:
            result: LoadResult = run_async(closed_loop(
                host=HOST, port=server.port, head=head, bodies=payloads.body, first=0, count=requests,
                concurrency=BATCH_CONCURRENCY, progress=tick,
            ))
            tick.finish()
            with _step(progress, "stop the server (commit and project what is queued)"):
                figures = server.stop(_stop_timeout(result.acked))
        with _step(progress, "count the stored events"):
            stored = _stored(server.data_dir, workspace_id)
        with _step(progress, "build the same rows for the limit"):
            records = _limit_records(payloads, requests, workspace_id)
        batch = int(figures["median_commit"]) or EVENTS_PER_BATCH
        limit = _limit_events_per_s(
            records, batch, root / "limit" / "events.duckdb",
            _Ticker(progress, f"limit: append in batches of {batch:,}", len(records)),
        )
    events_per_s = result.acked / result.seconds
    return {
        "bench": "ingest",
        "events_per_s": round(events_per_s),
        "vs_limit": round(events_per_s / limit, 3),
        "p50_ms": percentile_ms(result.latencies, 0.50),
        "p99_ms": percentile_ms(result.latencies, 0.99),
        "acked": result.acked,
        "stored": stored,
        "requests": result.requests,
        "errors": result.errors,
        "failed": result.failed,
        "limit_events_per_s": round(limit),
        "limit_batch": batch,
        "commits": figures["commits"],
        "concurrency": BATCH_CONCURRENCY,
        "seconds": round(result.seconds, 2),
    }


def _saturate(
    server: BenchServer, head: bytes, bodies: Callable[[int], bytes], *, first: int, count: int,
    progress: Progress, label: str,
) -> tuple[dict[str, float], LoadResult]:
    """Return the closed-loop request rate at each concurrency level, and the folded counts."""
    total = LoadResult()
    rates: dict[str, float] = {}
    share = max(1, count // len(SATURATION_CONCURRENCY))
    for concurrency in SATURATION_CONCURRENCY:
        tick = _Ticker(progress, f"{label}: saturate with {concurrency} connections", share)
        result: LoadResult = run_async(closed_loop(
            host=HOST, port=server.port, head=head, bodies=bodies, first=first, count=share,
            concurrency=concurrency, progress=tick,
        ))
        tick.finish()
        first += share
        total.add(result)
        rates[str(concurrency)] = round(len(result.latencies) / result.seconds)
    return rates, total


def _warm(server: BenchServer, head: bytes, bodies: Callable[[int], bytes], first: int, count: int) -> LoadResult:
    """Send a few requests first so imports, caches and connections are warm when timing starts."""
    result: LoadResult = run_async(closed_loop(
        host=HOST, port=server.port, head=head, bodies=bodies, first=first, count=count, concurrency=4,
    ))
    return result


def run_ingest_single(*, scale: float = 1.0) -> dict[str, Any]:
    """Ingest one track event per request: saturation rate, then latency at 70 % of it."""
    count = max(40, round(FULL_SINGLE_REQUESTS * scale))
    warm = max(10, count // 20)
    payloads = make_payloads(seed=SEED, events_per_body=1, templates=min(256, count))
    with tempfile.TemporaryDirectory(prefix="loopline-bench-") as tmp, _progress() as progress:
        root = Path(tmp)
        bare = _started(progress, BenchServer("bare", root / "bare"))
        with bare:
            head = request_head("/v1/track", HOST, bare.port, "llw_bench")
            _warm(bare, head, payloads.body, 0, warm)
            limit_rates, _ = _saturate(
                bare, head, payloads.body, first=warm, count=count, progress=progress, label="limit")
            bare.stop(_stop_timeout(0))
        server = _started(progress, BenchServer("loopline", root / "server"))
        workspace_id = str(server.info["workspace_id"])
        with server:
            head = request_head("/v1/track", HOST, server.port, str(server.info["write_key"]))
            sent = _warm(server, head, payloads.body, 0, warm)
            rates, folded = _saturate(
                server, head, payloads.body, first=warm, count=count, progress=progress, label="loopline")
            sent.add(folded)
            saturated, limit = max(rates.values()), max(limit_rates.values())
            rate = saturated * PACED_FRACTION
            tick = _Ticker(progress, f"paced at {rate:,.0f} requests/s", count)
            paced: LoadResult = run_async(open_loop(
                host=HOST, port=server.port, head=head, bodies=payloads.body, first=warm + count, count=count,
                rate=rate, connections=PACED_CONNECTIONS, progress=tick,
            ))
            tick.finish()
            sent.add(paced)
            with _step(progress, "stop the server (commit and project what is queued)"):
                server.stop(_stop_timeout(sent.acked))
        with _step(progress, "count the stored events"):
            stored = _stored(server.data_dir, workspace_id)
    return {
        "bench": "ingest-single",
        "requests_per_s": round(saturated),
        "p50_ms": percentile_ms(paced.latencies, 0.50),
        "p99_ms": percentile_ms(paced.latencies, 0.99),
        "vs_limit": round(saturated / limit, 3),
        "acked": sent.acked,
        "stored": stored,
        "requests": sent.requests,
        "errors": sent.errors,
        "failed": sent.failed,
        "limit_requests_per_s": round(limit),
        "paced_requests_per_s": round(len(paced.latencies) / paced.seconds),
        "by_connections": rates,
        "limit_by_connections": limit_rates,
    }
