"""One comparison of the segment language, evaluated on a Python value (journey filters and branches).

Segments compile comparisons to SQL; journeys decide about one event or one profile at a
time, so they evaluate the same comparisons here. The rules are the compiler's: numbers
compare as numbers and dates (2026-05-01, 2026-05-01T09:30:00Z) as instants; a negative
operator (``ne``, ``not_in``, ``not_exists``) is the complement of its positive one, so a
missing value is "not equal" to anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from loopline.domain.segments.definition import NEGATIVE, Comparison, Operator, parse_date


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """Return the value at a dotted path (``product.category``), or None when any part is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def matches(comparison: Comparison, value: Any, *, now: datetime) -> bool:
    """Return whether ``value`` satisfies the comparison."""
    operator = comparison.operator
    if operator in NEGATIVE:
        positive = comparison.model_copy(update={"operator": NEGATIVE[operator]})
        return not matches(positive, value, now=now)
    if operator is Operator.EXISTS:
        return value is not None
    if value is None:
        return False
    check = _CHECKS.get(operator)
    return check(comparison, value) if check is not None else _relative(operator, value, comparison.days or 0, now)


def _between(comparison: Comparison, value: Any) -> bool:
    low, high, actual = _ordered(comparison.low, value), _ordered(comparison.high, value), _key(value)
    return None not in (low, high, actual) and bool(low <= actual <= high)


def _ordering(operator: Operator) -> Any:
    def check(comparison: Comparison, value: Any) -> bool:
        bound, actual = _ordered(comparison.value, value), _key(value)
        if bound is None or actual is None:
            return False
        return bool({Operator.LT: actual < bound, Operator.LTE: actual <= bound,
                     Operator.GT: actual > bound, Operator.GTE: actual >= bound}[operator])

    return check


def _key(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        parsed = parse_date(value)
        if parsed is not None:
            return parsed
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _ordered(operand: Any, value: Any) -> Any:
    key = _key(operand)
    actual = _key(value)
    if key is None or actual is None or type(key) is not type(actual):
        return None
    return key


def _same(value: Any, operand: Any) -> bool:
    if isinstance(operand, bool) or isinstance(value, bool):
        return value is operand
    if isinstance(operand, int | float) and isinstance(value, int | float | str):
        return bool(_key(value) == float(operand))
    return str(value) == str(operand)


_CHECKS: dict[Operator, Any] = {
    Operator.EQ: lambda comparison, value: _same(value, comparison.value),
    Operator.IN: lambda comparison, value: any(_same(value, option) for option in comparison.values or ()),
    Operator.CONTAINS: lambda comparison, value: isinstance(value, str)
    and str(comparison.value).lower() in value.lower(),
    Operator.BETWEEN: _between,
    **{operator: _ordering(operator) for operator in (Operator.LT, Operator.LTE, Operator.GT, Operator.GTE)},
}


def _relative(operator: Operator, value: Any, days: int, now: datetime) -> bool:
    when = parse_date(value) if isinstance(value, str) else None
    if when is None:
        return False
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if operator is Operator.WITHIN_NEXT_DAYS:
        return now <= when <= now + timedelta(days=days)
    if operator is Operator.WITHIN_LAST_DAYS:
        return now - timedelta(days=days) <= when <= now
    # The next anniversary of a date (a birthday), this year or next.
    for year in (now.year, now.year + 1):
        try:
            candidate = when.replace(year=year)
        except ValueError:  # 29 February outside a leap year: the day after
            candidate = when.replace(year=year, month=3, day=1)
        if now.date() <= candidate.date() <= (now + timedelta(days=days)).date():
            return True
    return False
