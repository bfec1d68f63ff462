"""Walking journey enrolments in batches: advance each, then carry out the commands together.

A burst of triggers enters many customers at once, and every wait that ends on a tick
wakes many. Walking them one by one costs a handful of transactions each (read the
profile, claim, hand over, save); walking them together costs a handful per batch. One
claim over the batch's customers (per workspace) reads them — their data for the walks'
branches, their contacts, consents and send history — and, once every walk is done,
decides all the sends they asked for in that same transaction, as a campaign batch does;
the sends are handed over together, and every new position is saved in one transaction.
The decisions are those of one by one: the claim sees each send it records before
deciding the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopline.actions.claims import LedgerSource, decide_and_record
from loopline.actions.contact_policy import get_policy, rules_for
from loopline.actions.delivery import do_hand_over_taken
from loopline.actions.ingest import IngestPipeline
from loopline.actions.messages import (
    CompiledContent,
    context_for,
    customer_links,
    render_content,
    render_limits,
    uses,
)
from loopline.domain.engagement import SEND_KEY, actions_of, all_engagement_events
from loopline.domain.identity import filed_as as filed_identifier
from loopline.domain.journeys import (
    EventMatch,
    Facts,
    JourneyDefinition,
    Position,
    SendCommand,
    SendStep,
    TraitCommand,
    advance,
)
from loopline.domain.recipients import Intent, time_zone_of
from loopline.domain.send_ledger import first_format_key, send_key
from loopline.query.lookups import engaged_sql
from loopline.services import Services
from loopline.store.sql.journeys import EnrollmentRow, Walked

Happened = tuple[str, Mapping[str, Any]]
"""An event that just happened to a customer: its name and properties."""


@dataclass(frozen=True, slots=True)
class _Planned:
    """A send a walk asked for, decided once every walk of the batch is done."""

    enrollment: EnrollmentRow
    step: SendStep
    occurrence: str
    intent: Intent
    first_format_key: str | None  # for an enrolment begun before the current key format, its key in the first


class Walker:
    """Advances enrolments and carries out what they do, a batch at a time."""

    def __init__(self, services: Services, pipeline: IngestPipeline | None,
                 definition: Callable[[str, int], JourneyDefinition],
                 contents: Callable[[str, int, SendStep], dict[str, CompiledContent]]) -> None:
        self.services = services
        self.pipeline = pipeline
        self._definition = definition
        self._contents = contents

    def walk(self, enrollments: Sequence[EnrollmentRow], *, now: datetime,
             happened: Mapping[str, Happened] | None = None) -> dict[str, Position]:
        """Advance these enrolments (``happened``: an event per enrolment id that may end its wait).

        Returns where each now stands, by enrolment id.
        """
        positions: dict[str, Position] = {}
        by_workspace: dict[str, list[EnrollmentRow]] = defaultdict(list)
        for enrollment in enrollments:
            by_workspace[enrollment.workspace_id].append(enrollment)
        for workspace_id, mine in by_workspace.items():
            positions.update(self._walk_workspace(workspace_id, mine, now=now, happened=happened or {}))
        return positions

    def _walk_workspace(self, workspace_id: str, enrollments: list[EnrollmentRow], *, now: datetime,
                        happened: Mapping[str, Happened]) -> dict[str, Position]:
        """Advance one workspace's enrolments and decide their sends inside one claim over their customers."""
        services = self.services
        policy = get_policy(services, workspace_id=workspace_id)
        rules = rules_for(services, workspace_id=workspace_id, policy=policy)
        limits = render_limits(services)
        positions: dict[str, Position] = {}
        walked: dict[str, Walked] = {}
        traits: list[dict[str, Any]] = []
        planned: list[_Planned] = []
        with services.send_ledger.claiming(workspace_id=workspace_id, profile_ids=[e.profile_id for e in enrollments],
                                           send_keys=(), since=now - policy.lookback(), now=now,
                                           hand_over=True) as claim:
            for enrollment in enrollments:
                definition = self._definition(enrollment.journey_id, enrollment.version)
                facts = self._facts(enrollment, definition, claim.recipients)
                if facts is None:
                    positions[enrollment.id] = Position(None, visits=enrollment.visits, done="profile_gone")
                    continue
                waiting = EventMatch.model_validate(enrollment.waiting_for) if enrollment.waiting_for else None
                position = Position(enrollment.step_id, enrollment.wake_at, waiting, enrollment.visits)
                moved = advance(definition, position, facts, now=now, event=happened.get(enrollment.id),
                                default_zone=policy.default_time_zone)
                positions[enrollment.id] = moved.position
                walked[enrollment.id] = Walked(workspace_id, enrollment.journey_id, enrollment.step_id,
                                               enrollment.visits, tuple(moved.moves))
                changed = {c.trait: c.value for c in moved.commands if isinstance(c, TraitCommand)}
                if changed:
                    traits.extend(self._trait_messages(enrollment, facts.profile_id, changed, moved.position, now))
                planned.extend(_plan(enrollment, definition, command)
                               for command in moved.commands if isinstance(command, SendCommand))
            # The keys are known only now that the walks are done: learn which are claimed already
            # (a walk repeated after a crash), in the same transaction.
            claim.learn_keys([item.intent.send_key for item in planned])
            # An enrolment that entered before the current key format may have claimed under the first.
            claim.learn_earlier_keys({item.first_format_key: item.intent.send_key for item in planned
                                      if item.first_format_key is not None})
            for item in planned:
                recipient = claim.recipients.get(item.enrollment.profile_id)
                if recipient is None:
                    continue
                contents = self._contents(item.enrollment.journey_id, item.enrollment.version, item.step)
                links = customer_links(services, workspace_id=workspace_id, profile_id=recipient.contact.profile_id) \
                    if uses(contents, "links") else None
                context = _context(recipient, item, links)
                decide_and_record(claim, source=LedgerSource("journey", item.enrollment.journey_id, item.occurrence,
                                                             item.step.id),
                                  intent=item.intent, variant=None, rules=rules, now=now,
                                  render=lambda channel, contents=contents, context=context: render_content(  # type: ignore[misc]
                                      contents[channel], context, limits=limits))
        do_hand_over_taken(services, claim.taken, now=now)
        if traits and self.pipeline is not None:
            self.pipeline.record_platform_events(workspace_id=workspace_id, source="journeys", messages=traits)
        services.journeys.save_many([_stored(enrollment_id, position) for enrollment_id, position in positions.items()],
                                    now=now, walked=walked)
        return positions

    def _facts(self, enrollment: EnrollmentRow, definition: JourneyDefinition,
               people: Mapping[str, Any]) -> Facts | None:
        """Return what the machine may look at for this enrolment's customer; None when they are gone."""
        trigger = dict(enrollment.trigger.get("properties") or {})
        engaged = self._engaged(enrollment) if definition.asks_engagement else frozenset()
        person = people.get(enrollment.profile_id)
        if person is not None:
            return Facts(enrollment.profile_id, person.traits, person.computed, person.contact.time_zone, trigger,
                         engaged)
        # Not a live profile: merged into another since it entered (follow it), or erased.
        profile = self.services.lookups.find_profile(workspace_id=enrollment.workspace_id,
                                                     reference=enrollment.profile_id)
        if profile is None:
            return None
        computed = profile.computed.as_json()
        zone = time_zone_of(profile.traits, computed)
        return Facts(profile.profile_id, profile.traits, computed, zone, trigger, engaged)

    def _trait_messages(self, enrollment: EnrollmentRow, profile_id: str, traits: dict[str, Any],
                        position: Position, now: datetime) -> list[dict[str, Any]]:
        """Return the identify that sets these traits, under the customer's own identifier (none without one).

        It goes in as their app would send it: the projection sets the traits, and the
        change is on their timeline like any other.
        """
        identifiers = self.services.lookups.list_identities(workspace_id=enrollment.workspace_id,
                                                            profile_id=profile_id)
        filed_as = filed_identifier(identifiers)
        if filed_as is None:
            return []  # known only by email or phone: no timeline to write a trait change to
        return [{"type": "identify", **filed_as, "traits": traits,
                 "messageId": f"journey-{enrollment.id}-{position.visits}", "timestamp": now.isoformat()}]

    def _engaged(self, enrollment: EnrollmentRow) -> frozenset[tuple[str, str]]:
        """Return (send step, action) for what this enrolment's messages drew: received, opened, clicked."""
        services = self.services
        mine = f"{enrollment.id}:"
        steps = {row["send_key"]: row["step"] for row in services.send_ledger.list_for_profile(
            workspace_id=enrollment.workspace_id, profile_id=enrollment.profile_id, source_id=enrollment.journey_id,
            limit=1_000) if str(row["occurrence"]).startswith(mine) and row["state"] == "sent"}
        if not steps:
            return frozenset()
        mart = services.mart
        sql = engaged_sql(mart.dialect, workspace_id=enrollment.workspace_id, send_keys=sorted(steps),
                          events=all_engagement_events(), key_property=SEND_KEY)
        found = mart.fetch(sql + mart.dialect.settings, timeout_s=services.settings.segment_query_timeout_s)
        return frozenset((steps[str(key)], action) for event, key in found for action in actions_of(str(event)))


def _plan(enrollment: EnrollmentRow, definition: JourneyDefinition, command: SendCommand) -> _Planned:
    """Return the intent of one send command: keyed by journey step and enrolment pass."""
    step = definition.step(command.step_id)
    occurrence = f"{enrollment.id}:{command.visit}"
    parts = {"workspace_id": enrollment.workspace_id, "source": f"{enrollment.journey_id}/{step.id}",
             "profile_id": enrollment.profile_id, "channel": "*", "occurrence": occurrence}
    intent = Intent(send_key(**parts), enrollment.profile_id, tuple(step.channels), definition.priority,
                    enrollment.journey_id, definition.topic, rank=definition.rank)
    return _Planned(enrollment, step, occurrence, intent,
                    first_format_key(**parts) if enrollment.key_format is None else None)


def _context(recipient: Any, item: _Planned, links: dict[str, str] | None) -> dict[str, Any]:
    """Return what the step's templates see: the customer, the journey step, the trigger and the digest."""
    trigger = dict(item.enrollment.trigger.get("properties") or {})
    context = context_for(recipient, campaign={"id": item.enrollment.journey_id, "name": item.step.id}, event=trigger,
                          links=links)
    context["digest"] = [dict(event.get("properties") or {}) for event in item.enrollment.trigger.get("events") or []]
    return context


def _stored(enrollment_id: str, position: Position) -> dict[str, Any]:
    """Return an enrolment's position as the store keeps it."""
    return {
        "id": enrollment_id, "state": "done" if position.done else "active", "step_id": position.step_id,
        "wake_at": position.wake_at, "visits": position.visits, "done_reason": position.done or "",
        "waiting_for": position.waiting_for.model_dump(mode="json") if position.waiting_for else None,
    }
