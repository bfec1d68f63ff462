"""The journey machine: definitions that are refused, and walks through sends, waits, branches and splits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from loopline.domain.comparisons import matches
from loopline.domain.journeys import (
    MAX_STEP_VISITS,
    Facts,
    JourneyInvalid,
    Position,
    SendCommand,
    TraitCommand,
    advance,
    entry_terms,
    parse_journey,
    start,
)
from loopline.domain.segments.definition import Comparison

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
EMAIL = {"email": {"subject": "Your cart", "body": "Still thinking?"}}
CART = {
    "trigger": {"type": "event", "event": "Product Added"},
    "entry": {"rule": "every_time"},
    "steps": [
        {"id": "wait", "type": "wait", "minutes": 60,
         "until_event": {"event": "Order Completed"}, "next": "nudge", "on_event": "bought"},
        {"id": "nudge", "type": "send", "channels": ["email"], "content": EMAIL},
        {"id": "bought", "type": "exit"},
    ],
}


def test_cart_abandonment_sends_only_when_no_order_follows_within_the_hour():
    journey = parse_journey(CART)
    facts = Facts("p1")
    waiting = advance(journey, start(journey), facts, now=NOW)
    assert waiting.commands == []
    assert (waiting.position.step_id, waiting.position.wake_at) == ("wait", NOW + timedelta(hours=1))
    assert advance(journey, waiting.position, facts, now=NOW + timedelta(minutes=30)).position == waiting.position
    bought = advance(journey, waiting.position, facts, now=NOW + timedelta(minutes=40),
                     event=("Order Completed", {"revenue": 30}))
    assert (bought.commands, bought.position.done) == ([], "exited")
    abandoned = advance(journey, waiting.position, facts, now=NOW + timedelta(hours=1))
    assert abandoned.commands == [SendCommand("nudge", 2)]
    assert abandoned.position.done == "completed"


def test_branches_read_traits_and_splits_keep_each_customer_on_one_path():
    journey = parse_journey({
        "trigger": {"type": "segment_entered", "segment_id": "seg_inactive"},
        "steps": [
            {"id": "vip", "type": "branch", "then": "gift", "otherwise": "ab",
             "condition": {"source": "trait", "path": "tier", "test": {"operator": "eq", "value": "gold"}}},
            {"id": "gift", "type": "update_trait", "trait": "winback_gift", "value": True},
            {"id": "ab", "type": "split", "paths": [{"percent": 30, "next": "a"}, {"percent": 70, "next": "b"}]},
            {"id": "a", "type": "send", "channels": ["email"], "content": EMAIL},
            {"id": "b", "type": "send", "channels": ["email"], "content": EMAIL},
        ],
    })
    gold = advance(journey, start(journey), Facts("p1", traits={"tier": "gold"}), now=NOW)
    assert gold.commands == [TraitCommand("winback_gift", True)]
    paths = Counter()
    for n in range(2_000):
        walk = advance(journey, start(journey), Facts(f"p{n}"), now=NOW)
        (command,) = walk.commands
        again = advance(journey, start(journey), Facts(f"p{n}"), now=NOW)
        assert again.commands == walk.commands
        paths[command.step_id] += 1
    assert 500 <= paths["a"] <= 700


def test_a_wait_until_nine_in_the_morning_uses_the_customers_clock():
    journey = parse_journey({"trigger": {"type": "event", "event": "Signed Up"}, "steps": [
        {"id": "morning", "type": "wait", "until_local_time": "09:00", "next": "hello"},
        {"id": "hello", "type": "send", "channels": ["push"], "content": {"push": {"body": "Good morning"}}}]})
    tokyo = advance(journey, start(journey), Facts("p1", time_zone="Asia/Tokyo"), now=NOW)  # 19:00 in Tokyo
    assert tokyo.position.wake_at == datetime(2026, 6, 16, 0, 0, tzinfo=UTC)
    berlin = advance(journey, start(journey), Facts("p1", time_zone="Europe/Berlin"), now=NOW)  # 12:00 there
    assert berlin.position.wake_at == datetime(2026, 6, 16, 7, 0, tzinfo=UTC)


def test_a_loop_is_bounded_per_advance_and_over_a_life():
    journey = parse_journey({"trigger": {"type": "event", "event": "Ping"}, "steps": [
        {"id": "up", "type": "update_trait", "trait": "pings", "value": 1, "next": "up"}]})
    walked = advance(journey, start(journey), Facts("p1"), now=NOW)
    assert len(walked.commands) == 100
    assert walked.position.step_id == "up"  # resumes on the next advance, not in this one
    worn = advance(journey, Position("up", visits=MAX_STEP_VISITS), Facts("p1"), now=NOW)
    assert (worn.commands, worn.position.done) == ([], "step_limit")


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": [{"id": "a", "type": "send", "channels": ["email"], "content": EMAIL, "next": "nowhere"}]},
     "not a step"),
    ({"steps": [{"id": "a", "type": "exit"}, {"id": "a", "type": "exit"}]}, "differ"),
    ({"steps": [{"id": "w", "type": "wait", "until_event": {"event": "Order Completed"}}]}, "timeout"),
    ({"steps": [{"id": "s", "type": "send", "channels": ["sms"], "content": EMAIL}]}, "no content for sms"),
    ({"trigger": {"type": "segment_entered"}}, "segment_id"),
    ({"entry": {"rule": "once_per_days"}}, "days"),
    ({"entry": {"rule": "digest"}}, "digest journey starts with a wait"),
    ({"steps": [{"id": "s", "type": "split", "paths": [{"percent": 50}, {"percent": 40}]}]}, "100"),
])
def test_broken_definitions_are_refused_with_where_and_why(change, message):
    with pytest.raises(JourneyInvalid) as refused:
        parse_journey(CART | change)
    assert message in str(refused.value)
    assert refused.value.problems


def test_entry_terms_key_once_only_journeys_by_journey_and_others_by_trigger():
    once = parse_journey(CART | {"entry": {"rule": "once"}}).entry
    assert entry_terms(once, message_id="m1", now=NOW) == ("once", None)
    weekly = parse_journey(CART | {"entry": {"rule": "once_per_days", "days": 7}}).entry
    assert entry_terms(weekly, message_id="m1", now=NOW) == ("m1", NOW - timedelta(days=7))
    assert entry_terms(parse_journey(CART).entry, message_id="m2", now=NOW) == ("m2", None)


@pytest.mark.parametrize(("test", "value", "expected"), [
    ({"operator": "lt", "value": 10}, 9.5, True),
    ({"operator": "lt", "value": 10}, "12", False),
    ({"operator": "ne", "value": "gold"}, None, True),
    ({"operator": "in", "values": ["a", "b"]}, "b", True),
    ({"operator": "contains", "value": "shoe"}, "Running Shoes", True),
    ({"operator": "between", "low": "2026-06-01", "high": "2026-06-30"}, "2026-06-15T08:00:00Z", True),
    ({"operator": "within_next_days", "days": 3}, "2026-06-17", True),
    ({"operator": "within_next_days", "days": 3}, "2026-06-20", False),
    ({"operator": "anniversary_within_next_days", "days": 7}, "1990-06-20", True),
    ({"operator": "exists"}, None, False),
])
def test_comparisons_on_python_values(test, value, expected):
    assert matches(Comparison.model_validate(test), value, now=NOW) is expected


def test_a_threshold_can_be_each_customers_own_trait():
    journey = parse_journey({"trigger": {"type": "event", "event": "Balance Updated"}, "priority": "service",
                             "steps": [
        {"id": "low", "type": "branch", "then": "alert", "condition": {
            "source": "event", "path": "balance", "against_trait": "alert_threshold",
            "test": {"operator": "lt", "value": 20}}},
        {"id": "alert", "type": "send", "channels": ["push"], "content": {"push": {"body": "Balance low"}}}]})

    def alerts(balance: float, traits: dict[str, object]) -> bool:
        walk = advance(journey, start(journey), Facts("p1", traits=traits, event={"balance": balance}), now=NOW)
        return bool(walk.commands)

    assert alerts(40, {"alert_threshold": 50}) is True  # below their own threshold
    assert alerts(40, {"alert_threshold": 30}) is False
    assert alerts(15, {}) is True  # no threshold set: the default of 20
    assert alerts(25, {}) is False


def test_every_template_is_a_valid_journey_whose_templates_compile():
    from loopline.actions.messages import JOURNEY_NAMES
    from loopline.domain.journey_templates import templates
    from loopline.domain.templates import compile_template

    found = templates({"win_back": "seg_inactive", "classified_ad_expiring": "seg_ads"})
    assert {t.key for t in found} == {"welcome_series", "cart_abandonment", "low_balance_alert", "win_back",
                                      "classified_ad_expiring", "product_recall"}
    for template in found:
        journey = parse_journey(template.definition)
        for step in journey.steps:
            for content in getattr(step, "content", {}).values():
                for source in (content.subject, content.body):
                    if source:
                        compile_template(source, allowed_names=JOURNEY_NAMES)
        walked = advance(journey, start(journey), Facts("p1", event={"balance": 3}), now=NOW)
        assert walked.commands or walked.position.wake_at is not None, template.key


def test_an_advance_names_each_link_it_follows_and_none_while_it_waits():
    journey = parse_journey(CART)
    arrived = advance(journey, start(journey), Facts("p1"), now=NOW)
    assert arrived.moves == []  # arriving at the wait follows no link yet
    timed_out = advance(journey, arrived.position, Facts("p1"), now=NOW + timedelta(minutes=61))
    assert timed_out.moves == [("wait", "nudge"), ("nudge", None)]  # the send step is the path's last
    bought = advance(journey, arrived.position, Facts("p1"), now=NOW + timedelta(minutes=5),
                     event=("Order Completed", {}))
    assert bought.moves == [("wait", "bought")]  # an exit step ends the walk without a link out of it
    assert bought.position.done == "exited"
