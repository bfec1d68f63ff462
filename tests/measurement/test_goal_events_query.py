"""The goal events behind a campaign's conversions are the same on DuckDB and PostgreSQL, and the same as a
plain reading of the orders of the analytics test shop: the customers' orders, in the time range, matching
the metric's property filters, with their revenue as written."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from loopline.domain.segments.definition import PropertyFilter
from loopline.query.campaign_results import goal_events_sql
from tests.analytics.dataset import NOW, OTHER_WORKSPACE, WORKSPACE, build_dataset
from tests.segments.engines import ENGINES, Runner, dialect_of, engine_or_skip

SINCE, UNTIL = NOW - timedelta(days=60), NOW - timedelta(days=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


@cache
def _data():  # type: ignore[no-untyped-def]
    return build_dataset()


def _revenue(value: Any) -> float:
    """Read a revenue as the results do: a number, or a number written as text; anything else is 0."""
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _owned_orders(workspace_id: str) -> list[tuple[str, int, float, str | None]]:
    """Return (owner, epoch microseconds, revenue, currency) of the workspace's attributed orders."""
    data = _data()
    owner = {(row["kind"], row["value"]): row["profile_id"]
             for row in data.identities[data.identities["workspace_id"] == workspace_id].to_dict("records")}
    found = []
    for row in data.events[data.events["workspace_id"] == workspace_id].to_dict("records"):
        if row["event"] != "Order Completed":
            continue
        profile = owner.get(("user_id", row["user_id"])) if isinstance(row["user_id"], str) else None
        if profile is None and isinstance(row["anonymous_id"], str):
            profile = owner.get(("anonymous_id", row["anonymous_id"]))
        if profile is None:
            continue
        at = row["timestamp"].to_pydatetime().astimezone(UTC)
        properties = row["properties"] if isinstance(row["properties"], dict) else {}
        currency = properties.get("currency")
        found.append((profile, _micros(at), _revenue(properties.get("revenue")),
                      currency if isinstance(currency, str) else None))
    return found


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Runner]]:
    with engine_or_skip(request.param, _data()) as run:
        yield request.param, run


@pytest.mark.parametrize("currency", [None, "EUR"])
def test_goal_events_match_a_plain_reading_of_the_orders(engine: tuple[str, Runner], currency: str | None) -> None:
    name, run = engine
    dialect = dialect_of(name)
    since_us, until_us = _micros(SINCE), _micros(UNTIL)
    where = [PropertyFilter(property="currency", operator="eq", value=currency)] if currency else []  # type: ignore[arg-type]
    for workspace_id in (WORKSPACE, OTHER_WORKSPACE):
        orders = _owned_orders(workspace_id)
        customers = sorted({order[0] for order in orders})[::2]  # every other buyer: the list is honoured
        expected = sorted((p, at, revenue) for p, at, revenue, paid_in in orders
                          if p in customers and since_us <= at <= until_us and currency in (None, paid_in))
        sql = goal_events_sql(dialect, workspace_id=workspace_id, event="Order Completed", where=where,
                              profile_ids=customers, since=SINCE, until=UNTIL, revenue_property="revenue", now=NOW)
        found = sorted((str(p), int(at), _revenue(text)) for p, _seq, at, text in run(sql))
        assert found == expected, f"{name} {workspace_id} {currency}"
        if workspace_id == WORKSPACE:
            assert len(expected) > 10  # the case is not empty
            assert any(revenue == 0 for *_, revenue in expected)  # some orders carry no readable revenue
