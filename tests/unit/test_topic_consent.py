"""A topic of the catalogue that nobody gets by default needs the customer's own opt-in to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loopline.domain.contact_policy import Priority
from loopline.domain.recipients import Contact, Intent, Rules, choose

NOW = datetime(2026, 6, 15, 10, tzinfo=UTC)
RULES = Rules(opt_in_channels=frozenset(), opt_in_topics=frozenset({"offers"}))


def _outcome(consents: dict[tuple[str, str], str], *, topic: str = "offers",
             priority: Priority = Priority.MARKETING) -> tuple[str, str]:
    contact = Contact("p1", {"push": ["token-1"]}, consents)
    intent = Intent("sk1", "p1", ("push",), priority, "cmp_1", topic)
    outcome = choose(intent, contact, history=[], rules=RULES, now=NOW)
    return ("queued" if outcome.queued else "skipped"), outcome.reason


@pytest.mark.parametrize(("consents", "expected"), [
    ({}, ("skipped", "no_consent")),
    ({("push", "all"): "opted_in"}, ("skipped", "no_consent")),  # the channel, not the topic
    ({("push", "offers"): "opted_in"}, ("queued", "")),
    ({("push", "offers"): "opted_out"}, ("skipped", "unsubscribed")),
    ({("push", "all"): "opted_out", ("push", "offers"): "opted_in"}, ("queued", "")),
])
def test_an_opt_in_topic_goes_only_to_its_subscribers(consents, expected):
    assert _outcome(consents) == expected


def test_other_topics_and_transactional_messages_are_not_held_back():
    assert _outcome({}, topic="news") == ("queued", "")
    assert _outcome({}, priority=Priority.TRANSACTIONAL) == ("queued", "")
