"""Journeys: event-triggered lifecycle automation as a graph of steps, and the pure machine that walks it.

A journey starts for a customer when an event matches its trigger (``Segment Entered`` and
``Segment Exited`` are events too, written by segment refreshes), subject to its entry
rule; a product event (a recall) starts it for every past buyer of the product instead.
The enrolment then walks the steps: send a message, wait (a while, until a time of day
where the customer is, or until an event with a timeout), branch on the profile, the
triggering event or engagement with an earlier message, split at random, update a trait,
exit. A goal event ends it wherever it is. The machine here is pure: given the definition,
where an enrolment stands, what is known about the customer and what just happened, it
returns the commands to carry out and where the enrolment stands next. Durable waits are
``wake_at`` / ``waiting_for`` in that state, stored by the caller; an enrolment keeps the
definition version it started with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline.domain.campaigns import Channel, Content, check_push_options
from loopline.domain.comparisons import lookup, matches
from loopline.domain.consent import TOPIC
from loopline.domain.contact_policy import Priority, zone_of
from loopline.domain.engagement import EngagementAction
from loopline.domain.segments.definition import Comparison, PropertyFilter, problems_of, unstorable_text
from loopline.domain.segments.membership import SEGMENT_ENTERED, SEGMENT_EXITED

MAX_STEPS = 50
MAX_STEPS_PER_ADVANCE = 100  # a graph may loop (wait, then back): each advance walks at most this far
MAX_STEP_VISITS = 1_000  # over an enrolment's whole life; past it the enrolment exits with step_limit

Name = Annotated[str, Field(min_length=1, max_length=200)]
StepId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventMatch(_Model):
    """An event by name, with conditions on its properties (all must hold)."""

    event: Name
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)

    def hit(self, name: str | None, properties: Mapping[str, Any], *, now: datetime) -> bool:
        """Return whether an event with this name and these properties matches."""
        return name == self.event and all(
            matches(condition, lookup(properties, condition.property), now=now) for condition in self.where)


class Buyers(_Model):
    """Who bought a product: the customers with a ``event`` (an order) naming it.

    The product is named by ``product_property`` — on the order itself, or on any item of
    its ``products`` list (the e-commerce spec's shape). ``within_days`` limits how far back
    an order counts; without it, every order ever does.
    """

    event: Name = "Order Completed"
    product_property: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^.]+$")] = "product_id"
    within_days: int | None = Field(default=None, ge=1, le=36_500)


class Trigger(_Model):
    """What starts the journey: an event, entering / leaving a segment, or a product event for its buyers.

    ``past_buyers``: an event about a product (``Product Recalled`` with its ``product_id``)
    enters every customer who bought that product — not the sender of the event, which is
    usually a back office.
    """

    type: Literal["event", "segment_entered", "segment_exited", "past_buyers"] = "event"
    event: str | None = Field(default=None, max_length=200)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)
    segment_id: str | None = Field(default=None, max_length=40)
    buyers: Buyers | None = None

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        if self.type in ("event", "past_buyers") and not self.event:
            raise ValueError(f"an {self.type} trigger names its event")
        if self.type.startswith("segment_") and not self.segment_id:
            raise ValueError(f"a {self.type} trigger names its segment_id")
        if self.buyers is not None and self.type != "past_buyers":
            raise ValueError("'buyers' goes with the trigger type past_buyers, and only with it")
        return self

    @property
    def fans_out(self) -> bool:
        """Whether the event enters other customers (the product's buyers) rather than its sender."""
        return self.type == "past_buyers"

    def buyers_of(self, properties: Mapping[str, Any]) -> tuple[Buyers, str] | None:
        """Return whose purchase to look for and the product the event names (as text), or None."""
        buyers = self.buyers or Buyers()
        product = lookup(properties, buyers.product_property)
        if isinstance(product, bool) or not isinstance(product, str | int) or product == "":
            return None
        return buyers, str(product)

    def as_match(self) -> EventMatch:
        """Return the event that fires the trigger."""
        if self.type in ("event", "past_buyers"):
            assert self.event is not None
            return EventMatch(event=self.event, where=self.where)
        event = SEGMENT_ENTERED if self.type == "segment_entered" else SEGMENT_EXITED
        segment = PropertyFilter(property="segment_id", operator="eq", value=self.segment_id)  # type: ignore[arg-type]
        return EventMatch(event=event, where=[segment])


class Entry(_Model):
    """Who may enter again: ``once`` ever, once per ``days``, or ``every_time`` (never two at once).

    ``digest``: while an enrolment runs, a new trigger joins it instead — its event is added
    to the digest the enrolment's messages can list — so a burst becomes one message.
    """

    rule: Literal["once", "once_per_days", "every_time", "digest"] = "once"
    days: int | None = Field(default=None, ge=1, le=3_650)

    @model_validator(mode="after")
    def _days(self) -> Entry:
        if (self.rule == "once_per_days") != (self.days is not None):
            raise ValueError("'days' goes with the rule once_per_days, and only with it")
        return self


class SendStep(_Model):
    """Send a message on the first usable channel."""

    id: StepId
    type: Literal["send"]
    channels: list[Channel] = Field(min_length=1, max_length=5)
    content: dict[Channel, Content] = Field(min_length=1)
    next: str | None = None

    @model_validator(mode="after")
    def _push_options(self) -> SendStep:
        check_push_options(self.content)
        return self


class WaitStep(_Model):
    """Wait ``minutes``, or until a local time of day, or until an event (``on_event``) with a timeout."""

    id: StepId
    type: Literal["wait"]
    minutes: int | None = Field(default=None, ge=1, le=525_600)
    until_local_time: time | None = None
    until_event: EventMatch | None = None
    next: str | None = None
    on_event: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> WaitStep:
        if (self.minutes is None) == (self.until_local_time is None) and self.until_event is None:
            raise ValueError("a wait takes minutes or until_local_time, or until_event with minutes as its timeout")
        if self.until_event is not None and self.minutes is None:
            raise ValueError("waiting for an event needs minutes: the timeout")
        return self


class Condition(_Model):
    """A test on a trait, a computed property or the triggering event's property.

    With ``against_trait`` the test compares with the customer's own trait of that name —
    "balance below *their* alert_threshold" — and the test's ``value`` is the default for
    customers who have not set it.
    """

    source: Literal["trait", "computed", "event"]
    path: Name
    test: Comparison
    against_trait: Name | None = None


class Engaged(_Model):
    """Whether the customer has ``received``, ``opened`` or ``clicked`` the message an earlier
    send step of this enrolment sent them (by the engagement events that name its send key)."""

    source: Literal["engagement"]
    step: StepId
    action: EngagementAction


class BranchStep(_Model):
    """Go to ``then`` when the condition holds, else to ``otherwise``."""

    id: StepId
    type: Literal["branch"]
    condition: Annotated[Condition | Engaged, Field(discriminator="source")]
    then: str | None = None
    otherwise: str | None = None


class SplitPath(_Model):
    percent: float = Field(gt=0, le=100)
    next: str | None = None


class SplitStep(_Model):
    """Send each customer down one path at random (by a hash: the same customer, the same path)."""

    id: StepId
    type: Literal["split"]
    paths: list[SplitPath] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _sum(self) -> SplitStep:
        if abs(sum(p.percent for p in self.paths) - 100) > 1e-6:
            raise ValueError("split percentages must add up to 100")
        return self


class TraitStep(_Model):
    """Set a trait on the profile (``value`` may be a template-free scalar)."""

    id: StepId
    type: Literal["update_trait"]
    trait: Name
    value: str | int | float | bool | None
    next: str | None = None


class ExitStep(_Model):
    id: StepId
    type: Literal["exit"]


Step = Annotated[SendStep | WaitStep | BranchStep | SplitStep | TraitStep | ExitStep, Field(discriminator="type")]


class JourneyDefinition(_Model):
    """A journey: trigger, entry rule, goal, and the steps from the first."""

    trigger: Trigger
    entry: Entry = Field(default_factory=Entry)
    goal: EventMatch | None = None
    topic: str = Field(default="all", max_length=100, pattern=TOPIC.pattern)
    priority: Priority = Priority.MARKETING
    rank: int = Field(default=5, ge=1, le=10)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _graph(self) -> JourneyDefinition:
        first = self.steps[0]
        if self.entry.rule == "digest" and not (isinstance(first, WaitStep) and first.minutes and
                                                first.until_event is None):
            raise ValueError("a digest journey starts with a wait of some minutes: the window events gather in")
        ids = [step.id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must differ")
        for step in self.steps:
            for target in _targets(step):
                if target is not None and target not in ids:
                    raise ValueError(f"step {step.id!r} leads to {target!r}, which is not a step")
            if isinstance(step, SendStep):
                missing = [c for c in step.channels if c not in step.content]
                if missing:
                    raise ValueError(f"step {step.id!r} has no content for {', '.join(missing)}")
            if isinstance(step, BranchStep) and isinstance(step.condition, Engaged) and not isinstance(
                    next((s for s in self.steps if s.id == step.condition.step), None), SendStep):
                raise ValueError(f"step {step.id!r} asks about engagement with {step.condition.step!r},"
                                 " which is not a send step")
        return self

    @property
    def asks_engagement(self) -> bool:
        """Whether a branch asks about engagement with an earlier message (worth a lookup per walk)."""
        return any(isinstance(step, BranchStep) and isinstance(step.condition, Engaged) for step in self.steps)

    def step(self, step_id: str) -> Any:
        """Return the step with this id."""
        return next(step for step in self.steps if step.id == step_id)


def _targets(step: Any) -> list[str | None]:
    if isinstance(step, BranchStep):
        return [step.then, step.otherwise]
    if isinstance(step, SplitStep):
        return [path.next for path in step.paths]
    if isinstance(step, WaitStep):
        return [step.next, step.on_event]
    return [getattr(step, "next", None)]


class JourneyInvalid(ValueError):
    """A definition that cannot be saved, with every problem found."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


def parse_journey(data: Any) -> JourneyDefinition:
    """Validate a journey definition; raise JourneyInvalid naming each problem and where."""
    if problems := unstorable_text(data):
        raise JourneyInvalid(problems)
    try:
        return JourneyDefinition.model_validate(data)
    except ValidationError as error:
        raise JourneyInvalid(problems_of(error)) from None


@dataclass(frozen=True, slots=True)
class Position:
    """Where an enrolment stands: at a step (or done), possibly waiting, and how far it has walked."""

    step_id: str | None
    wake_at: datetime | None = None
    waiting_for: EventMatch | None = None
    visits: int = 0
    done: str | None = None  # why it ended: completed, goal_reached, step_limit…


@dataclass(frozen=True, slots=True)
class SendCommand:
    """Send this step's message; ``visit`` tells repeated passes through the step apart."""

    step_id: str
    visit: int


@dataclass(frozen=True, slots=True)
class TraitCommand:
    """Set a trait on the profile."""

    trait: str
    value: Any


@dataclass(frozen=True, slots=True)
class Facts:
    """What the machine may look at: the customer's traits, computed properties, zone and the trigger."""

    profile_id: str
    traits: Mapping[str, Any] = field(default_factory=dict)
    computed: Mapping[str, Any] = field(default_factory=dict)
    time_zone: str | None = None
    event: Mapping[str, Any] = field(default_factory=dict)  # the triggering event's properties
    engaged: frozenset[tuple[str, str]] = frozenset()  # (send step id, action) this enrolment's messages drew


@dataclass(frozen=True, slots=True)
class Advance:
    """The commands to carry out, where the enrolment stands next, and the links it took to get there.

    ``moves``: (from step, to step) for each link followed, in order; the step is None
    where a path ends with no next step.
    """

    position: Position
    commands: list[SendCommand | TraitCommand] = field(default_factory=list)
    moves: list[tuple[str, str | None]] = field(default_factory=list)


def start(definition: JourneyDefinition) -> Position:
    """Return where a new enrolment stands: at the first step."""
    return Position(definition.steps[0].id)


def advance(definition: JourneyDefinition, position: Position, facts: Facts, *, now: datetime,
            event: tuple[str, Mapping[str, Any]] | None = None, default_zone: str = "UTC") -> Advance:
    """Walk from ``position`` until a wait that has not ended, an exit, or the end of the graph.

    ``event`` is an event that just happened to the customer (name, properties): it can end
    a wait for that event. Waits whose time has not come return at once, unchanged.
    """
    commands: list[SendCommand | TraitCommand] = []
    moves: list[tuple[str, str | None]] = []
    current = position
    for _ in range(MAX_STEPS_PER_ADVANCE):
        if current.done is not None or current.step_id is None:
            return Advance(replace(current, done=current.done or "completed", step_id=None), commands, moves)
        if current.visits >= MAX_STEP_VISITS:
            return Advance(Position(None, visits=current.visits, done="step_limit"), commands, moves)
        step = definition.step(current.step_id)
        if isinstance(step, WaitStep):
            waited = _wait(step, current, facts, now=now, event=event, default_zone=default_zone)
            if waited.step_id == current.step_id:
                return Advance(waited, commands, moves)  # still waiting
            moves.append((step.id, waited.step_id))
            current, event = waited, None  # an event ends one wait only
            continue
        visits = current.visits + 1
        if isinstance(step, SendStep):
            commands.append(SendCommand(step.id, visits))
            current = Position(step.next, visits=visits)
        elif isinstance(step, TraitStep):
            commands.append(TraitCommand(step.trait, step.value))
            current = Position(step.next, visits=visits)
        elif isinstance(step, BranchStep):
            current = Position(step.then if _holds(step.condition, facts, now) else step.otherwise, visits=visits)
        elif isinstance(step, SplitStep):
            current = Position(_pick(step, facts.profile_id), visits=visits)
        else:
            return Advance(Position(None, visits=visits, done="exited"), commands, moves)
        moves.append((step.id, current.step_id))
    return Advance(replace(current, wake_at=now), commands, moves)  # a long walk continues on the next advance


def _wait(step: WaitStep, current: Position, facts: Facts, *, now: datetime,
          event: tuple[str, Mapping[str, Any]] | None, default_zone: str) -> Position:
    if current.wake_at is None:  # arriving at the wait: set it up
        if step.until_local_time is not None:
            wake = _next_local(step.until_local_time, now, zone_of(facts.time_zone, default_zone))
        else:
            wake = now + timedelta(minutes=step.minutes or 0)
        return Position(step.id, wake_at=wake, waiting_for=step.until_event, visits=current.visits + 1)
    if step.until_event is not None and event is not None and step.until_event.hit(event[0], event[1], now=now):
        return Position(step.on_event or step.next, visits=current.visits)
    if now >= current.wake_at:
        return Position(step.next, visits=current.visits)
    return current


def _next_local(at: time, now: datetime, zone: Any) -> datetime:
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(now.tzinfo)


def _holds(condition: Condition | Engaged, facts: Facts, now: datetime) -> bool:
    if isinstance(condition, Engaged):
        return (condition.step, condition.action) in facts.engaged
    data = {"trait": facts.traits, "computed": facts.computed, "event": facts.event}[condition.source]
    test = condition.test
    if condition.against_trait is not None:
        own = lookup(facts.traits, condition.against_trait)
        if isinstance(own, int | float | str) and not isinstance(own, bool):
            test = test.model_copy(update={"value": own})
    return matches(test, lookup(data, condition.path), now=now)


def _pick(step: SplitStep, profile_id: str) -> str | None:
    digest = hashlib.sha256(f"{step.id}\x1f{profile_id}".encode()).digest()
    spot = int.from_bytes(digest[:8], "big") % 10_000 / 100
    edge = 0.0
    for path in step.paths:
        edge += path.percent
        if spot < edge:
            return path.next
    return step.paths[-1].next


def entry_terms(entry: Entry, *, message_id: str, now: datetime) -> tuple[str, datetime | None]:
    """Return the entry key and how far back an earlier entry forbids this one.

    The key is what the store keeps unique per journey and customer: "once" for a
    once-only journey (a second entry can never be stored), else the triggering message's
    id (a redelivered or replayed trigger finds its enrolment). Once per N days also
    refuses an entry within the last N days; every rule refuses while one is running.
    """
    key = "once" if entry.rule == "once" else message_id  # digest: each event enters (or joins) once
    since = now - timedelta(days=entry.days) if entry.rule == "once_per_days" and entry.days else None
    return key, since
