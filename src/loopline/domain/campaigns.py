"""Campaigns: what a campaign is, the states it moves through, and when it runs.

A campaign sends content on one of several channels to the members of some segments, in
A/B variants, keeping a control group out so its effect can be measured against a
success metric. The definition is validated here (pydantic, frozen, every problem with its
path); templates are checked by the caller, which knows the names a message may use.

Lifecycle: draft → scheduled → running → completed, with paused beside running and
cancelled reachable until the end. Pausing stops new claims and holds queued sends;
resuming picks up at the cursor. A schedule that passed while nothing ran for longer than
the allowed lateness is *not* started automatically: the campaign is paused with the reason
``missed_schedule`` so a person decides (listmonk #1801).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loopline.domain.consent import CHANNELS, TOPIC
from loopline.domain.contact_policy import Priority, check_zone, zone_of
from loopline.domain.economics import Costs
from loopline.domain.in_app import InAppOptions
from loopline.domain.push import PushOptions
from loopline.domain.segments.definition import PropertyFilter, problems_of, unstorable_text

MAX_VARIANTS = 8
MAX_SEGMENTS = 20


class Status(StrEnum):
    """Where a campaign stands."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


MOVES: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SCHEDULED, Status.CANCELLED}),
    Status.SCHEDULED: frozenset({Status.DRAFT, Status.RUNNING, Status.PAUSED, Status.CANCELLED}),
    Status.RUNNING: frozenset({Status.PAUSED, Status.COMPLETED, Status.CANCELLED, Status.SCHEDULED}),
    Status.PAUSED: frozenset({Status.RUNNING, Status.SCHEDULED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}
EDITABLE = frozenset({Status.DRAFT, Status.SCHEDULED, Status.PAUSED})


class CampaignConflict(ValueError):
    """A lifecycle move the campaign's state does not allow."""


def check_move(current: Status, target: Status) -> None:
    """Raise CampaignConflict unless a campaign may go from ``current`` to ``target``."""
    if target not in MOVES[current]:
        raise CampaignConflict(f"a {current} campaign cannot become {target}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(min_length=1, max_length=200)]
TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(check_zone)]
Channel = Literal["email", "sms", "push", "in_app", "web_push"]
assert set(CHANNELS) == {"email", "sms", "push", "in_app", "web_push"}
PUSH_CHANNELS = ("push", "web_push")


class SuccessMetric(_Model):
    """The goal: a customer did ``event`` (matching ``where``) within ``within_days`` of the message."""

    event: Name
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)
    within_days: int = Field(default=7, ge=1, le=90)
    revenue_property: str | None = Field(default=None, max_length=200)


class Audience(_Model):
    """Members of any of ``segments``, minus members of any of ``exclude``."""

    segments: list[str] = Field(min_length=1, max_length=MAX_SEGMENTS)
    exclude: list[str] = Field(default_factory=list, max_length=MAX_SEGMENTS)


class Content(_Model):
    """One channel's message: a subject or title where the channel has one, a body, an optional link.

    ``push`` carries the rich push options (image, buttons, badge, sound, collapse key, TTL)
    of a push or web push message; ``in_app`` the layout, buttons and display rules of an
    in-app message.
    """

    subject: str | None = Field(default=None, max_length=2_000)
    body: str = Field(min_length=1, max_length=100_000)
    url: str | None = Field(default=None, max_length=2_000)
    push: PushOptions | None = None
    in_app: InAppOptions | None = None


class Variant(_Model):
    """An A/B arm: its share of the treated customers and its content per channel."""

    name: Name
    split: float = Field(gt=0, le=100)
    content: dict[Channel, Content] = Field(min_length=1)

    @model_validator(mode="after")
    def _push_options(self) -> Variant:
        check_push_options(self.content)
        return self


def check_push_options(content: dict[Channel, Content]) -> None:
    """Raise ValueError when rich push options are given for a channel that is not push or web push,
    or in-app options for a channel that is not in_app."""
    for channel, message in content.items():
        if message.push is not None and channel not in PUSH_CHANNELS:
            raise ValueError(f"push options belong to push or web_push content, not to {channel}")
        if message.in_app is not None and channel != "in_app":
            raise ValueError(f"in_app options belong to in_app content, not to {channel}")


class Window(_Model):
    """Send only between these local times (across midnight when ``end`` ≤ ``start``)."""

    start: time
    end: time

    @model_validator(mode="after")
    def _differs(self) -> Window:
        if self.start == self.end:
            raise ValueError("a send window needs a start and an end that differ")
        return self


class BestTime(_Model):
    """Send each customer at their best hour within ``within_hours`` of the run's start (``send_times``).

    ``fixed_time_control_percent`` of the treated customers are sent at the run's own time
    instead, so the results can show what choosing the hour changed.
    """

    within_hours: int = Field(default=24, ge=2, le=168)
    fixed_time_control_percent: float = Field(default=10, ge=0, le=50)


class Schedule(_Model):
    """When the campaign runs: now, at an instant, at a local time everywhere, or on a cron rule."""

    kind: Literal["now", "at", "local_time", "recurring"] = "now"
    at: datetime | None = None
    cron: str | None = Field(default=None, max_length=100)
    time_zone: TimeZoneName = "UTC"
    window: Window | None = None
    throttle_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    ends_at: datetime | None = None
    best_time: BestTime | None = None

    @model_validator(mode="after")
    def _complete(self) -> Schedule:
        if self.best_time is not None and self.kind == "local_time":
            raise ValueError("'best_time' picks each customer's hour itself: use kind 'now', 'at' or 'recurring'")
        if self.kind in ("at", "local_time") and self.at is None:
            raise ValueError(f"a {self.kind!r} schedule needs 'at'")
        if self.at is not None and self.at.tzinfo is None and self.kind == "at":
            raise ValueError("'at' needs a UTC offset (or use kind 'local_time' for each customer's own clock)")
        if self.kind == "recurring":
            if not self.cron or not croniter.is_valid(self.cron):
                raise ValueError("a recurring schedule needs a valid five-field cron rule, e.g. '0 9 * * MON'")
        elif self.cron is not None:
            raise ValueError("'cron' belongs to recurring schedules only")
        return self


class CampaignDefinition(_Model):
    """Everything that says what a campaign sends, to whom, when, and how it is measured."""

    objective: str = Field(default="", max_length=2_000)
    success_metric: SuccessMetric | None = None
    audience: Audience
    channels: list[Channel] = Field(min_length=1, max_length=5)
    every_channel: bool = False
    variants: list[Variant] = Field(min_length=1, max_length=MAX_VARIANTS)
    holdout_percent: float = Field(default=0, ge=0, le=50)
    global_control: bool = True
    topic: str = Field(default="all", max_length=100)
    priority: Priority = Priority.MARKETING
    rank: int = Field(default=5, ge=1, le=10)
    offer: str | None = Field(default=None, max_length=200)
    expires_after_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    schedule: Schedule = Field(default_factory=Schedule)
    costs: Costs | None = None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not TOPIC.match(value):
            raise ValueError("topic must be lowercase letters, digits, '_', '.' or '-'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CampaignDefinition:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("each channel may be listed once")
        if abs(sum(variant.split for variant in self.variants) - 100) > 1e-6:
            raise ValueError("variant splits must add up to 100")
        if len({variant.name for variant in self.variants}) != len(self.variants):
            raise ValueError("variant names must differ")
        for variant in self.variants:
            missing = [channel for channel in self.channels if channel not in variant.content]
            if missing:
                raise ValueError(f"variant {variant.name!r} has no content for {', '.join(missing)}")
        return self

    @property
    def splits(self) -> list[float]:
        """Return the variants' split percentages, in order."""
        return [variant.split for variant in self.variants]


class CampaignInvalid(ValueError):
    """A definition that cannot be saved, with every problem found: ``[{"path", "message"}]``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


def parse_campaign(data: Any) -> CampaignDefinition:
    """Validate a campaign definition (parsed JSON); raise CampaignInvalid naming each problem."""
    if problems := unstorable_text(data):
        raise CampaignInvalid(problems)
    try:
        return CampaignDefinition.model_validate(data)
    except ValidationError as error:
        raise CampaignInvalid(problems_of(error)) from None


def first_run(schedule: Schedule, *, now: datetime) -> datetime:
    """Return when a campaign scheduled at ``now`` first runs (UTC).

    A local-time campaign starts when the first time zone reaches the hour (UTC+14), and
    each customer's send is held in the ledger until their own clock shows it.
    """
    if schedule.kind == "now":
        return now
    if schedule.kind == "at":
        assert schedule.at is not None
        return schedule.at.astimezone(UTC)
    if schedule.kind == "local_time":
        assert schedule.at is not None
        earliest = schedule.at.replace(tzinfo=UTC) - timedelta(hours=14)
        return max(earliest, now)
    return next_occurrence(schedule, after=now)


def next_occurrence(schedule: Schedule, *, after: datetime) -> datetime:
    """Return a recurring schedule's next run strictly after ``after`` (UTC), in its own time zone."""
    assert schedule.cron is not None
    local = after.astimezone(ZoneInfo(schedule.time_zone))
    following: datetime = croniter(schedule.cron, local).get_next(datetime)
    return following.astimezone(UTC)


def local_send_time(schedule: Schedule, *, time_zone: str | None, default_zone: str) -> datetime:
    """Return the instant a local-time campaign reaches a customer: the wall-clock ``at`` in their zone."""
    assert schedule.at is not None
    return schedule.at.replace(tzinfo=zone_of(time_zone, default_zone)).astimezone(UTC)


def occurrence_name(schedule: Schedule, run_at: datetime) -> str:
    """Return the occurrence part of the send key: empty for one-off runs, the run's instant for recurring ones."""
    return run_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if schedule.kind == "recurring" else ""


def missed(run_at: datetime, *, now: datetime, lateness: timedelta) -> bool:
    """Return whether a run due at ``run_at`` is too late to start by itself at ``now``."""
    return now - run_at > lateness
