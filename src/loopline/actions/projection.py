"""Project the event log into profiles: identities, traits, devices, computed properties.

The event log is the source of truth. The projector reads it in sequence order from a
cursor that is saved in the same transaction as the profile changes, so every event is
applied exactly once even across crashes, and profiles can always be rebuilt.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ulid import ULID

from loopline.domain.devices import DeviceSeen, device_seen, newest_per_device
from loopline.domain.events import EventRecord
from loopline.domain.identity import IdentityGraph, record_identifiers, resolve
from loopline.domain.profiles import apply_event, set_traits
from loopline.services import Services
from loopline.store.sql.profiles import ProjectionBatch

CURSOR = "profiles"
BATCH = 5_000


def _new_id() -> str:
    return "p_" + str(ULID()).lower()


def project_workspace(
    graph: IdentityGraph, records: list[EventRecord], *, session_timeout: timedelta
) -> list[DeviceSeen]:
    """Apply one workspace's records to its identity graph; return the devices seen."""
    seen: list[DeviceSeen] = []
    for record in records:
        profile_id = resolve(graph, record, _new_id)
        profile = graph.profiles[profile_id]
        if record.type == "identify" and record.traits:
            set_traits(profile, record.traits, record.timestamp)
        apply_event(profile.computed, record, session_timeout=session_timeout)
        device = device_seen(record, profile_id)
        if device is not None:
            seen.append(device)
    return seen


@dataclass(frozen=True, slots=True)
class ProjectedSlice:
    """The events one projection step applied: every record after ``after`` up to the step's limit."""

    after: int
    records: list[EventRecord]


def do_project_once(services: Services, *, limit: int = BATCH) -> int:
    """Apply the next slice of the event log to profiles; return how many events it read."""
    return len(do_project_next(services, limit=limit).records)


def do_project_next(services: Services, *, limit: int = BATCH) -> ProjectedSlice:
    """Apply the next slice of the event log to profiles; return the slice (what follows may act on it)."""
    cursor = services.profiles.get_cursor(name=CURSOR)
    records = services.events.read_after(cursor, limit=limit)
    if not records:
        return ProjectedSlice(cursor, [])
    by_workspace: dict[str, list[EventRecord]] = defaultdict(list)
    for record in records:
        by_workspace[record.workspace_id].append(record)
    graphs: list[IdentityGraph] = []
    devices: list[tuple[str, DeviceSeen]] = []
    for workspace_id, items in by_workspace.items():
        wanted = {ident for record in items for ident in record_identifiers(record)}
        wanted.update(("user_id", r.previous_id) for r in items if r.previous_id)
        wanted.update(("anonymous_id", r.previous_id) for r in items if r.previous_id)
        graph = services.profiles.load_graph(workspace_id=workspace_id, identifiers=wanted)
        seen = project_workspace(graph, items, session_timeout=services.session_timeout)
        devices.extend((workspace_id, d) for d in newest_per_device(seen))
        graphs.append(graph)
    merge_ids = ["m_" + str(ULID()).lower() for g in graphs for _ in g.merges]
    last = records[-1].seq or cursor
    services.profiles.save_projection(
        ProjectionBatch(graphs, devices, merge_ids, CURSOR, last), now=services.clock.now()
    )
    return ProjectedSlice(cursor, records)


class Projector:
    """Runs the projection in a background thread, woken after each commit.

    Acknowledging ingest has priority over updating profiles: under load the projector
    waits a moment after a wake so each step covers many events (a step's fixed cost is
    large) — from nothing at half of saturation up to ``projection_interval_ms`` at
    saturation, so light traffic is projected (and acted on by journeys) at once —
    and while ingest is saturated (see ``GroupCommitWriter.pressure``) it spends at
    most ``cpu_share`` of its time projecting, so a burst delays profiles by seconds
    instead of slowing every ack. Below saturation, and once a burst ends, it projects at
    full speed.
    """

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self._services = services
        self._interval = settings.projection_interval_ms / 1000
        self._batch = settings.projection_batch_events
        self._share = settings.projection_cpu_share
        self._wake = threading.Event()
        self._pressure: Callable[[], float] = lambda: 0.0
        self._stopping = threading.Event()
        self._idle = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="loopline-projector", daemon=True)
        self._after_step: Callable[[ProjectedSlice], object] = lambda _: None
        self.last_error: Exception | None = None

    def after_each_step(self, follow: Callable[[ProjectedSlice], object]) -> None:
        """Run ``follow`` with the slice after every step that projected events (journey triggers act on it
        at once, without reading the events again)."""
        self._after_step = follow

    def watch_pressure(self, pressure: Callable[[], float]) -> None:
        """Follow how saturated ingest is (0 idle, 1.0 or more saturated)."""
        self._pressure = pressure

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current step."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def notify(self, *_: object) -> None:
        """Wake the projector: new events were committed."""
        self._wake.set()

    def catch_up(self) -> None:
        """Project every committed event now, without pausing between steps."""
        with self._idle:
            while do_project_once(self._services, limit=self._batch):
                pass

    def _step(self) -> bool:
        with self._idle:
            started = time.monotonic()
            projected = do_project_next(self._services, limit=self._batch)
            moved = len(projected.records)
            if moved:
                self._after_step(projected)
            spent = time.monotonic() - started
        if moved and self._pressure() >= 1.0:
            self._stopping.wait(spent * (1 / self._share - 1))
        return bool(moved)

    def gathering_s(self) -> float:
        """Return how long to let committed events gather before the next step.

        Gathering pays off under load (a step's fixed cost is large); with light traffic it
        only delays profiles and journey triggers. So no wait below half of ingest's
        saturation, rising to the full interval at saturation.
        """
        return float(self._interval * min(1.0, max(0.0, 2 * self._pressure() - 1)))

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self._stopping.wait(self.gathering_s())
            try:
                while self._step() and not self._stopping.is_set():
                    pass
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - keep projecting; surfaced in /health
                self.last_error = error
                self._stopping.wait(1.0)
