"""The scheduler: a background thread that ticks the campaign runner."""

from __future__ import annotations

import threading

import structlog

from loopline.actions.campaign_runs import CampaignRunner, TickReport

log = structlog.get_logger(__name__)


class Scheduler:
    """Runs ``CampaignRunner.tick`` every ``scheduler_interval_s`` until stopped."""

    def __init__(self, runner: CampaignRunner) -> None:
        self.runner = runner
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

    def _run(self) -> None:
        interval = self.runner.services.settings.scheduler_interval_s
        while not self._stopping.wait(interval):
            try:
                self.last_report = self.runner.tick()
                self.last_error = None
            except Exception as error:  # the platform keeps running; /health reports it
                self.last_error = error
                log.exception("scheduler_tick_failed")
