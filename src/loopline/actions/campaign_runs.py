"""Running campaigns: start what is due, claim the audience batch by batch, hand over, finish.

One tick of the scheduler looks at due campaigns. A scheduler holds a campaign through a
lease (renewed with every batch), so two schedulers never work the same campaign at once;
and every recipient is claimed under a unique send key, so even a lost lease cannot send
twice (F7). A batch is: the next page of the audience after the cursor (members in profile
id order), one claim transaction (control group, channel, consent, suppression, caps,
quiet hours, rendering), the hand-over of what is due now, and only then the cursor moves.
A crash anywhere in between re-runs the batch: its keys are found claimed, its queued sends
are handed over, nothing is sent twice and nobody is skipped (F6).
"""

from __future__ import annotations

import os
import socket
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ulid import ULID

from loopline.actions.campaigns import definition_of
from loopline.actions.claims import LedgerSource, decide_and_record
from loopline.actions.contact_policy import get_policy, rules_for
from loopline.actions.delivery import do_deliver_due, do_hand_over_taken, do_reconcile
from loopline.actions.ingest import IngestPipeline
from loopline.actions.messages import (
    CompiledContent,
    compile_contents,
    context_for,
    customer_links,
    last_viewed,
    render_content,
    render_limits,
    uses,
    uses_recommendations,
)
from loopline.actions.segments import do_refresh_segment
from loopline.actions.send_times import workspace_prior
from loopline.domain.campaign_sends import Run, first_format_keys_of, keys_of, plan
from loopline.domain.campaigns import (
    CampaignDefinition,
    Status,
    missed,
    next_occurrence,
    occurrence_name,
)
from loopline.domain.contact_rules import PolicyDocument
from loopline.domain.send_ledger import KEY_FORMAT
from loopline.domain.templates import RenderLimits
from loopline.query.lookups import audience_sql
from loopline.services import Services
from loopline.store.sql.campaigns import CampaignRow
from loopline.store.sql.contacts import Recipient
from loopline.store.sql.send_ledger import Due

AUDIENCE_PAGE_BATCHES = 50
DELIVERY_ROUNDS = 50  # due sends handed over per tick: at most this many batches, then campaigns get their turn


@dataclass(slots=True)
class TickReport:
    """What one scheduler tick did."""

    started: list[str] = field(default_factory=list)
    claimed: int = 0
    sent: int = 0
    completed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


class CampaignRunner:
    """Runs due campaigns; several runners (threads or processes) may tick at once."""

    def __init__(self, services: Services, *, owner: str | None = None, pipeline: IngestPipeline | None = None,
                 ) -> None:
        self.services = services
        self.pipeline = pipeline
        self._pages: dict[str, tuple[list[str], bool]] = {}  # campaign → (audience page, reaches the end)
        self._priors: dict[str, tuple[float, ...]] = {}  # best-time campaign → its workspace's pattern, per tick
        self._compiled: dict[str, dict[tuple[int, str], CompiledContent]] = {}  # campaign → templates, per tick
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{str(ULID())[-8:]}"

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.services.settings.campaign_lease_s)

    def tick(self, *, now: datetime | None = None, max_batches: int | None = None) -> TickReport:
        """Settle lost answers, hand over due deferred sends, then start due campaigns and work running ones."""
        now = now or self.services.clock.now()
        report = TickReport()
        # Settle lost answers and hand over deferred sends first, so a run whose last sends
        # go out now is found settled and completed in the same tick.
        do_reconcile(self.services, now=now)
        for _ in range(DELIVERY_ROUNDS):  # deferred sends coming due at once (08:00 after quiet hours) go in rounds
            delivered = do_deliver_due(self.services, now=now, limit=self.services.settings.campaign_batch_size)
            report.sent += delivered.sent
            if delivered.taken < self.services.settings.campaign_batch_size:
                break
        for row in self.services.campaigns.due(now=now):
            if not self.services.campaigns.take_lease(campaign_id=row.id, owner=self.owner, until=now + self._lease,
                                                      now=now):
                continue  # another scheduler works it
            try:
                self._work(row, now=now, report=report, max_batches=max_batches)
            finally:
                self.services.campaigns.release_lease(campaign_id=row.id, owner=self.owner)
        return report

    def _work(self, row: CampaignRow, *, now: datetime, report: TickReport, max_batches: int | None) -> None:
        definition = definition_of(row)
        self._pages.pop(row.id, None)  # an audience page lives for one tick at most
        self._priors.pop(row.id, None)
        self._compiled.pop(row.id, None)  # the definition may have changed since the last tick
        if row.status == Status.SCHEDULED:
            started = self._start(row, definition, now=now, report=report)
            if started is None:
                return
            row = started
        batches = 0
        while row.status == Status.RUNNING and not row.audience_done:
            if max_batches is not None and batches >= max_batches:
                return
            advanced = self._batch(row, definition, now=now, report=report,
                                   batches_left=None if max_batches is None else max_batches - batches)
            if advanced is None:
                return  # paused, cancelled or taken over meanwhile
            row, batches = advanced, batches + 1
        self._finish_if_settled(row, definition, now=now, report=report)

    def _start(self, row: CampaignRow, definition: CampaignDefinition, *, now: datetime,
               report: TickReport) -> CampaignRow | None:
        services, schedule = self.services, definition.schedule
        due = row.next_run_at or now
        lateness = timedelta(minutes=services.settings.campaign_max_lateness_minutes)
        if schedule.ends_at is not None and due > schedule.ends_at:
            services.campaigns.change(workspace_id=row.workspace_id, campaign_id=row.id, expect=(Status.SCHEDULED,),
                                      now=now, status=Status.COMPLETED, completed_at=now,
                                      status_reason="the recurring schedule ended")
            report.completed.append(row.id)
            return None
        if missed(due, now=now, lateness=lateness):
            note = (f"missed_schedule: due at {due.isoformat()}, {_late(now - due)} late (more than the "
                    f"{_late(lateness)} allowed)")
            if schedule.kind == "recurring":
                services.campaigns.change(workspace_id=row.workspace_id, campaign_id=row.id,
                                          expect=(Status.SCHEDULED,), now=now,
                                          next_run_at=next_occurrence(schedule, after=now),
                                          status_reason=note + "; that run was skipped")
            else:
                services.campaigns.change(workspace_id=row.workspace_id, campaign_id=row.id,
                                          expect=(Status.SCHEDULED,), now=now, status=Status.PAUSED,
                                          status_reason=note + "; resume to send now, or cancel")
            report.held.append(row.id)
            return None
        self._refresh_unrefreshed(row, definition)
        started = services.campaigns.change(
            workspace_id=row.workspace_id, campaign_id=row.id, expect=(Status.SCHEDULED,), now=now,
            status=Status.RUNNING, occurrence=occurrence_name(schedule, due), run_started_at=now, cursor="",
            audience_done=False, claimed=0, status_reason="", key_format=KEY_FORMAT,
        )
        if started is not None:
            report.started.append(row.id)
        return started

    def _refresh_unrefreshed(self, row: CampaignRow, definition: CampaignDefinition) -> None:
        """Evaluate audience segments that were never refreshed, so a new segment's campaign is not empty."""
        if self.pipeline is None:
            return
        wanted = set(definition.audience.segments + definition.audience.exclude)
        for segment in self.services.segments.in_workspace(workspace_id=row.workspace_id):
            if segment.id in wanted and segment.refreshed_at is None:
                do_refresh_segment(self.services, self.pipeline, workspace_id=row.workspace_id,
                                   segment_id=segment.id)

    def _batch(self, row: CampaignRow, definition: CampaignDefinition, *, now: datetime,
               report: TickReport, batches_left: int | None) -> CampaignRow | None:
        services = self.services
        size = services.settings.campaign_batch_size
        ids = self._audience(row, definition, size, batches_left=batches_left)
        if ids:
            claimed, taken = self._claim(row, definition, ids, now=now)
            report.claimed += claimed
            # Hand over what is due now before the cursor moves past these customers.
            report.sent += do_hand_over_taken(services, taken, now=now)
        moved = services.campaigns.advance(
            campaign_id=row.id, owner=self.owner, cursor=ids[-1] if ids else row.cursor, claimed=len(ids),
            audience_done=len(ids) < size, until=now + self._lease, now=now,
        )
        if not moved:
            return None
        return services.campaigns.get(workspace_id=row.workspace_id, campaign_id=row.id)

    def _audience(self, row: CampaignRow, definition: CampaignDefinition, size: int, *,
                  batches_left: int | None) -> list[str]:
        """Return the next batch of the audience after the cursor.

        Members are read a page of many batches at a time: every read scans the segment's
        members (the engine has no range index on them), so reading per batch would make a
        run's cost grow with the square of its audience. A tick held to fewer batches reads
        no more than it will claim (a page lives for one tick).
        """
        page, complete = self._pages.get(row.id, ([], False))
        start = bisect_right(page, row.cursor)
        if len(page) - start < size and not complete:
            limit = size * min(AUDIENCE_PAGE_BATCHES, batches_left or AUDIENCE_PAGE_BATCHES)
            sql = audience_sql(self.services.mart.dialect, workspace_id=row.workspace_id,
                               segment_ids=definition.audience.segments, exclude=definition.audience.exclude,
                               after=row.cursor, limit=limit)
            fetched = [str(found[0]) for found in self.services.mart.fetch(
                sql, timeout_s=self.services.settings.segment_refresh_timeout_s)]
            page, complete, start = fetched, len(fetched) < limit, 0
            self._pages[row.id] = (page, complete)
        return page[start : start + size]

    def _claim(self, row: CampaignRow, definition: CampaignDefinition, ids: list[str], *,
               now: datetime) -> tuple[int, list[Due]]:
        services = self.services
        policy: PolicyDocument = get_policy(services, workspace_id=row.workspace_id)
        rules, limits = rules_for(services, workspace_id=row.workspace_id, policy=policy), render_limits(services)
        compiled = self._templates(row, definition)
        started = row.run_started_at or now
        prior = self._prior(row, now=now) if definition.schedule.best_time is not None else ()
        run = Run(row.workspace_id, row.id, definition, row.occurrence or "", started,
                  policy.global_control_percent, policy.default_time_zone, prior, rules.policy.quiet_hours)
        source = LedgerSource("campaign", row.id, row.occurrence or "")
        keys_by_profile = {pid: keys_of(run, profile_id=pid) for pid in ids}
        keys = [key for own in keys_by_profile.values() for key in own]
        # A run begun before the current key format may have claimed some of these under the first.
        earlier = {old: new for pid in ids for old, new in first_format_keys_of(run, profile_id=pid).items()} \
            if row.key_format is None else None
        viewed = last_viewed(services, workspace_id=row.workspace_id, profile_ids=ids) \
            if uses_recommendations(compiled) else {}
        with_links = uses(compiled, "links")  # a signature per customer, only when a template links to their pages
        recorded = 0
        facts = {"id": row.id, "name": row.name}  # one for the batch: templates cannot change what they read
        with services.send_ledger.claiming(workspace_id=row.workspace_id, profile_ids=ids, send_keys=keys,
                                           since=now - policy.lookback(), now=now, hand_over=True,
                                           earlier_keys=earlier, channels=definition.channels) as claim:
            for index, profile_id in enumerate(ids):
                recipient = claim.recipients.get(profile_id)
                if recipient is None:
                    continue  # merged away or erased since the segment was refreshed
                for planned in plan(run, profile_id=profile_id, time_zone=recipient.contact.time_zone,
                                    position=row.claimed + index, now=now,
                                    active_hours=recipient.computed.get("active_hours"),
                                    keys=keys_by_profile[profile_id]):
                    state = decide_and_record(
                        claim, source=source, intent=planned.intent, rules=rules, now=now,
                        variant=definition.variants[planned.variant].name,
                        render=_Renderer(services, row.workspace_id, compiled, planned.variant, recipient, facts,
                                         viewed.get(profile_id), with_links, limits),
                    )
                    recorded += state is not None
        return recorded, claim.taken

    def _templates(self, row: CampaignRow, definition: CampaignDefinition) -> dict[tuple[int, str], CompiledContent]:
        """Return the campaign's compiled templates, compiled once per tick (about 5 ms each time)."""
        if row.id not in self._compiled:
            self._compiled[row.id] = compile_contents(definition)[0]
        return self._compiled[row.id]

    def _prior(self, row: CampaignRow, *, now: datetime) -> tuple[float, ...]:
        """Return the workspace's attention pattern for a best-time campaign, read once per tick."""
        if row.id not in self._priors:
            self._priors[row.id] = workspace_prior(self.services, workspace_id=row.workspace_id, now=now)
        return self._priors[row.id]

    def _finish_if_settled(self, row: CampaignRow, definition: CampaignDefinition, *, now: datetime,
                           report: TickReport) -> None:
        """Complete a run whose audience is done and whose every send is settled (never before)."""
        if row.status != Status.RUNNING or not row.audience_done:
            return
        if self.services.send_ledger.count_pending(source_id=row.id, occurrence=row.occurrence or "") > 0:
            return  # deferred sends (local time, quiet hours, throttle) are still waiting
        schedule = definition.schedule
        if schedule.kind == "recurring":
            following = next_occurrence(schedule, after=max(now, row.run_started_at or now))
            ended = schedule.ends_at is not None and following > schedule.ends_at
            values: dict[str, Any] = (
                {"status": Status.COMPLETED, "completed_at": now} if ended
                else {"status": Status.SCHEDULED, "next_run_at": following, "occurrence": None}
            )
        else:
            values = {"status": Status.COMPLETED, "completed_at": now}
        done = self.services.campaigns.change(workspace_id=row.workspace_id, campaign_id=row.id,
                                              expect=(Status.RUNNING,), now=now, **values)
        if done is not None and done.status == Status.COMPLETED:
            report.completed.append(row.id)


@dataclass(slots=True)
class _Renderer:
    """Builds one customer's message for a channel; the template's context is made only if the message goes out."""

    services: Services
    workspace_id: str
    compiled: dict[tuple[int, str], CompiledContent]
    variant: int
    recipient: Recipient
    campaign: dict[str, Any]
    viewed: dict[str, Any] | None
    with_links: bool  # a signature per customer, only when a template links to their own pages
    limits: RenderLimits

    def __call__(self, channel: str) -> dict[str, Any]:
        recipient = self.recipient
        links = customer_links(self.services, workspace_id=self.workspace_id,
                               profile_id=recipient.contact.profile_id) if self.with_links else None
        context = context_for(recipient, campaign=self.campaign, viewed=self.viewed, links=links)
        return render_content(self.compiled[(self.variant, channel)], context, limits=self.limits)


def _late(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
