"""A workspace's contact rules as stored and edited: the policy document, checked and turned into ``Rules``."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline.domain.campaigns import CampaignInvalid, Channel, TimeZoneName
from loopline.domain.contact_policy import Cap, Policy, QuietHours
from loopline.domain.recipients import DEFAULT_OPT_IN_CHANNELS, Rules
from loopline.domain.segments.definition import problems_of, unstorable_text

# Channels that interrupt: a buzzing phone at night. Email waits in the inbox anyway.
QUIET_CHANNELS: tuple[Channel, ...] = ("push", "sms", "web_push")
OPT_IN_CHANNELS: tuple[Channel, ...] = ("email", "sms")
assert set(OPT_IN_CHANNELS) == DEFAULT_OPT_IN_CHANNELS


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapRule(_Model):
    """At most ``limit`` marketing messages per ``window_hours`` (on one channel, per campaign)."""

    limit: int = Field(ge=0, le=1_000)
    window_hours: float = Field(gt=0, le=24 * 90)
    channel: Channel | None = None
    per_campaign: bool = False


class QuietRule(_Model):
    """Hold marketing messages on ``channels`` between ``start`` and ``end``, customer's local time."""

    start: time
    end: time
    channels: list[Channel] = Field(default_factory=lambda: list(QUIET_CHANNELS), min_length=1)

    @model_validator(mode="after")
    def _differs(self) -> QuietRule:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")
        return self


class PolicyDocument(_Model):
    """Everything a workspace sets about how often, when and whether customers are contacted."""

    caps: list[CapRule] = Field(default_factory=list, max_length=20)
    quiet_hours: QuietRule | None = None
    defer_when_capped: bool = False
    default_time_zone: TimeZoneName = "UTC"
    opt_in_channels: list[Channel] = Field(default_factory=lambda: list(OPT_IN_CHANNELS))
    offer_window_hours: float = Field(default=24, gt=0, le=24 * 90)
    global_control_percent: float = Field(default=0, ge=0, le=20)

    def rules(self) -> Rules:
        """Return the rules a claim applies."""
        caps = tuple(Cap(c.limit, timedelta(hours=c.window_hours), c.channel, c.per_campaign) for c in self.caps)
        quiet = (QuietHours(self.quiet_hours.start, self.quiet_hours.end, frozenset(self.quiet_hours.channels))
                 if self.quiet_hours else None)
        policy = Policy(caps, quiet, self.defer_when_capped, self.default_time_zone)
        return Rules(policy, frozenset(self.opt_in_channels), timedelta(hours=self.offer_window_hours))

    def lookback(self) -> timedelta:
        """Return how far back a claim reads the ledger: the longest cap window or the offer window."""
        return max([timedelta(hours=c.window_hours) for c in self.caps] + [timedelta(hours=self.offer_window_hours)])


def parse_policy(data: Any) -> PolicyDocument:
    """Validate a policy document; raise CampaignInvalid naming each problem and where."""
    if problems := unstorable_text(data):
        raise CampaignInvalid(problems)
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as error:
        raise CampaignInvalid(problems_of(error)) from None
