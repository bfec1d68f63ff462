"""``loopline bench triggers``: how long an event takes from receipt to its journey's message.

The platform runs as in production (embedded stores, group-commit writer, projector,
journey engine after each projection step, scheduler), with default settings, in this
process. A thousand customers exist; a journey sends an email on every ``Checkout
Started``. Events arrive at 1,000 per second for 30 seconds (``--scale`` shortens it), one
in ten a trigger, in batches of 100 every 100 ms, through the same validation as the
HTTP API. Each trigger carries its number; the latency of a trigger is the time from its
receipt (just before validation) to the sandbox channel recording its message.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from loopline.actions.contact_policy import do_set_policy
from loopline.actions.ingest import IngestOutcome
from loopline.actions.journeys import do_create_journey, do_set_journey_status
from loopline.actions.workspaces import do_create_workspace
from loopline.bootstrap import build_runtime
from loopline.config import Settings

RATE = 1_000
SHARE = 10  # one event in ten triggers
CUSTOMERS = 1_000
TICK_S = 0.1


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_triggers(*, scale: float = 1.0) -> dict[str, Any]:
    """Run the load, wait for the messages, report receipt-to-hand-off latency."""
    seconds = max(2.0, 30 * scale)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="loopline-bench-triggers-") as directory:
        runtime = build_runtime(Settings(data_dir=Path(directory)))
        runtime.start()
        try:
            services = runtime.services
            workspace = do_create_workspace(services, name="Trigger bench").id
            runtime.pipeline.commit_sync(runtime.pipeline.prepare(workspace_id=workspace, payload={"batch": [
                {"type": "identify", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com"}}
                for n in range(CUSTOMERS)]}, kind=None, received_at=datetime.now(UTC))[0], IngestOutcome())
            runtime.projector.catch_up()
            do_set_policy(services, workspace_id=workspace, data={"opt_in_channels": []})
            journey = do_create_journey(services, workspace_id=workspace, data={"name": "Checkout", "definition": {
                "trigger": {"type": "event", "event": "Checkout Started"}, "entry": {"rule": "every_time"},
                "priority": "transactional",
                "steps": [{"id": "mail", "type": "send", "channels": ["email"],
                           "content": {"email": {"subject": "Your checkout", "body": "{{ event.n }}"}}}]}})
            do_set_journey_status(services, workspace_id=workspace, journey_id=journey.id, status="active")
            received: dict[int, float] = {}
            per_tick = int(RATE * TICK_S)
            ticks = int(seconds / TICK_S)
            started = time.monotonic()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("sending events", total=ticks)
                for tick in range(ticks):
                    batch: list[dict[str, Any]] = []
                    numbers: list[int] = []
                    for i in range(per_tick):
                        n = tick * per_tick + i
                        user = f"u{n % CUSTOMERS}"
                        if n % SHARE == 0:
                            numbers.append(n)
                            batch.append({"type": "track", "userId": user, "event": "Checkout Started",
                                          "properties": {"n": n}})
                        else:
                            batch.append({"type": "track", "userId": user, "event": "Product Viewed",
                                          "properties": {"sku": f"sku-{n % 500}"}})
                    at = time.time()
                    records, _ = runtime.pipeline.prepare(workspace_id=workspace, payload={"batch": batch},
                                                          kind=None, received_at=datetime.now(UTC))
                    runtime.writer.submit(records)
                    received.update(dict.fromkeys(numbers, at))
                    progress.advance(task)
                    time.sleep(max(0.0, started + (tick + 1) * TICK_S - time.monotonic()))
            elapsed = time.monotonic() - started
            deadline = time.monotonic() + 60
            outbox: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                outbox = services.sandbox.list_outbox(workspace_id=workspace, limit=len(received) + 10)
                if len(outbox) >= len(received):
                    break
                time.sleep(0.2)
        finally:
            runtime.stop()
    latencies = [(row["delivered_at"].timestamp() - received[int(row["body"])]) * 1000 for row in outbox]
    return {
        "bench": "triggers", "events_per_s": round(ticks * per_tick / elapsed), "triggers": len(received),
        "delivered": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }
