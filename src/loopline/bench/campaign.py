"""``loopline bench campaign``: a 1M-customer campaign through the whole decision path into the sandbox.

The data is generated from a seed straight into the embedded stores (the operational
SQLite file and the DuckDB mart): customers with an email address, a first name and a time
zone (Berlin, New York or Tokyo), 90 % of them opted in to email, 15 % with two marketing
messages in the last three days, and a segment holding everyone. The campaign holds out
10 %, the policy caps marketing at two messages a week and keeps quiet hours on email from
21:00 to 08:00 local time, and the subject and body are personalised.

The run is measured in a fresh process (so ``peak_rss_mb`` is the run's, not the
generator's): the scheduler ticks until the audience is done, each batch claimed, rendered,
recorded and handed to the sandbox channel. ``messages_per_s`` counts every ledger row
decided per second (sent, deferred by quiet hours, or skipped with a reason). The limit is
writing the same ledger rows raw, in batches of the same size, into an empty copy of the
table: what any design must at least do.
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loopline.actions.campaign_runs import AUDIENCE_PAGE_BATCHES, CampaignRunner
from loopline.actions.campaigns import do_create_campaign, do_schedule_campaign
from loopline.actions.contact_policy import do_set_policy
from loopline.bootstrap import freeze_start_up_objects, open_services, wal_checkpoints
from loopline.config import Settings
from loopline.domain.send_ledger import send_key
from loopline.services import Services
from loopline.store.sql.segments import SegmentRow
from loopline.store.sql.tables import consents, identities, profiles, sends

FULL_AUDIENCE = 1_000_000
WORKSPACE = "ws_bench"
SEGMENT = "seg_bench_everyone"
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
CHUNK = 20_000


class _FixedClock:
    def now(self) -> datetime:
        return NOW


def _settings(directory: Path) -> Settings:
    return Settings(data_dir=directory, scheduler_interval_s=3_600, segment_refresh_interval_s=3_600)


def _generate(services: Services, count: int, progress: Progress) -> None:
    """Write customers, consents, earlier sends and the segment's members straight into the stores."""
    rng = random.Random(2026)  # noqa: S311 - reproducible test data, not secrets
    services.workspaces.create_workspace(workspace_id=WORKSPACE, name="Bench shop", now=NOW)
    task = progress.add_task("generating customers", total=count)
    earlier = NOW - timedelta(days=2)
    with services.engine.begin() as conn:
        for start in range(0, count, CHUNK):
            ids = [f"p_{n:08d}" for n in range(start, min(count, start + CHUNK))]
            conn.execute(profiles.insert(), [
                {"id": pid, "workspace_id": WORKSPACE, "traits": {"firstName": f"Kim{pid[-4:]}", "plan": "pro",
                                                                   "timezone": ZONES[int(pid[-1]) % 3]},
                 "trait_times": {}, "computed": {}, "merged_into": None, "created_at": NOW, "updated_at": NOW}
                for pid in ids])
            conn.execute(identities.insert(), [
                {"workspace_id": WORKSPACE, "kind": "email", "value": f"{pid}@example.com", "profile_id": pid,
                 "created_at": NOW} for pid in ids])
            conn.execute(consents.insert(), [
                {"workspace_id": WORKSPACE, "profile_id": pid, "channel": "email", "topic": "all",
                 "status": "opted_in", "source": "bench", "updated_at": NOW} for pid in ids if rng.random() < 0.9])
            busy = [pid for pid in ids if rng.random() < 0.15]
            conn.execute(sends.insert(), [
                {"send_key": send_key(workspace_id=WORKSPACE, source=f"cmp_earlier_{n}", profile_id=pid,
                                      channel="*", occurrence=""),
                 "workspace_id": WORKSPACE, "source_kind": "campaign", "source_id": f"cmp_earlier_{n}", "step": "",
                 "occurrence": "", "profile_id": pid, "channel": "email", "address": None, "variant": None,
                 "priority": "marketing", "topic": "all", "offer": None, "state": "sent", "reason": "",
                 "detail": "", "not_before": None, "expires_at": None, "payload": None, "attempts": 1,
                 "created_at": earlier + timedelta(hours=n), "updated_at": earlier, "sent_at": earlier}
                for pid in busy for n in range(2)])
            services.mart.change_members(workspace_id=WORKSPACE, segment_id=SEGMENT, entered=ids, exited=[])
            progress.advance(task, len(ids))
    services.segments.create(SegmentRow(
        id=SEGMENT, workspace_id=WORKSPACE, name="Everyone", description="", definition={
            "name": "Everyone", "condition": {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"}},
        version=1, builtin=None, member_count=count, refreshed_at=NOW, refreshed_version=1, created_at=NOW,
        updated_at=NOW))
    do_set_policy(services, workspace_id=WORKSPACE, data={
        "caps": [{"limit": 2, "window_hours": 24 * 7}],
        "quiet_hours": {"start": "21:00", "end": "08:00", "channels": ["email"]}})


def _measure(directory: str, count: int) -> dict[str, Any]:
    """Run the campaign to the end of its audience in this (fresh) process; return times and counts."""
    services = open_services(_settings(Path(directory)))
    services.clock = _FixedClock()
    checkpoints = wal_checkpoints(services)  # as a server process runs them once it has started
    if checkpoints is not None:
        checkpoints.start()
    freeze_start_up_objects()
    campaign = do_create_campaign(services, workspace_id=WORKSPACE, data={"name": "Summer sale", "definition": {
        "audience": {"segments": [SEGMENT]}, "channels": ["email"], "holdout_percent": 10,
        "variants": [{"name": "A", "split": 100, "content": {"email": {
            "subject": "{{ traits.firstName }}, 20% off this week",
            "body": "<p>Hello {{ traits.firstName | default('there') }},</p><p>your code: SUMMER-{{ profile.id[-4:] }}"
                    "</p><p>Orders so far: {{ computed.orders | default(0) }}</p>"}}}]}})
    do_schedule_campaign(services, workspace_id=WORKSPACE, campaign_id=campaign.id)
    runner = CampaignRunner(services, owner="bench")
    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("campaign", total=count)
        while True:
            # A tick per page of the audience, as a scheduler's tick would read it (it works a
            # whole run per tick); the bar moves once a page.
            report = runner.tick(now=NOW, max_batches=AUDIENCE_PAGE_BATCHES)
            progress.advance(task, report.claimed)
            row = services.campaigns.get(workspace_id=WORKSPACE, campaign_id=campaign.id)
            if row is None or row.audience_done:
                break
    elapsed = time.perf_counter() - started
    if checkpoints is not None:
        checkpoints.stop()
    tally = services.send_ledger.tally(workspace_id=WORKSPACE, source_id=campaign.id)
    services.close()
    return {"seconds": elapsed, "tally": tally, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """Return this process's peak resident memory in MB.

    Linux's ``ru_maxrss`` carries the parent's peak across fork and exec (the spawned child
    starts as a copy of the generator, which holds a million customers' rows); the process's
    own high-water mark, ``VmHWM``, is this program's alone. Elsewhere ``ru_maxrss`` is the
    best there is.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def _raw_write(directory: Path, batch: int) -> float:
    """Time writing the run's ledger rows again, raw, into an empty copy of the table."""
    engine = sa.create_engine(f"sqlite:///{directory / 'loopline.sqlite3'}")
    raw = sends.to_metadata(sa.MetaData(), name="sends_raw")
    for index in list(raw.indexes):
        raw.indexes.discard(index)  # the same table, indexes aside: their names belong to ``sends``
    with engine.begin() as conn:
        rows = [dict(row._mapping) for row in conn.execute(sends.select().where(sends.c.source_id.like("cmp_0%")))]
        raw.create(conn)
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(raw.insert(), rows[start : start + batch])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run_campaign(*, scale: float = 1.0) -> dict[str, Any]:
    """Generate the audience, run the campaign in a fresh process, time the raw writes; report."""
    count = max(1_000, int(FULL_AUDIENCE * scale))
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="loopline-bench-campaign-") as directory:
        services = open_services(_settings(Path(directory)))
        with Progress(console=console, transient=True) as progress:
            _generate(services, count, progress)
        batch = services.settings.campaign_batch_size
        services.close()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            measured: dict[str, Any] = pool.apply(_measure, (directory, count))
        raw_seconds = _raw_write(Path(directory), batch)
    tally: dict[str, dict[str, int]] = measured["tally"]
    decided = sum(sum(reasons.values()) for reasons in tally.values())
    skipped = tally.get("skipped", {})
    return {
        "bench": "campaign", "audience": count,
        "messages_per_s": round(decided / measured["seconds"]),
        "seconds": round(measured["seconds"], 2),
        "peak_rss_mb": round(measured["peak_rss_mb"]),
        "vs_limit": round(raw_seconds / measured["seconds"], 3),
        "sent": sum(tally.get("sent", {}).values()),
        "deferred": sum(tally.get("queued", {}).values()),
        "skipped": sum(skipped.values()),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "failed": sum(tally.get("failed", {}).values()),
    }
