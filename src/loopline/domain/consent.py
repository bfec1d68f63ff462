"""Consent choices: which channels and statuses exist, and how a choice is validated."""

from __future__ import annotations

import re
from typing import Any

CHANNELS = ("email", "sms", "push", "in_app", "web_push")
STATUSES = ("opted_in", "opted_out")
TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
ALL_TOPICS = "all"


class ConsentRejected(ValueError):
    """A consent choice that cannot be recorded."""


def check_choice(choice: dict[str, Any]) -> dict[str, str]:
    """Return a normalised consent choice, or raise ConsentRejected saying what is wrong."""
    channel = choice.get("channel")
    if channel not in CHANNELS:
        raise ConsentRejected(f"channel must be one of {', '.join(CHANNELS)}")
    topic = choice.get("topic", ALL_TOPICS)
    if not isinstance(topic, str) or not TOPIC.match(topic):
        raise ConsentRejected("topic must be lowercase letters, digits, '_', '.' or '-' (≤ 100)")
    status = choice.get("status")
    if status not in STATUSES:
        raise ConsentRejected(f"status must be one of {', '.join(STATUSES)}")
    source = choice.get("source") or "api"
    if not isinstance(source, str) or len(source) > 100:
        raise ConsentRejected("source must be a short text")
    return {"channel": channel, "topic": topic, "status": status, "source": source}
