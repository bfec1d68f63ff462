"""Journey actions: save and activate journeys, enter customers on triggers, and walk enrolments.

Events reach journeys after the projection has placed them on a profile: the trigger
processor reads the event log behind its own cursor (never past the projection's), and for
each event ends the customer's enrolments whose goal it is, wakes those waiting for it,
and enters the customer into every active journey it triggers. Entering is idempotent (the
store's unique entry key), so a replayed or redelivered trigger enters once (F10). Timed
waits wake from the scheduler's tick. Sends go through the same claim as campaigns — the
contact policy, consent, suppression and the ledger — keyed by journey step and enrolment
pass, then are handed over at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ulid import ULID

from loopline.actions.ingest import IngestPipeline
from loopline.actions.journey_walks import Happened, Walker
from loopline.actions.landing_pages import unknown_landing_pages
from loopline.actions.mart import do_sync_mart
from loopline.actions.messages import (
    JOURNEY_NAMES,
    CompiledContent,
    compile_content,
)
from loopline.actions.projection import CURSOR as PROJECTION_CURSOR
from loopline.actions.projection import ProjectedSlice
from loopline.domain.journeys import (
    EventMatch,
    JourneyDefinition,
    JourneyInvalid,
    SendStep,
    entry_terms,
    parse_journey,
    start,
)
from loopline.domain.send_ledger import KEY_FORMAT
from loopline.query.lookups import buyers_sql
from loopline.services import Services
from loopline.store.sql.journeys import EnrollmentRow, JourneyNameTaken, JourneyRow

STATUSES = ("draft", "active", "paused", "archived")
BUYERS_PAGE = 1_000  # a recall reads its buyers from the mart this many at a time


class JourneyRejected(ValueError):
    """A journey request that cannot be carried out, with a machine-readable code and the problems."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.problems = problems or [{"path": "", "message": message}]


class JourneyNotFound(LookupError):
    """No such journey in this workspace."""


def _checked(data: Any) -> tuple[str, JourneyDefinition]:
    if not isinstance(data, dict):
        raise JourneyRejected("invalid_journey", "the body must be an object with 'name' and 'definition'")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise JourneyRejected("invalid_journey", "'name' must be a text of 1 to 200 characters")
    try:
        definition = parse_journey(data.get("definition"))
    except JourneyInvalid as error:
        raise JourneyRejected("invalid_journey", str(error), [
            {"path": f"definition.{p['path']}".rstrip("."), "message": p["message"]} for p in error.problems]) from None
    problems = [
        {"path": f"definition.{problem['path']}", "message": problem["message"]}
        for index, step in enumerate(definition.steps) if isinstance(step, SendStep)
        for channel, content in step.content.items()
        for problem in compile_content(content, channel=channel, names=JOURNEY_NAMES,
                                       path=f"steps.{index}.content.{channel}")[1]
    ]
    if problems:
        raise JourneyRejected("invalid_template", "; ".join(p["message"] for p in problems), problems)
    return name.strip(), definition


def get_journey(services: Services, *, workspace_id: str, journey_id: str) -> JourneyRow:
    """Return one journey of the workspace; raise JourneyNotFound otherwise."""
    row = services.journeys.get(workspace_id=workspace_id, journey_id=journey_id)
    if row is None:
        raise JourneyNotFound(journey_id)
    return row


def _check_pages(services: Services, workspace_id: str, definition: JourneyDefinition) -> None:
    """Refuse a journey whose messages link to landing pages the workspace does not have."""
    missing = unknown_landing_pages(services, workspace_id=workspace_id, texts={
        f"definition.steps.{index}.content.{channel}": [content.body, content.url]
        for index, step in enumerate(definition.steps) if isinstance(step, SendStep)
        for channel, content in step.content.items()})
    if missing:
        raise JourneyRejected("unknown_landing_page", "; ".join(p["message"] for p in missing),
                              [{"path": p["path"], "message": p["message"]} for p in missing])


def do_create_journey(services: Services, *, workspace_id: str, data: Any) -> JourneyRow:
    """Save a new journey as a draft (version 1)."""
    name, definition = _checked(data)
    _check_pages(services, workspace_id, definition)
    journey_id = "jny_" + str(ULID()).lower()
    try:
        services.journeys.create(journey_id=journey_id, workspace_id=workspace_id, name=name,
                                 definition=definition.model_dump(mode="json"), now=services.clock.now())
    except JourneyNameTaken:
        raise JourneyRejected("name_taken", f"a journey named {name!r} already exists") from None
    return get_journey(services, workspace_id=workspace_id, journey_id=journey_id)


def do_update_journey(services: Services, *, workspace_id: str, journey_id: str, data: Any) -> JourneyRow:
    """Save a new version; new entries take it, running enrolments finish on the version they started."""
    get_journey(services, workspace_id=workspace_id, journey_id=journey_id)
    _, definition = _checked(data)
    _check_pages(services, workspace_id, definition)
    row = services.journeys.new_version(workspace_id=workspace_id, journey_id=journey_id,
                                        definition=definition.model_dump(mode="json"), now=services.clock.now())
    if row is None:
        raise JourneyNotFound(journey_id)
    return row


def do_set_journey_status(services: Services, *, workspace_id: str, journey_id: str, status: str) -> JourneyRow:
    """Activate (start entering customers), pause (no new entries) or archive a journey."""
    if status not in STATUSES:
        raise JourneyRejected("invalid_status", f"status must be one of {', '.join(STATUSES)}")
    get_journey(services, workspace_id=workspace_id, journey_id=journey_id)
    row = services.journeys.set_status(workspace_id=workspace_id, journey_id=journey_id, status=status,
                                       now=services.clock.now())
    assert row is not None
    return row


@dataclass(slots=True)
class TriggerReport:
    """What one pass of the trigger processor did."""

    events: int = 0
    entered: int = 0
    goals: int = 0
    woken: int = 0


@dataclass(slots=True)
class _Entry:
    """A customer about to enter a journey, gathered so a batch enters in one transaction."""

    row: JourneyRow
    definition: JourneyDefinition
    profile_id: str
    message_id: str
    trigger: dict[str, Any]


class JourneyEngine:
    """Enters customers on triggers and walks enrolments; the scheduler and ingest drive it."""

    def __init__(self, services: Services, pipeline: IngestPipeline | None = None) -> None:
        self.services = services
        self.pipeline = pipeline
        self._definitions: dict[tuple[str, int], JourneyDefinition] = {}
        self._compiled: dict[tuple[str, int, str], dict[str, CompiledContent]] = {}
        self.walker = Walker(services, pipeline, self.definition, self._contents)
        # Events are read behind one cursor, and a digest's events join a running enrolment:
        # reading (the projector's follow-up, the scheduler's tick) and waking run one at a
        # time, so no two threads read the same events and no wake sends a digest while an
        # event is joining it.
        self._busy = threading.Lock()

    def definition(self, journey_id: str, version: int) -> JourneyDefinition:
        """Return (and keep) one version's parsed definition."""
        key = (journey_id, version)
        if key not in self._definitions:
            stored = self.services.journeys.definition(journey_id=journey_id, version=version)
            assert stored is not None, "an enrolment's version is never deleted"
            self._definitions[key] = JourneyDefinition.model_validate(stored)
        return self._definitions[key]

    def _contents(self, journey_id: str, version: int, step: SendStep) -> dict[str, CompiledContent]:
        """Return a send step's compiled templates (compiled once per journey version, checked at save)."""
        key = (journey_id, version, step.id)
        if key not in self._compiled:
            compiled = {channel: compile_content(content, channel=channel, names=JOURNEY_NAMES, path=step.id)[0]
                        for channel, content in step.content.items()}
            self._compiled[key] = {channel: done for channel, done in compiled.items() if done is not None}
        return self._compiled[key]

    def process_events(self, *, limit: int = 1_000) -> TriggerReport:
        """Read new projected events and act on them: goals, waits for events, entries."""
        with self._busy:
            services = self.services
            cursor = services.journeys.get_cursor()
            projected = services.profiles.get_cursor(name=PROJECTION_CURSOR)
            return self._process_events([r for r in services.events.read_after(cursor, limit=limit)
                                         if (r.seq or 0) <= projected])

    def catch_up(self, handed: ProjectedSlice | None = None) -> None:
        """Act on every projected event not read yet.

        ``handed``: the slice a projection step just applied. When it starts where this
        engine's cursor stands, its records are acted on as they are, without reading them
        again from the event log — the usual case, right after each projection step.
        """
        if handed is not None and handed.records:
            with self._busy:
                if self.services.journeys.get_cursor() == handed.after:
                    self._process_events(handed.records)
        while self.process_events().events:
            pass

    def _process_events(self, records: list[Any]) -> TriggerReport:
        """Act on the events in order; entries gather and enter (and walk) together.

        Gathered entries are entered before an event of a customer with an entry pending
        is looked at, so each event sees its customer as one-by-one processing would: a
        goal or awaited event in the same batch finds the enrolment its trigger started.
        """
        services, report = self.services, TriggerReport()
        if not records:
            return report
        active = [(row, parse_journey(row.definition)) for row in services.journeys.active()]
        # Only workspaces with an active journey or a running enrolment need their events looked at.
        concerned = {row.workspace_id for row, _ in active} | services.journeys.workspaces_running()
        now = services.clock.now()
        owners, running = self._owners(records, concerned)
        pending: list[_Entry] = []
        gathered: set[str] = set()  # the customers of the pending entries
        for record in records:
            report.events += 1
            name, properties = record.event or record.type, record.properties
            for row, definition in active:
                if definition.trigger.fans_out and _listens(row, record) and \
                        definition.trigger.as_match().hit(name, properties, now=now):
                    report.entered += self._enter_buyers(row, definition, record, running, now=now)
            profile_id = owners.get((record.workspace_id, *_identifier(record)))
            if profile_id is None:
                continue
            if profile_id in gathered:
                report.entered += self._enter(pending, running, now=now)
                pending, gathered = [], set()
            if (record.workspace_id, profile_id) in running:
                self._running(record.workspace_id, profile_id, (name, properties), now=now, report=report)
            trigger = {"event": name, "properties": properties, "events": [
                {"message_id": record.message_id, "properties": properties}]}
            entries = [_Entry(row, definition, profile_id, record.message_id, trigger)
                       for row, definition in active
                       if not definition.trigger.fans_out and _listens(row, record)
                       and definition.trigger.as_match().hit(name, properties, now=now)]
            if entries:
                pending += entries
                gathered.add(profile_id)
        report.entered += self._enter(pending, running, now=now)
        services.journeys.set_cursor(max(r.seq or 0 for r in records))
        return report

    def _owners(self, records: list[Any], concerned: set[str]) -> tuple[dict[tuple[str, str, str], str],
                                                                        set[tuple[str, str]]]:
        """Return the owner of each concerned record's user (one query per workspace) and who is in a journey."""
        services = self.services
        owners: dict[tuple[str, str, str], str] = {}
        running: set[tuple[str, str]] = set()
        for workspace_id in concerned:
            mine = [r for r in records if r.workspace_id == workspace_id]
            found = services.lookups.owners(workspace_id=workspace_id, identifiers=[_identifier(r) for r in mine])
            for (kind, value), profile_id in found.items():
                owners[(workspace_id, kind, value)] = profile_id
            running.update((workspace_id, profile_id) for profile_id in services.journeys.profiles_running(
                workspace_id=workspace_id, profile_ids=list(found.values())))
        return owners, running

    def _enter_buyers(self, row: JourneyRow, definition: JourneyDefinition, record: Any,
                      running: set[tuple[str, str]], *, now: datetime) -> int:
        """Enter every customer who bought the product the event names (a recall); return how many entered.

        Buyers are read from the mart a page at a time; each enters under the event's message
        id, so a replayed event enters nobody twice.
        """
        named = definition.trigger.buyers_of(record.properties)
        if named is None:
            return 0
        buyers, product = named
        do_sync_mart(self.services)  # the buyers' identities as they stand now, not as of the last sync
        mart, entered, after = self.services.mart, 0, ""
        since = now - timedelta(days=buyers.within_days) if buyers.within_days else None
        trigger = {"event": record.event, "properties": record.properties, "events": [
            {"message_id": record.message_id, "properties": record.properties}]}
        while True:
            sql = buyers_sql(mart.dialect, workspace_id=row.workspace_id, event=buyers.event,
                             product_key=buyers.product_property, product=product, since=since, after=after,
                             limit=BUYERS_PAGE)
            page = [str(found[0]) for found in mart.fetch(
                sql + mart.dialect.settings, timeout_s=self.services.settings.segment_query_timeout_s)]
            entered += self._enter([_Entry(row, definition, profile_id, record.message_id, trigger)
                                    for profile_id in page], running, now=now)
            if len(page) < BUYERS_PAGE:
                return entered
            after = page[-1]

    def _running(self, workspace_id: str, profile_id: str, happened: Happened, *,
                 now: datetime, report: TriggerReport) -> None:
        name, properties = happened
        for enrollment in self.services.journeys.running_for(workspace_id=workspace_id, profile_id=profile_id):
            definition = self.definition(enrollment.journey_id, enrollment.version)
            if definition.goal is not None and definition.goal.hit(name, properties, now=now):
                self.services.journeys.save(enrollment_id=enrollment.id, now=now, state="done",
                                            done_reason="goal_reached", wake_at=None, waiting_for=None)
                report.goals += 1
                continue
            waiting = EventMatch.model_validate(enrollment.waiting_for) if enrollment.waiting_for else None
            if waiting is not None and waiting.hit(name, properties, now=now):
                self.walker.walk([enrollment], now=now, happened={enrollment.id: happened})
                report.woken += 1

    def _enter(self, entries: list[_Entry], running: set[tuple[str, str]], *, now: datetime) -> int:
        """Enter these customers where their entry rules allow (one transaction), walk them; return how many.

        A digest journey's trigger for a customer already in it joins the running enrolment.
        """
        if not entries:
            return 0
        rows = []
        for entry in entries:
            key, since = entry_terms(entry.definition.entry, message_id=entry.message_id, now=now)
            first = start(entry.definition)
            rows.append((EnrollmentRow(
                id="enr_" + str(ULID()).lower(), workspace_id=entry.row.workspace_id, journey_id=entry.row.id,
                version=entry.row.version, profile_id=entry.profile_id, entry_key=key[:200], state="active",
                step_id=first.step_id, wake_at=None, waiting_for=None, visits=0, done_reason="",
                trigger=entry.trigger, entered_at=now, updated_at=now, key_format=KEY_FORMAT,
            ), since))
        verdicts = self.services.journeys.enter_many(rows)
        entered = [row for (row, _), why_not in zip(rows, verdicts, strict=True) if not why_not]
        for entry, why_not in zip(entries, verdicts, strict=True):
            if why_not == "running" and entry.definition.entry.rule == "digest":
                self.services.journeys.join(journey_id=entry.row.id, profile_id=entry.profile_id,
                                            message_id=entry.message_id,
                                            properties=dict(entry.trigger.get("properties") or {}), now=now)
        self.walker.walk(entered, now=now)
        running.update((row.workspace_id, row.profile_id) for row in entered)  # later events may end or wake them
        return len(entered)

    def wake_due(self, *, now: datetime, limit: int = 1_000) -> int:
        """Walk enrolments whose wait has ended; return how many."""
        with self._busy:
            due = self.services.journeys.due(now=now, limit=limit)
            self.walker.walk(due, now=now)
        return len(due)


def _listens(row: JourneyRow, record: Any) -> bool:
    """Return whether a journey hears an event: its own workspace's, from after it was switched on."""
    return row.workspace_id == record.workspace_id and (row.active_since is None or
                                                        record.received_at >= row.active_since)


def _identifier(record: Any) -> tuple[str, str]:
    """Return the identifier an event is placed by: its userId, else its anonymousId."""
    return ("user_id", record.user_id) if record.user_id else ("anonymous_id", record.anonymous_id or "")
