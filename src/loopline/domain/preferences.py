"""The preference center: its signed links, what it shows a customer, and which choices a saved form makes.

A link names the workspace and the customer, with an HMAC-SHA256 over both under a key only
the server holds (a sibling of the unsubscribe links, with its own version tag and key), so it
cannot be turned onto another customer or workspace and needs no login.

What a box shows: the customer's own choice for that topic and channel; else unticked when
they left the whole channel, or when the channel needs an opt-in they never gave (a box ticked
in advance is no consent); else the topic's default. Saving records a choice only for the boxes
the customer changed: what they did not touch stays as it was, defaults included.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopline.domain.consent import ALL_TOPICS, CHANNELS
from loopline.domain.signed_fields import BadToken, read_fields, sign_fields
from loopline.domain.topics import TopicDefinition

VERSION = "p1"
MAX_TOKEN = 1_000
OPTED_IN, OPTED_OUT = "opted_in", "opted_out"
SOURCE = "preference_center"
CHANNEL_NAMES = {"email": "Email", "sms": "Text messages", "push": "Push notifications", "in_app": "In the app",
                 "web_push": "Browser notifications"}
assert set(CHANNEL_NAMES) == set(CHANNELS)


class BadPreferenceLink(ValueError):
    """A link that was not written by this server, or was altered."""


@dataclass(frozen=True, slots=True)
class PreferenceLink:
    """Whose preferences a link opens."""

    workspace_id: str
    profile_id: str


def token_for(key: bytes, link: PreferenceLink) -> str:
    """Return the signed, URL-safe token of ``link``."""
    return sign_fields(key, VERSION, [link.workspace_id, link.profile_id])


def read_token(key: bytes, token: str) -> PreferenceLink:
    """Return whose preferences a token opens; raise BadPreferenceLink unless this key signed exactly it."""
    try:
        fields = read_fields(key, VERSION, token, count=2, max_length=MAX_TOKEN)
    except BadToken as error:
        raise BadPreferenceLink(f"this preferences link {error.says}") from None
    return PreferenceLink(*fields)


Consents = Mapping[tuple[str, str], str]  # (channel, topic) → opted_in / opted_out


def box_name(topic: str, channel: str) -> str:
    """Return the form field of one box (``:`` appears in neither a topic key nor a channel)."""
    return f"{channel}:{topic}"


def leave_name(channel: str) -> str:
    """Return the form field of a channel's "unsubscribe from everything" box."""
    return f"{channel}:{ALL_TOPICS}"


def subscribed(consents: Consents, topic: TopicDefinition, channel: str, opt_in_channels: Collection[str]) -> bool:
    """Return whether the box of ``topic`` on ``channel`` shows ticked."""
    own = consents.get((channel, topic.key))
    if own is not None:
        return own == OPTED_IN
    whole = consents.get((channel, ALL_TOPICS))
    if whole == OPTED_OUT or (channel in opt_in_channels and whole != OPTED_IN):
        return False
    return topic.default_status == OPTED_IN


def channels_of(topics: Sequence[TopicDefinition]) -> list[str]:
    """Return the channels any topic is sent on, in the platform's order."""
    used = {channel for topic in topics for channel in topic.channels}
    return [channel for channel in CHANNELS if channel in used]


def preference_grid(topics: Sequence[TopicDefinition], consents: Consents,
                    opt_in_channels: Collection[str]) -> dict[str, Any]:
    """Return what the page shows: a row per topic with a box per channel, and a "leave" box per channel."""
    channels = channels_of(topics)
    rows = [{"key": topic.key, "label": topic.label, "description": topic.description,
             "boxes": [{"channel": channel, "name": box_name(topic.key, channel),
                        "offered": channel in topic.channels,
                        "checked": channel in topic.channels and subscribed(consents, topic, channel,
                                                                            opt_in_channels)}
                       for channel in channels]}
            for topic in topics]
    leave = [{"channel": channel, "label": CHANNEL_NAMES[channel], "name": leave_name(channel),
              "checked": consents.get((channel, ALL_TOPICS)) == OPTED_OUT} for channel in channels]
    return {"channels": [{"channel": channel, "label": CHANNEL_NAMES[channel]} for channel in channels],
            "topics": rows, "leave": leave}


def shown_boxes(topics: Sequence[TopicDefinition], consents: Consents,
                opt_in_channels: Collection[str]) -> dict[str, bool]:
    """Return every box the page shows, by name, and whether it shows ticked."""
    grid = preference_grid(topics, consents, opt_in_channels)
    boxes = {box["name"]: box["checked"] for row in grid["topics"] for box in row["boxes"] if box["offered"]}
    return boxes | {box["name"]: box["checked"] for box in grid["leave"]}


def toggled(topics: Sequence[TopicDefinition], consents: Consents, opt_in_channels: Collection[str],
            ticked: Collection[str]) -> list[str]:
    """Return the boxes whose submitted state differs from what the page showed: what the customer changed."""
    return [name for name, checked in shown_boxes(topics, consents, opt_in_channels).items()
            if (name in ticked) != checked]


def choices_from_form(topics: Sequence[TopicDefinition], consents: Consents, opt_in_channels: Collection[str],
                      ticked: Collection[str]) -> list[dict[str, str]]:
    """Return the consent choices a submitted form makes: one for each box the customer changed.

    ``ticked`` holds the names of the boxes that came back ticked (an unticked box sends
    nothing). A newly ticked "leave" box opts the customer out of the whole channel, and out of
    each of its topics they had opted in to: a topic's own opt-in would otherwise still let it
    through. Unticking it opts them in to the channel again, as a choice of their own.
    """
    wanted: dict[tuple[str, str], str] = {}
    for name in toggled(topics, consents, opt_in_channels, ticked):
        channel, _, key = name.partition(":")
        if key != ALL_TOPICS:
            wanted[(channel, key)] = OPTED_IN if name in ticked else OPTED_OUT
        elif name in ticked:
            wanted[(channel, ALL_TOPICS)] = OPTED_OUT
        else:
            wanted[(channel, ALL_TOPICS)] = OPTED_IN
    for channel in channels_of(topics):
        if wanted.get((channel, ALL_TOPICS)) == OPTED_OUT or (
                leave_name(channel) in ticked and (channel, ALL_TOPICS) not in wanted):
            for topic in topics:  # leaving a channel wins over any box of it ticked in the same form
                if channel in topic.channels and consents.get((channel, topic.key)) == OPTED_IN:
                    wanted[(channel, topic.key)] = OPTED_OUT
                elif channel in topic.channels:
                    wanted.pop((channel, topic.key), None)
    return [{"channel": channel, "topic": key, "status": status, "source": SOURCE}
            for (channel, key), status in sorted(wanted.items()) if consents.get((channel, key)) != status]
