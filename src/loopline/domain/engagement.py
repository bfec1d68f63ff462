"""The events that record what a customer did with a message, per action and channel.

Delivery and tracking write these events onto the profile, naming the send they answer
by its send key; segments count them (``engagement`` conditions), journeys branch on them
(engagement with an earlier step's message) and reports measure campaigns by them.
"""

from __future__ import annotations

from typing import Literal

from loopline.domain import commerce

EngagementAction = Literal["received", "opened", "clicked"]
SEND_KEY = "send_key"
"""The property of an engagement event that names the send it answers (its ledger send key)."""

EMAIL_DELIVERED = "Email Delivered"
SMS_DELIVERED = "SMS Delivered"
SMS_CLICKED = "SMS Link Clicked"
IN_APP_VIEWED = "In-App Message Viewed"
IN_APP_CLICKED = "In-App Message Clicked"
IN_APP_DISMISSED = "In-App Message Dismissed"
WEB_PUSH_RECEIVED = "Web Push Received"
WEB_PUSH_CLICKED = "Web Push Clicked"
EMAIL_UNSUBSCRIBED = "Email Unsubscribed"

ENGAGEMENT_EVENTS: dict[str, dict[str, str]] = {
    "received": {
        "email": EMAIL_DELIVERED,
        "push": commerce.PUSH_RECEIVED,
        "sms": SMS_DELIVERED,
        "in_app": IN_APP_VIEWED,
        "web_push": WEB_PUSH_RECEIVED,
    },
    # An SMS has no open; a push is opened by tapping it, a web push by clicking it.
    "opened": {
        "email": commerce.EMAIL_OPENED,
        "push": commerce.PUSH_TAPPED,
        "in_app": IN_APP_VIEWED,
        "web_push": WEB_PUSH_CLICKED,
    },
    "clicked": {
        "email": commerce.EMAIL_CLICKED,
        "push": commerce.PUSH_TAPPED,
        "sms": SMS_CLICKED,
        "in_app": IN_APP_CLICKED,
        "web_push": WEB_PUSH_CLICKED,
    },
}


def engagement_events(action: str, channel: str | None) -> list[str]:
    """Return the event names that count as ``action`` on ``channel`` (every channel when None)."""
    by_channel = ENGAGEMENT_EVENTS[action]
    names = [by_channel[channel]] if channel is not None and channel in by_channel else (
        [] if channel is not None else list(by_channel.values())
    )
    return sorted(set(names))


def actions_of(event: str) -> set[str]:
    """Return the actions an engagement event counts as (a push tap is an open and a click)."""
    return {action for action, by_channel in ENGAGEMENT_EVENTS.items() if event in by_channel.values()}


def all_engagement_events() -> list[str]:
    """Return every event name that records engagement with a message."""
    return sorted({name for by_channel in ENGAGEMENT_EVENTS.values() for name in by_channel.values()})


def message_properties(*, send_key: str, channel: str, source_kind: str, source_id: str, step: str | None,
                       variant: str | None) -> dict[str, str]:
    """Return the properties every event about a message carries: its send, source, step and variant.

    ``campaign_id`` (or ``journey_id``) is what segments' engagement conditions filter on.
    """
    properties = {SEND_KEY: send_key, "channel": channel, "source_id": source_id}
    if source_kind == "campaign":
        properties["campaign_id"] = source_id
    elif source_kind == "journey":
        properties["journey_id"] = source_id
    if step:
        properties["step"] = step
    if variant:
        properties["variant"] = variant
    return properties
