"""Media buys: paid placements outside our own channels (ads, search, print, affiliates) and what they returned.

A media buy sends people to the shop or the app through links tagged with UTM parameters;
the browser and app SDKs put those into each event's ``context.campaign`` (Segment's spec:
``name``, ``source``, ``medium``). A customer's event whose campaign matches the buy's UTM
tags, within the buy's period, is a **touch** (a response to the ad). A goal event within the
success metric's window after a touch is a conversion credited to the buy when the touch is
the customer's last one before it (or, by first touch, the first within the window): other
media buys' UTM touches and our own messages count as touches too, so the credit is shared
out across paid media and owned channels without counting a conversion twice.

What a buy cost is a fixed amount, a price per click (per response we counted) and a price
per thousand impressions the publisher reports. There is no control group (nobody can be
held out of an ad audience), so the ROI is not incremental: it is the revenue attributed
against the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline.domain.campaigns import SuccessMetric
from loopline.domain.segments.definition import problems_of, unstorable_text

MediaChannel = Literal["paid_social", "search", "display", "video", "print", "out_of_home", "radio", "tv",
                       "affiliate", "influencer", "email_rental", "other"]
LAST_TOUCH, FIRST_TOUCH = "last_touch", "first_touch"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Utm(_Model):
    """The UTM tags that mark a touch as this buy's: ``campaign`` always; ``source`` and ``medium`` when given."""

    campaign: str = Field(min_length=1, max_length=200)
    source: str | None = Field(default=None, min_length=1, max_length=200)
    medium: str | None = Field(default=None, min_length=1, max_length=200)


class MediaCosts(_Model):
    """What the buy costs: a flat fee, a price per click, a price per thousand reported impressions."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    fixed: float = Field(default=0, ge=0, le=1e12)
    per_click: float = Field(default=0, ge=0, le=1e6)
    per_thousand_impressions: float = Field(default=0, ge=0, le=1e6)
    impressions: int = Field(default=0, ge=0, le=10**13)


class MediaBuyDefinition(_Model):
    """A paid placement: where it ran, when, how its traffic is tagged, what it cost, and its goal."""

    channel: MediaChannel
    publisher: str = Field(default="", max_length=200)
    utm: Utm
    starts_at: datetime
    ends_at: datetime | None = None
    costs: MediaCosts = Field(default_factory=MediaCosts)
    success_metric: SuccessMetric

    @model_validator(mode="after")
    def _period(self) -> MediaBuyDefinition:
        if self.starts_at.tzinfo is None or (self.ends_at is not None and self.ends_at.tzinfo is None):
            raise ValueError("starts_at and ends_at need a UTC offset")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class MediaBuyInvalid(ValueError):
    """A definition that cannot be saved, with every problem found: ``[{"path", "message"}]``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems))
        self.problems = problems


def parse_media_buy(data: Any) -> MediaBuyDefinition:
    """Validate a media buy definition (parsed JSON); raise MediaBuyInvalid naming each problem."""
    if problems := unstorable_text(data):
        raise MediaBuyInvalid(problems)
    try:
        return MediaBuyDefinition.model_validate(data)
    except ValidationError as error:
        raise MediaBuyInvalid(problems_of(error)) from None


def matches(utm: Utm, *, name: str | None, source: str | None, medium: str | None) -> bool:
    """Return whether an event's campaign tags are this buy's (names compared as sent, ignoring case)."""
    def same(wanted: str | None, found: str | None) -> bool:
        return wanted is None or (found is not None and wanted.casefold() == found.strip().casefold())

    return name is not None and same(utm.campaign, name) and same(utm.source, source) and same(utm.medium, medium)


@dataclass(frozen=True, slots=True)
class Touch:
    """A moment a customer was reached: by this buy (``ours``), by another buy, or by one of our messages."""

    at: datetime
    ours: bool


def credited(touches: Sequence[Touch], conversion: datetime, window: timedelta, model: str) -> bool:
    """Return whether a conversion at ``conversion`` is credited to the buy.

    Only touches within ``window`` before the conversion count. Last touch: the latest of them
    is the buy's. First touch: the earliest of them is the buy's. Ties between a touch of the
    buy and another at the same instant go to the buy only if no other touch shares it.
    """
    holding = sorted((t for t in touches if conversion - window <= t.at <= conversion), key=lambda t: t.at)
    if not holding:
        return False
    edge = holding[-1].at if model == LAST_TOUCH else holding[0].at
    at_edge = [t for t in holding if t.at == edge]
    return all(t.ours for t in at_edge)


def media_economics(costs: MediaCosts, *, responses: int, converted: int, revenue: float) -> dict[str, Any]:
    """Return the buy's cost and what it returned; a ratio with nothing to divide by is None."""
    total = costs.fixed + costs.per_click * responses + costs.per_thousand_impressions * costs.impressions / 1000
    return {
        "currency": costs.currency,
        "cost": total,
        "impressions": costs.impressions,
        "cost_per_response": total / responses if responses else None,
        "cost_per_conversion": total / converted if converted else None,
        "revenue": revenue,
        "roi": (revenue - total) / total if total else None,
        "response_rate": responses / costs.impressions if costs.impressions else None,
    }
