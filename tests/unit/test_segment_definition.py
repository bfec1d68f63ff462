"""The segment definition language: every condition type parses, and invalid ones say where and why."""

from __future__ import annotations

from typing import Any

import pytest

from loopline.domain.segments.definition import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    And,
    Not,
    Operator,
    Performed,
    SegmentDefinition,
    SegmentInvalid,
    Sequence,
    Trait,
    parse_segment,
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "trait": {"type": "trait", "trait": "city", "operator": "eq", "value": "Berlin"},
    "trait_in": {"type": "trait", "trait": "tier", "operator": "in", "values": ["gold", "silver"]},
    "trait_between": {"type": "trait", "trait": "age", "operator": "between", "low": 18, "high": 30},
    "trait_exists": {"type": "trait", "trait": "email", "operator": "exists"},
    "birthday": {"type": "trait", "trait": "birthday", "operator": "anniversary_within_next_days", "days": 7},
    "expiry": {"type": "trait", "trait": "ad_expires_at", "operator": "within_next_days", "days": 3},
    "computed": {"type": "computed", "property": "net_revenue", "operator": "gt", "value": 100},
    "performed": {"type": "performed", "event": "Order Completed",
                  "where": [{"property": "category", "operator": "eq", "value": "shoes"}],
                  "count": {"operator": "at_least", "value": 2}, "window": {"last_days": 30}},
    "never": {"type": "performed", "event": "Application Installed", "count": {"operator": "exactly", "value": 0}},
    "between_dates": {"type": "performed", "event": "Product Viewed",
                      "window": {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}},
    "cart_abandonment": {"type": "sequence", "first": {"event": "Product Added"},
                         "then": {"event": "Order Completed"}, "within_minutes": 60, "then_absent": True},
    "no_session": {"type": "inactive", "activity": "session", "days": 7},
    "no_named_event": {"type": "inactive", "activity": "event", "event": "Email Opened", "days": 90},
    "device": {"type": "device", "field": "platform", "operator": "eq", "value": "ios"},
    "push_token": {"type": "device", "field": "has_push_token", "operator": "eq", "value": True},
    "country": {"type": "location", "country": "DE"},
    "radius": {"type": "location", "near": {"latitude": 52.52, "longitude": 13.4, "radius_km": 25}},
    "reachable": {"type": "reachable", "channel": "email", "topic": "newsletter"},
    "engagement": {"type": "engagement", "action": "received", "count": {"operator": "at_least", "value": 5},
                   "window": {"last_days": 7}},
    "member": {"type": "in_segment", "segment_id": "seg_vip"},
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_condition_type_parses_and_round_trips(name: str) -> None:
    definition = parse_segment({"name": name, "condition": EXAMPLES[name]})
    again = parse_segment(definition.model_dump(mode="json"))
    assert again == definition
    assert definition.version == 1


def test_conditions_nest_freely() -> None:
    definition = parse_segment({"name": "win-back", "condition": {"type": "and", "conditions": [
        EXAMPLES["no_session"],
        {"type": "or", "conditions": [EXAMPLES["computed"], EXAMPLES["performed"]]},
        {"type": "not", "condition": EXAMPLES["member"]},
    ]}})
    root = definition.condition
    assert isinstance(root, And)
    assert isinstance(root.conditions[2], Not)
    performed = root.conditions[1].conditions[1]  # type: ignore[union-attr]
    assert isinstance(performed, Performed)
    assert performed.where[0].operator is Operator.EQ
    assert isinstance(parse_segment({"name": "s", "condition": EXAMPLES["cart_abandonment"]}).condition, Sequence)


def _problems(data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(SegmentInvalid) as caught:
        parse_segment(data)
    return caught.value.problems


@pytest.mark.parametrize(("condition", "path", "says"), [
    ({"type": "trait", "trait": "age", "operator": "between", "value": 3}, "condition", "takes high and low"),
    ({"type": "trait", "trait": "tier", "operator": "in", "value": "gold"}, "condition", "takes values"),
    ({"type": "trait", "trait": "email", "operator": "exists", "value": 1}, "condition", "takes no operand"),
    ({"type": "trait", "trait": "name", "operator": "contains", "value": 3}, "condition", "value must be a string"),
    ({"type": "trait", "trait": "", "operator": "eq", "value": 1}, "condition.trait", "at least 1 character"),
    ({"type": "trait", "trait": "x", "operator": "like", "value": 1}, "condition.operator", "Input should be"),
    ({"type": "computed", "property": "shoe_size", "operator": "eq", "value": 1}, "condition.property", "Input"),
    ({"type": "performed", "event": "X", "window": {"last_days": 0}}, "condition.window.last_days", "greater"),
    ({"type": "performed", "event": "X", "window": {"last_days": 3, "since": "2026-01-01T00:00:00Z"}},
     "condition.window", "either last_days or since/until"),
    ({"type": "performed", "event": "X", "window": {"since": "2026-01-01T00:00:00"}}, "condition.window",
     "needs a time zone"),
    ({"type": "performed", "event": "X", "window": {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}},
     "condition.window", "since must be before until"),
    ({"type": "inactive", "activity": "event", "days": 3}, "condition", "name the event"),
    ({"type": "location"}, "condition", "needs country, region, postal_code or near"),
    ({"type": "location", "near": {"latitude": 95, "longitude": 0, "radius_km": 1}}, "condition.near.latitude",
     "less than or equal"),
    ({"type": "reachable", "channel": "fax"}, "condition.channel", "Input should be"),
    ({"type": "reachable", "channel": "email", "topic": "Bad Topic"}, "condition.topic", "should match"),
    ({"type": "nope"}, "condition", "does not match any of the expected tags"),
    ({"type": "trait", "trait": "x", "operator": "eq", "value": 1, "extra": True}, "condition.extra",
     "Extra inputs"),
    ({"type": "and", "conditions": [{"type": "trait", "trait": "t", "operator": "eq"}]}, "condition.conditions.0",
     "takes value"),
])
def test_invalid_conditions_say_where_and_why(condition: dict[str, Any], path: str, says: str) -> None:
    problems = _problems({"name": "broken", "condition": condition})
    assert any(p["path"] == path and says in p["message"] for p in problems), problems


def test_the_version_name_and_size_are_checked() -> None:
    assert _problems({"version": 2, "name": "s", "condition": EXAMPLES["member"]})[0]["path"] == "version"
    assert _problems({"condition": EXAMPLES["member"]})[0]["path"] == "name"
    deep: dict[str, Any] = EXAMPLES["member"]
    for _ in range(MAX_DEPTH):
        deep = {"type": "not", "condition": deep}
    assert "nest" in _problems({"name": "deep", "condition": deep})[0]["message"]
    wide = {"type": "or", "conditions": [
        {"type": "and", "conditions": [EXAMPLES["member"]] * 40} for _ in range(MAX_CONDITIONS // 40 + 1)]}
    assert f"at most {MAX_CONDITIONS}" in _problems({"name": "wide", "condition": wide})[0]["message"]
    with pytest.raises(SegmentInvalid):
        parse_segment("not an object")


def test_a_field_named_like_a_condition_type_keeps_its_path() -> None:
    problems = _problems({"name": "s", "condition": {"type": "trait", "trait": 5, "operator": "eq", "value": 1}})
    assert problems[0]["path"] == "condition.trait"
    assert isinstance(SegmentDefinition.model_validate(
        {"name": "s", "condition": EXAMPLES["trait"]}).condition, Trait)


def test_text_no_store_can_hold_is_refused_with_its_place():
    with pytest.raises(SegmentInvalid) as caught:
        parse_segment({"name": "lone \ud800", "condition": {
            "type": "performed", "event": "A", "where": [{"property": "p\x00", "operator": "exists"}]}})
    assert [problem["path"] for problem in caught.value.problems] == ["name", "condition.where.0.property"]
