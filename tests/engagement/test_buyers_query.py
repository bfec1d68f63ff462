"""The recall audience — who bought a product — is the same on DuckDB, PostgreSQL and ClickHouse,
and the same as a plain reading of the orders, on the analytics test shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

import pytest

from loopline.query.lookups import buyers_sql
from tests.analytics.dataset import NOW, OTHER_WORKSPACE, SKUS, WORKSPACE, build_dataset
from tests.segments.engines import ENGINES, Runner, dialect_of, engine_or_skip


@cache
def _data():  # type: ignore[no-untyped-def]
    return build_dataset()


def _expected(workspace_id: str, sku: str, since: Any = None) -> list[str]:
    """Owners of the workspace's orders naming ``sku`` on the order or on an item of its products list."""
    data = _data()
    owner = {(row["kind"], row["value"]): row["profile_id"]
             for row in data.identities[data.identities["workspace_id"] == workspace_id].to_dict("records")}
    buyers = set()
    for row in data.events[data.events["workspace_id"] == workspace_id].to_dict("records"):
        if row["event"] != "Order Completed" or (since is not None and row["timestamp"] < since):
            continue
        properties = row["properties"] if isinstance(row["properties"], dict) else {}
        items = properties.get("products") if isinstance(properties.get("products"), list) else []
        named = properties.get("sku") == sku or any(isinstance(i, dict) and i.get("sku") == sku for i in items)
        profile = owner.get(("user_id", row["user_id"])) if isinstance(row["user_id"], str) else None
        if profile is None and isinstance(row["anonymous_id"], str):
            profile = owner.get(("anonymous_id", row["anonymous_id"]))
        if named and profile is not None:
            buyers.add(profile)
    return sorted(buyers)


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Runner]]:
    with engine_or_skip(request.param, _data()) as run:
        yield request.param, run


@pytest.mark.parametrize("sku", [SKUS[0], SKUS[7], "SKU-none"])
@pytest.mark.parametrize("days", [None, 30])
def test_buyers_match_a_plain_reading_of_the_orders(engine: tuple[str, Runner], sku: str, days: int | None) -> None:
    name, run = engine
    dialect = dialect_of(name)
    since = NOW - timedelta(days=days) if days else None
    for workspace_id in (WORKSPACE, OTHER_WORKSPACE):
        found: list[str] = []
        after = ""
        while True:  # pages of 7, to walk the paging too
            page = [str(row[0]) for row in run(buyers_sql(
                dialect, workspace_id=workspace_id, event="Order Completed", product_key="sku", product=sku,
                since=since, after=after, limit=7))]
            found += page
            if len(page) < 7:
                break
            after = page[-1]
        expected = _expected(workspace_id, sku, since)
        assert found == expected, f"{name} {workspace_id} {sku}"
        if sku != "SKU-none" and workspace_id == WORKSPACE and days is None:
            assert len(expected) > 7  # the case is not empty, and needs more than one page
