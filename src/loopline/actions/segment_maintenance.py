"""Keeping every segment current in the background, and the built-in segments in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from ulid import ULID

from loopline.actions.mart import do_sync_mart
from loopline.actions.periodic import Periodic
from loopline.actions.segments import RefreshReport, do_refresh_segment, refresh_due, refresh_order_of
from loopline.domain.segments.builtin import BUILTIN_SEGMENTS
from loopline.domain.segments.definition import parse_segment
from loopline.services import Services
from loopline.store.sql.segments import NameTaken, SegmentRow

if TYPE_CHECKING:
    from loopline.actions.ingest import IngestPipeline

log = structlog.get_logger(__name__)


def ensure_builtin_segments(services: Services, *, workspace_id: str) -> int:
    """Add the built-in segments a workspace lacks; return how many were added."""
    present = {row.builtin for row in services.segments.in_workspace(workspace_id=workspace_id) if row.builtin}
    added = 0
    for key, spec in BUILTIN_SEGMENTS.items():
        if key in present:
            continue
        definition = parse_segment(spec)
        now = services.clock.now()
        row = SegmentRow(
            id="seg_" + str(ULID()).lower(), workspace_id=workspace_id, name=definition.name,
            description=definition.description, definition=definition.model_dump(mode="json", exclude_none=True),
            version=1, builtin=key, member_count=None, refreshed_at=None, refreshed_version=None,
            created_at=now, updated_at=now,
        )
        try:
            services.segments.create(row)
        except NameTaken:
            log.warning("builtin_segment_name_taken", workspace_id=workspace_id, name=definition.name)
            continue
        added += 1
    return added


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one pass over every workspace did."""

    segments: int
    full: int
    entered: int
    exited: int
    failed: int


def do_maintain_segments(services: Services, pipeline: IngestPipeline) -> MaintenanceReport:
    """Refresh every segment of every workspace: in full when due, else for changed profiles only."""
    do_sync_mart(services)
    full_every = timedelta(minutes=services.settings.segment_full_refresh_minutes)
    done = full = entered = exited = failed = 0
    for workspace in services.workspaces.list_workspaces():
        ensure_builtin_segments(services, workspace_id=workspace.id)
        rows = services.segments.in_workspace(workspace_id=workspace.id)
        # Segments that others build on come first, so in_segment reads fresh members.
        for segment_id in refresh_order_of(services, workspace.id, [row.id for row in rows]):
            row = next(r for r in rows if r.id == segment_id)
            try:
                report: RefreshReport = do_refresh_segment(
                    services, pipeline, workspace_id=workspace.id, segment_id=row.id,
                    full=refresh_due(row, now=services.clock.now(), full_every=full_every), sync=False,
                    dependencies=False,
                )
            except Exception:  # one broken segment must not stop the others; it is logged
                log.exception("segment_refresh_failed", workspace_id=workspace.id, segment_id=row.id)
                failed += 1
                continue
            done += 1
            full += report.full
            entered += report.entered
            exited += report.exited
    return MaintenanceReport(done, full, entered, exited, failed)


class SegmentMaintainer(Periodic):
    """A background thread that runs ``do_maintain_segments`` every ``segment_refresh_interval_s``."""

    def __init__(self, services: Services, pipeline: IngestPipeline) -> None:
        super().__init__(name="segments", interval=services.settings.segment_refresh_interval_s, step=self._pass)
        self._services, self._pipeline = services, pipeline
        self.last_report: MaintenanceReport | None = None

    def _pass(self) -> None:
        self.last_report = do_maintain_segments(self._services, self._pipeline)
