"""The scheduler: a background thread that ticks the campaign runner and the journey engine."""

from __future__ import annotations

from loopline.actions.campaign_runs import CampaignRunner, TickReport
from loopline.actions.journeys import JourneyEngine
from loopline.actions.periodic import Periodic


class Scheduler(Periodic):
    """Every ``scheduler_interval_s``: campaigns, then journey triggers and timed waits, until stopped."""

    def __init__(self, runner: CampaignRunner, journeys: JourneyEngine) -> None:
        super().__init__(name="scheduler", interval=runner.services.settings.scheduler_interval_s, step=self._pass)
        self.runner, self.journeys = runner, journeys
        self.last_report: TickReport | None = None

    def _pass(self) -> None:
        self.last_report = self.runner.tick()
        self.tick_journeys()

    def tick_journeys(self) -> None:
        """Act on new events (entries, goals, waits for events), then wake the waits whose time came."""
        self.journeys.catch_up()
        self.journeys.wake_due(now=self.runner.services.clock.now())
