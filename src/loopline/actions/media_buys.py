"""Media buys: saving them, and measuring what their UTM-tagged traffic returned against what they cost.

A buy's results are computed on request. Its touches are the events tagged with its UTM
campaign within its period, anonymous visitors' included (each has a profile of their own,
merged into the customer's when they sign in). For the people among them, the goal events
within the success metric's window after a touch are read, with every other touch of theirs
— other campaigns' UTM-tagged events and our own messages sent to them — so a conversion
goes to the buy only when the buy holds the last (or the first) touch before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ulid import ULID

from loopline.actions.mart import do_sync_mart
from loopline.domain.economics import revenue_of
from loopline.domain.media_buys import (
    FIRST_TOUCH,
    LAST_TOUCH,
    MediaBuyDefinition,
    MediaBuyInvalid,
    Touch,
    credited,
    matches,
    media_economics,
    parse_media_buy,
)
from loopline.domain.segments.definition import problems_of
from loopline.query.campaign_results import CHUNK, goal_events_sql
from loopline.query.media_buys import buy_touches_sql, customer_touches_sql
from loopline.services import Services
from loopline.store.sql.media_buys import MediaBuyNameTaken, MediaBuyRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ATTRIBUTION_MODELS = (LAST_TOUCH, FIRST_TOUCH)


class MediaBuyRejected(ValueError):
    """A media buy that cannot be saved: a machine-readable code, a message, and the problems found."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.problems = code, message, problems or []


class MediaBuyNotFound(LookupError):
    """No media buy with that id in this workspace."""


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any]


def _checked(data: Any) -> tuple[str, MediaBuyDefinition]:
    try:
        write = _Write.model_validate(data)
    except ValidationError as error:
        raise MediaBuyRejected("invalid_media_buy", "the media buy is not valid", problems_of(error)) from None
    try:
        return write.name.strip(), parse_media_buy(write.definition)
    except MediaBuyInvalid as error:
        problems = [{"path": f"definition.{p['path']}" if p["path"] else "definition", "message": p["message"]}
                    for p in error.problems]
        raise MediaBuyRejected("invalid_media_buy", str(error), problems) from None


def do_create_media_buy(services: Services, *, workspace_id: str, data: Any) -> MediaBuyRow:
    """Save a new media buy."""
    name, definition = _checked(data)
    now = services.clock.now()
    row = MediaBuyRow(id="mb_" + str(ULID()).lower(), workspace_id=workspace_id, name=name,
                      definition=definition.model_dump(mode="json"), created_at=now, updated_at=now)
    try:
        services.media_buys.create(row)
    except MediaBuyNameTaken:
        raise MediaBuyRejected("name_taken", f"a media buy named {name!r} already exists") from None
    return row


def do_update_media_buy(services: Services, *, workspace_id: str, media_buy_id: str, data: Any) -> MediaBuyRow:
    """Replace a media buy's name and definition (costs come in as the publisher reports them)."""
    name, definition = _checked(data)
    try:
        row = services.media_buys.replace(workspace_id=workspace_id, media_buy_id=media_buy_id, name=name,
                                          definition=definition.model_dump(mode="json"), now=services.clock.now())
    except MediaBuyNameTaken:
        raise MediaBuyRejected("name_taken", f"a media buy named {name!r} already exists") from None
    if row is None:
        raise MediaBuyNotFound(media_buy_id)
    return row


def do_delete_media_buy(services: Services, *, workspace_id: str, media_buy_id: str) -> None:
    """Remove a media buy (the events it brought stay on the customers' timelines)."""
    if not services.media_buys.delete(workspace_id=workspace_id, media_buy_id=media_buy_id):
        raise MediaBuyNotFound(media_buy_id)


def get_media_buy(services: Services, *, workspace_id: str, media_buy_id: str) -> MediaBuyRow:
    """Return a media buy of the workspace; raise MediaBuyNotFound otherwise (another workspace's too)."""
    row = services.media_buys.get(workspace_id=workspace_id, media_buy_id=media_buy_id)
    if row is None:
        raise MediaBuyNotFound(media_buy_id)
    return row


def media_buy_results(services: Services, *, workspace_id: str, media_buy_id: str,
                      attribution: str = LAST_TOUCH) -> dict[str, Any]:
    """Return the buy's responses, the conversions and revenue credited to it, and its cost and ROI."""
    if attribution not in ATTRIBUTION_MODELS:
        raise ValueError(f"unknown attribution model {attribution!r}")
    row = get_media_buy(services, workspace_id=workspace_id, media_buy_id=media_buy_id)
    buy = MediaBuyDefinition.model_validate(row.definition)
    metric = buy.success_metric
    window = timedelta(days=metric.within_days)
    now = services.clock.now()
    until = min(buy.ends_at, now) if buy.ends_at is not None else now
    do_sync_mart(services)  # so that recent events have their owner
    mart = services.mart
    timeout = services.settings.segment_query_timeout_s
    responses = 0
    ours: dict[str, list[datetime]] = defaultdict(list)
    sql = buy_touches_sql(mart.dialect, workspace_id=workspace_id, campaign_name=buy.utm.campaign,
                          since=buy.starts_at, until=until)
    for owner, epoch_us, name, source, medium in mart.fetch(sql + mart.dialect.settings, timeout_s=timeout):
        if not matches(buy.utm, name=name, source=source, medium=medium):
            continue
        responses += 1
        if owner is not None:  # an event nobody owns yet (the mart has not placed it) is still a response
            ours[str(owner)].append(_instant(epoch_us))

    converted, conversions, revenue = 0, 0, 0.0
    for chunk in _chunks(sorted(ours)):
        touches = _touches(services, workspace_id, buy, chunk, ours=ours, window=window)
        first = min(at for profile_id in chunk for at in ours[profile_id])
        last = max(at for profile_id in chunk for at in ours[profile_id])
        goals_sql = goal_events_sql(mart.dialect, workspace_id=workspace_id, event=metric.event, where=metric.where,
                                    profile_ids=chunk, since=first, until=last + window,
                                    revenue_property=metric.revenue_property, now=now)
        won: set[str] = set()
        for profile_id, _seq, epoch_us, value in mart.fetch(goals_sql + mart.dialect.settings, timeout_s=timeout):
            if credited(touches[str(profile_id)], _instant(epoch_us), window, attribution):
                won.add(str(profile_id))
                conversions += 1
                revenue += revenue_of(value)
        converted += len(won)

    return {
        "media_buy_id": row.id,
        "name": row.name,
        "channel": buy.channel,
        "utm": buy.utm.model_dump(mode="json"),
        "period": {"starts_at": buy.starts_at.isoformat(), "until": until.isoformat()},
        "success_metric": metric.model_dump(mode="json"),
        "attribution": {"model": attribution, "within_days": metric.within_days, "measured_from": "touch",
                        "touches": "utm_tagged_events_and_messages_sent"},
        "responses": responses,
        "people_reached": len(ours),
        "converted": converted,
        "conversions": conversions,
        "revenue": revenue,
        "costs": media_economics(buy.costs, responses=responses, converted=converted, revenue=revenue),
    }


def _touches(services: Services, workspace_id: str, buy: MediaBuyDefinition, chunk: list[str], *,
             ours: dict[str, list[datetime]], window: timedelta) -> dict[str, list[Touch]]:
    """Return every touch of the customers around the buy's: theirs, other campaigns' tags, our messages."""
    mart = services.mart
    since = min(at for profile_id in chunk for at in ours[profile_id]) - window
    until = max(at for profile_id in chunk for at in ours[profile_id]) + window
    found: dict[str, list[Touch]] = defaultdict(list)
    for profile_id in chunk:
        found[profile_id].extend(Touch(at, ours=True) for at in ours[profile_id])
    sql = customer_touches_sql(mart.dialect, workspace_id=workspace_id, profile_ids=chunk, since=since, until=until)
    for owner, epoch_us, name, source, medium in mart.fetch(
            sql + mart.dialect.settings, timeout_s=services.settings.segment_query_timeout_s):
        if not matches(buy.utm, name=name, source=source, medium=medium):
            found[str(owner)].append(Touch(_instant(epoch_us), ours=False))
    for profile_id, sent_at in services.send_ledger.sent_elsewhere(
            workspace_id=workspace_id, profile_ids=chunk, other_than="", since=since, until=until):
        found[profile_id].append(Touch(sent_at, ours=False))
    return found


def _instant(epoch_us: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(epoch_us))


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]

