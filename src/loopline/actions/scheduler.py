"""The scheduler: a background thread that ticks the campaign runner and the journey engine."""

from __future__ import annotations

import threading

import structlog

from loopline.actions.campaign_runs import CampaignRunner, TickReport
from loopline.actions.journeys import JourneyEngine

log = structlog.get_logger(__name__)


class Scheduler:
    """Every ``scheduler_interval_s``: campaigns, then journey triggers and timed waits, until stopped."""

    def __init__(self, runner: CampaignRunner, journeys: JourneyEngine) -> None:
        self.runner = runner
        self.journeys = journeys
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loopline-scheduler", daemon=True)
        self.last_report: TickReport | None = None
        self.last_error: BaseException | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the tick under way; its batch is settled or re-run on the next start."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def tick_journeys(self) -> None:
        """Act on new events (entries, goals, waits for events), then wake the waits whose time came."""
        while self.journeys.process_events().events:
            pass
        self.journeys.wake_due(now=self.runner.services.clock.now())

    def _run(self) -> None:
        interval = self.runner.services.settings.scheduler_interval_s
        while not self._stopping.wait(interval):
            try:
                self.last_report = self.runner.tick()
                self.tick_journeys()
                self.last_error = None
            except Exception as error:  # the platform keeps running; /health reports it
                self.last_error = error
                log.exception("scheduler_tick_failed")
