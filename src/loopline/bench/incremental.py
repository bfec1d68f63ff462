"""``loopline bench segments-incremental``: keeping segments current as events stream in.

Over the ``segments`` bench's data (1M profiles, 10M events over 90 days), the five
reference segments are computed for everyone and stored as members. Then batches of new
events arrive one after another, each what one second brings at 50,000 events/s, stamped
one second apart. After each batch the work the mart sync and the segment maintainer do
for it is timed:

- **attribute**: the new events get their owners (``DuckdbMart.attribute_events``);
- **segments**: each segment is evaluated for the profiles changed since its last refresh
  (less the sync's overlap, as the maintainer does) and its members updated
  (``membership_change`` with ``changed_since``, then ``change_members``).

Copying the changed profiles into the mart is emulated by stamping their ``updated_at``:
projecting events into profiles is ingest's work, measured by the ``ingest`` bench. The
segments are evaluated at one instant throughout (the batches' events lie in the second
before it), so that after the last batch every segment evaluated for everyone must equal
the members kept incrementally, or the bench fails: people whom time alone moves (a window
sliding past their events) are the periodic full refresh's work, not the batches'.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import Progress

from loopline.actions.mart import OVERLAP
from loopline.actions.segments import membership_change
from loopline.bench.segments import DEFINITIONS, NOW, TIMEOUT_S, WORKSPACE, generated_mart
from loopline.domain.segments.definition import parse_segment
from loopline.store.mart.duckdb import DuckdbMart

FULL_BATCH = 50_000
BATCHES = 10


def _arrive(conn: Any, *, first_seq: int, size: int, profiles: int, at: str) -> None:
    """Append one batch of events in the second before ``at``, skewed to active customers as the data is."""
    conn.execute(f"""
        INSERT INTO events (seq, workspace_id, message_id, type, event, user_id, anonymous_id, "timestamp",
                            received_at, properties, traits, context, source, key_hash)
        SELECT {first_seq} + i, '{WORKSPACE}', 'n' || ({first_seq} + i),
               CASE WHEN r < 0.14 THEN 'screen' ELSE 'track' END,
               CASE WHEN r < 0.14 THEN 'Home' WHEN r < 0.44 THEN 'Application Opened'
                    WHEN r < 0.84 THEN 'Product Viewed' WHEN r < 0.96 THEN 'Product Added'
                    ELSE 'Order Completed' END,
               'u' || CAST(floor(power(random(), 1.6) * {profiles}) AS BIGINT), NULL, ts, ts,
               CASE WHEN r >= 0.96 THEN json_object('revenue', round(5 + random() * 120, 2)) ELSE '{{}}' END,
               '{{}}', '{{}}', 'api', CAST(hash({first_seq} + i) % 9223372036854775807 AS BIGINT)
        FROM (SELECT i, random() AS r,
                     TIMESTAMPTZ '{at}' - to_microseconds(CAST(random() * 1e6 AS BIGINT)) AS ts
              FROM range({size}) t(i))
    """)


def _touch(conn: Any, *, after_seq: int, at: str) -> int:
    """Stamp the profiles owning events past ``after_seq`` as copied at ``at``, as the sync would."""
    row = conn.execute(f"""
        UPDATE mart_profiles SET updated_at = TIMESTAMPTZ '{at}'
        WHERE workspace_id = '{WORKSPACE}' AND profile_id IN (
            SELECT profile_id FROM events WHERE seq > {after_seq} AND workspace_id = '{WORKSPACE}')
    """).fetchone()
    return int(row[0]) if row else 0


def _stored(mart: DuckdbMart, segment_id: str) -> set[str]:
    return {str(row[0]) for row in mart.fetch(
        f"SELECT profile_id FROM mart_segment_members WHERE workspace_id = '{WORKSPACE}'"
        f" AND segment_id = '{segment_id}'", timeout_s=TIMEOUT_S)}


def run_segments_incremental(*, scale: float = 1.0) -> dict[str, Any]:
    """Generate the data, keep the five segments current over batches of new events, report the times."""
    console = Console(stderr=True)
    definitions = {name: parse_segment(spec) for name, spec in DEFINITIONS.items()}
    batch = max(500, int(FULL_BATCH * scale))
    attribute_ms: list[float] = []
    segments_ms: list[float] = []
    changes = {"profiles_changed": 0, "entered": 0, "exited": 0}
    with generated_mart(scale, console) as (mart, conn, sizes):
        with console.status("computing the segments for everyone"):
            for name, definition in definitions.items():
                change = membership_change(mart, definition, workspace_id=WORKSPACE, segment_id=name, now=NOW,
                                           changed_since=None, timeout_s=TIMEOUT_S)
                mart.change_members(workspace_id=WORKSPACE, segment_id=name, entered=change.entered, exited=[])
        last_seq = int(conn.execute("SELECT max(seq) FROM events").fetchone()[0])
        refreshed = NOW
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("batches", total=BATCHES)
            for number in range(1, BATCHES + 1):
                copied = NOW + timedelta(seconds=number)  # when the sync copied this batch's profiles
                stamp = copied.strftime("%Y-%m-%d %H:%M:%S+00")
                _arrive(conn, first_seq=last_seq + 1, size=batch, profiles=sizes["profiles"],
                        at=NOW.strftime("%Y-%m-%d %H:%M:%S+00"))
                started = time.perf_counter()
                mart.attribute_events()
                attribute_ms.append((time.perf_counter() - started) * 1000)
                changes["profiles_changed"] += _touch(conn, after_seq=last_seq, at=stamp)
                last_seq += batch
                started = time.perf_counter()
                for name, definition in definitions.items():
                    change = membership_change(mart, definition, workspace_id=WORKSPACE, segment_id=name, now=NOW,
                                               changed_since=refreshed - OVERLAP, timeout_s=TIMEOUT_S)
                    mart.change_members(workspace_id=WORKSPACE, segment_id=name, entered=change.entered,
                                        exited=change.exited)
                    changes["entered"] += len(change.entered)
                    changes["exited"] += len(change.exited)
                segments_ms.append((time.perf_counter() - started) * 1000)
                refreshed = copied
                progress.advance(task)
        with console.status("checking the kept members against a full evaluation"):
            for name, definition in definitions.items():
                full = membership_change(mart, definition, workspace_id=WORKSPACE, segment_id=name, now=NOW,
                                         changed_since=None, timeout_s=TIMEOUT_S)
                if full.entered or full.exited:
                    raise AssertionError(f"{name}: {len(full.entered)} missing, {len(full.exited)} stale after "
                                         f"incremental refreshes (of {len(_stored(mart, name))} kept)")
    totals = [a + s for a, s in zip(attribute_ms, segments_ms, strict=True)]
    return {
        "bench": "segments-incremental",
        "ms_per_batch": round(statistics.median(totals), 1),
        "max_ms_per_batch": round(max(totals), 1),
        "attribute_ms": round(statistics.median(attribute_ms), 1),
        "segments_ms": round(statistics.median(segments_ms), 1),
        "batch_events": batch,
        "batches": BATCHES,
        "segments": len(definitions),
        **sizes,
        **changes,
    }
