"""A segment definition in words, for people reading it in the console.

Works on the definition's JSON (as stored, already validated), so that what the page says is
exactly what was saved. Groups become indented lines; every other condition is one sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_OPERATORS = {
    "eq": "is", "ne": "is not", "lt": "is less than", "lte": "is at most", "gt": "is more than",
    "gte": "is at least", "contains": "contains", "in": "is one of", "not_in": "is none of",
    "exists": "is set", "not_exists": "is not set", "between": "is between",
    "within_next_days": "is within the next", "within_last_days": "is within the last",
    "anniversary_within_next_days": "has its anniversary within the next",
}
_COUNTS = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}
_ACTIVITIES = {"session": "no session", "purchase": "no purchase"}
_GROUPS = {"and": "All of these hold:", "or": "At least one of these holds:"}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a definition in words, indented by ``depth``."""

    depth: int
    text: str


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"“{value}”"
    return str(value)


def _plural(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def comparison(subject: str, condition: Mapping[str, Any]) -> str:
    """Return ``subject`` compared as the condition says: ``trait plan is “pro”``."""
    operator = str(condition.get("operator", ""))
    verb = _OPERATORS.get(operator, operator)
    if operator in ("exists", "not_exists"):
        return f"{subject} {verb}"
    if operator in ("in", "not_in"):
        return f"{subject} {verb} {', '.join(_value(v) for v in condition.get('values') or [])}"
    if operator == "between":
        return f"{subject} {verb} {_value(condition.get('low'))} and {_value(condition.get('high'))}"
    if "days" in condition and operator.endswith("_days"):
        return f"{subject} {verb} {_plural(int(condition['days']), 'day')}"
    return f"{subject} {verb} {_value(condition.get('value'))}"


def window(found: Mapping[str, Any] | None) -> str:
    """Return when, in words: ``in the last 30 days``, ``since 2026-05-01``, or ``ever``."""
    if not found:
        return "ever"
    if found.get("last_days") is not None:
        return f"in the last {_plural(int(found['last_days']), 'day')}"
    since, until = found.get("since"), found.get("until")
    if since and until:
        return f"between {since} and {until}"
    return f"since {since}" if since else f"until {until}"


def _count(count: Mapping[str, Any] | None) -> tuple[str, int]:
    """Return a count's words and number, from its full form or its shorthand (``{"exactly": 0}``)."""
    count = count or {}
    if len(count) == 1 and next(iter(count)) in _COUNTS:
        ((operator, value),) = count.items()
    else:
        operator, value = count.get("operator", "at_least"), count.get("value", 1)
    return _COUNTS.get(str(operator), str(operator)), int(value)


def times(count: Mapping[str, Any] | None) -> str:
    """Return how many times, in words: ``at least 1 time``."""
    operator, value = _count(count)
    return f"{operator} {_plural(value, 'time')}"


def _filters(where: list[Mapping[str, Any]] | None) -> str:
    if not where:
        return ""
    return " where " + " and ".join(comparison(str(item.get("property")), item) for item in where)


def _step(step: Mapping[str, Any]) -> str:
    return f"“{step.get('event')}”{_filters(step.get('where'))}"


def _trait(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return comparison(f"trait {condition.get('trait')}", condition)


def _computed(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return comparison(str(condition.get("property", "")).replace("_", " "), condition)


def _device(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    if condition.get("field") == "has_push_token":
        has = condition.get("value") is True
        has = has if condition.get("operator") == "eq" else not has
        return "has a device with a push token" if has else "has no device with a push token"
    return comparison(f"a device's {str(condition.get('field')).replace('_', ' ')}", condition)


def _performed(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return (f"did “{condition.get('event')}”{_filters(condition.get('where'))} {times(condition.get('count'))} "
            f"{window(condition.get('window'))}")


def _sequence(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    then = "did not do" if condition.get("then_absent") else "then did"
    scope = window(condition.get("window"))
    return (f"did {_step(condition.get('first') or {})}, {then} {_step(condition.get('then') or {})} "
            f"within {_plural(int(condition.get('within_minutes', 0)), 'minute')}"
            + ("" if scope == "ever" else f", {scope}"))


def _inactive(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    what = _ACTIVITIES.get(str(condition.get("activity")), f"no “{condition.get('event')}”")
    return f"{what} for {_plural(int(condition.get('days', 0)), 'day')}"


def _reachable(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    topic = condition.get("topic", "all")
    return f"can be reached by {condition.get('channel')}" + ("" if topic == "all" else f" about “{topic}”")


def _in_segment(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    segment_id = str(condition.get("segment_id"))
    return f"is in the segment “{names.get(segment_id, segment_id)}”"


def sentence(condition: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """Return one condition that is not a group as a sentence; ``names`` are segment names by id."""
    kind = str(condition.get("type"))
    describe = _SENTENCES.get(kind)
    return describe(condition, names or {}) if describe else kind


def _location(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    parts = []
    if condition.get("country"):
        parts.append(f"country {str(condition['country']).upper()}")
    if condition.get("region"):
        parts.append(f"region “{condition['region']}”")
    if condition.get("postal_code"):
        parts.append(f"postal code “{condition['postal_code']}”")
    near = condition.get("near")
    if near:
        parts.append(f"within {near.get('radius_km')} km of {near.get('latitude')}, {near.get('longitude')}")
    return "was last seen in " + ", ".join(parts)


def _engagement(condition: Mapping[str, Any], names: Mapping[str, str]) -> str:
    channel = condition.get("channel")
    source = f"campaign {condition['campaign_id']}'s messages" if condition.get("campaign_id") else "messages"
    if channel:
        source = f"{channel} {source}"
    action = condition.get("action")
    if condition.get("of_last") is not None:
        operator, value = _count(condition.get("count"))
        return (f"{action} {operator} {value} of their last {condition['of_last']} "
                f"{channel} messages")
    return f"{action} {source} {times(condition.get('count'))} {window(condition.get('window'))}"


_SENTENCES: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], str]] = {
    "trait": _trait, "computed": _computed, "device": _device, "performed": _performed, "sequence": _sequence,
    "inactive": _inactive, "location": _location, "reachable": _reachable, "engagement": _engagement,
    "in_segment": _in_segment,
}


def lines(condition: Mapping[str, Any], names: Mapping[str, str] | None = None, depth: int = 0) -> list[Line]:
    """Return a condition as indented lines: one per group heading and one per other condition."""
    kind = condition.get("type")
    if kind in _GROUPS:
        found = [Line(depth, _GROUPS[str(kind)])]
        for child in condition.get("conditions") or []:
            found += lines(child, names, depth + 1)
        return found
    if kind == "not":
        inner = condition.get("condition") or {}
        if inner.get("type") in _GROUPS or inner.get("type") == "not":
            return [Line(depth, "None of this holds:"), *lines(inner, names, depth + 1)]
        return [Line(depth, "not: " + sentence(inner, names))]
    return [Line(depth, sentence(condition, names))]


def in_words(condition: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """Return a condition in one line of words, groups in brackets."""
    kind = condition.get("type")
    if kind in _GROUPS:
        joiner = " and " if kind == "and" else " or "
        parts = [in_words(child, names) for child in condition.get("conditions") or []]
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    if kind == "not":
        return "not " + in_words(condition.get("condition") or {}, names)
    return sentence(condition, names)
