"""``loopline bench segments``: five reference segments over 1M profiles and 10M events.

The data is generated inside DuckDB from a seed (profiles, identities, devices and 90 days of
events), then each reference segment is computed three ways and the member sets compared:

- ours: the definition compiled by ``loopline.query.segments`` and run by the DuckDB mart;
- the limit: hand-written DuckDB SQL for the same answer, as an expert would write it;
- the baseline: pandas over the same tables, loaded into frames beforehand (loading untimed).

It also times the live estimate (count and ten sample profiles) the console asks for.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pandas as pd
from rich.console import Console

from loopline.actions.segments import Matches, count_matches
from loopline.config import Settings
from loopline.domain.segments.builtin import BUILTIN_SEGMENTS
from loopline.domain.segments.definition import parse_segment
from loopline.query.segments import compile_segment
from loopline.store.events.duckdb import DuckdbEventStore
from loopline.store.mart.duckdb import DuckdbMart

T = TypeVar("T")
WORKSPACE = "ws_bench"
FULL_PROFILES = 1_000_000
FULL_EVENTS = 10_000_000
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SEED = 0.2026
TIMEOUT_S = 600.0
REPEAT = 3
# pandas holds about 230 bytes per event in the baseline's frames: past this many events
# they would not fit in this machine's memory beside the database, so the baseline is skipped.
BASELINE_MAX_EVENTS = 30_000_000

DEFINITIONS: dict[str, dict[str, Any]] = {
    "trait_filter": {"name": "Pro plan, 30 or older", "condition": {"type": "and", "conditions": [
        {"type": "trait", "trait": "plan", "operator": "eq", "value": "pro"},
        {"type": "trait", "trait": "age", "operator": "gte", "value": 30}]}},
    "event_count_30d": {"name": "Viewed 3+ products in 30 days", "condition": {
        "type": "performed", "event": "Product Viewed", "count": {"operator": "at_least", "value": 3},
        "window": {"last_days": 30}}},
    "inactive_7d": {"name": "No session for 7 days", "condition": {"type": "inactive", "activity": "session",
                                                                   "days": 7}},
    "cart_abandoned_1h": {"name": "Added to cart, no order within 1 h", "condition": {
        "type": "sequence", "first": {"event": "Product Added"}, "then": {"event": "Order Completed"},
        "within_minutes": 60, "then_absent": True, "window": {"last_days": 30}}},
    "rfm_champions": BUILTIN_SEGMENTS["rfm_champions"],
}

# The limit: what a person fluent in DuckDB writes for each answer, on the same tables.
# Events of the workspace's profiles (an owner may be gone: merged away, erased).
_OWNED = """
    SELECT profile_id, event, type, source, "timestamp" AS ts FROM events
    WHERE workspace_id = '{ws}' AND profile_id IN (SELECT profile_id FROM mart_profiles WHERE workspace_id = '{ws}')
"""
LIMITS: dict[str, str] = {
    "trait_filter": """
        SELECT profile_id FROM mart_profiles WHERE workspace_id = '{ws}'
          AND (traits->>'plan') = 'pro' AND TRY_CAST(traits->>'age' AS DOUBLE) >= 30""",
    "event_count_30d": """
        SELECT profile_id FROM (""" + _OWNED + """) o WHERE event = 'Product Viewed' AND ts >= TIMESTAMPTZ '{d30}'
        GROUP BY profile_id HAVING count(*) >= 3""",
    "inactive_7d": """
        SELECT p.profile_id FROM mart_profiles p WHERE p.workspace_id = '{ws}' AND p.known_since <= TIMESTAMPTZ '{d7}'
          AND NOT EXISTS (SELECT 1 FROM (""" + _OWNED + """) o WHERE o.profile_id = p.profile_id
                          AND o.type IN ('track', 'page', 'screen') AND o.ts >= TIMESTAMPTZ '{d7}')""",
    "cart_abandoned_1h": """
        WITH o AS (""" + _OWNED + """)
        SELECT DISTINCT a.profile_id FROM o a
        WHERE a.event = 'Product Added' AND a.ts >= TIMESTAMPTZ '{d30}' AND a.ts <= TIMESTAMPTZ '{h1}'
          AND NOT EXISTS (SELECT 1 FROM o b WHERE b.profile_id = a.profile_id AND b.event = 'Order Completed'
                          AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL 1 HOUR)""",
    "rfm_champions": """
        SELECT profile_id FROM mart_profiles WHERE workspace_id = '{ws}'
          AND computed_last_order_at BETWEEN TIMESTAMPTZ '{d30}' AND TIMESTAMPTZ '{now}'
          AND computed_orders >= 3 AND computed_net_revenue >= 200""",
}


def generate_data(conn: Any, profiles: int, events: int) -> None:
    """Fill the mart and the event store with deterministic synthetic data, all inside DuckDB."""
    conn.execute(f"SELECT setseed({SEED})")
    now = NOW.strftime("%Y-%m-%d %H:%M:%S+00")
    conn.execute(f"""
        INSERT INTO mart_identities SELECT '{WORKSPACE}', 'user_id', 'u' || i, 'p' || i FROM range({profiles}) t(i)
    """)
    # A quarter of the customers went quiet more than a week ago; activity is skewed to a few.
    # Events are stored in time order, as a live store receives them (arrival follows time).
    conn.execute(f"""
        INSERT INTO events (seq, workspace_id, message_id, type, event, user_id, anonymous_id, "timestamp",
                            received_at, properties, traits, context, source, key_hash)
        SELECT row_number() OVER (ORDER BY ts, i), '{WORKSPACE}', 'm' || i,
               CASE WHEN r < 0.14 THEN 'screen' ELSE 'track' END,
               CASE WHEN r < 0.14 THEN 'Home' WHEN r < 0.44 THEN 'Application Opened'
                    WHEN r < 0.84 THEN 'Product Viewed' WHEN r < 0.96 THEN 'Product Added'
                    ELSE 'Order Completed' END,
               'u' || pid, NULL, ts, ts,
               CASE WHEN r >= 0.96 THEN json_object('revenue', round(5 + random() * 120, 2)) ELSE '{{}}' END,
               '{{}}', '{{}}', 'api', CAST(hash(i) % 9223372036854775807 AS BIGINT)
        FROM (SELECT i, random() AS r, CAST(floor(power(random(), 1.6) * {profiles}) AS BIGINT) AS pid,
                     TIMESTAMPTZ '{now}' - to_microseconds(CAST(random() * 90 * 86400e6 AS BIGINT)) AS ts0
              FROM range({events}) t(i)) g,
             LATERAL (SELECT CASE WHEN pid % 4 = 0 AND ts0 > TIMESTAMPTZ '{now}' - INTERVAL 8 DAY
                                  THEN ts0 - INTERVAL 8 DAY ELSE ts0 END AS ts)
        ORDER BY ts, i
    """)
    conn.execute(f"""
        INSERT INTO mart_profiles (workspace_id, profile_id, traits, computed, created_at, known_since, updated_at,
                                   computed_orders, computed_net_revenue, computed_last_order_at, computed_first_seen)
        SELECT '{WORKSPACE}', 'p' || i,
               json_object('plan', CASE WHEN random() < 0.2 THEN 'pro' ELSE 'free' END,
                           'age', 18 + CAST(floor(random() * 60) AS INTEGER)),
               json_object('orders', coalesce(c.orders, 0), 'net_revenue', coalesce(c.revenue, 0),
                           'last_order_at', strftime(c.last_order_at, '%Y-%m-%dT%H:%M:%S.%f+00:00'),
                           'first_seen', strftime(c.first_seen, '%Y-%m-%dT%H:%M:%S.%f+00:00')),
               created, least(created, coalesce(c.first_seen, created)), created,
               coalesce(c.orders, 0), coalesce(c.revenue, 0), c.last_order_at, c.first_seen
        FROM (SELECT i, TIMESTAMPTZ '{now}' - INTERVAL 100 DAY
                        + to_microseconds(CAST(random() * 20 * 86400e6 AS BIGINT)) AS created
              FROM range({profiles}) t(i)) p
        LEFT JOIN (
            SELECT CAST(substr(user_id, 2) AS BIGINT) AS pid, min("timestamp") AS first_seen,
                   count(*) FILTER (WHERE event = 'Order Completed') AS orders,
                   sum(CAST(properties->>'revenue' AS DOUBLE)) FILTER (WHERE event = 'Order Completed') AS revenue,
                   max("timestamp") FILTER (WHERE event = 'Order Completed') AS last_order_at
            FROM events WHERE workspace_id = '{WORKSPACE}' GROUP BY 1
        ) c ON c.pid = p.i
    """)


def best_of(run: Callable[[], T]) -> tuple[float, T]:
    best, result = float("inf"), run()  # a first, untimed run warms caches as a live system has them
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def _frames(conn: Any) -> dict[str, pd.DataFrame]:
    """Load the same tables into pandas, as a pandas user would hold them (JSON parsed to dicts)."""
    profiles = conn.execute(f"""
        SELECT profile_id, CAST(traits AS VARCHAR) AS traits, CAST(computed AS VARCHAR) AS computed, known_since
        FROM mart_profiles WHERE workspace_id = '{WORKSPACE}'""").df()
    profiles["traits"] = profiles["traits"].map(orjson.loads)
    profiles["computed"] = profiles["computed"].map(orjson.loads)
    # The events as they arrive and the identity map, not the owners the mart attributed:
    # finding whose event is whose is part of the work without the mart.
    identities = conn.execute(
        f"SELECT kind, value, profile_id FROM mart_identities WHERE workspace_id = '{WORKSPACE}'"
    ).df()
    events = conn.execute(
        f"""SELECT user_id, anonymous_id, CAST(event AS VARCHAR) AS event, type, "timestamp" AS ts FROM events
            WHERE workspace_id = '{WORKSPACE}'"""
    ).df()
    events["event"] = events["event"].astype("category")
    events["type"] = events["type"].astype("category")
    return {"profiles": profiles, "identities": identities, "events": events}


def _owned(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the events with the profile each belongs to: its user id's, else its device's."""
    events, identities = frames["events"], frames["identities"]
    by_user = identities[identities.kind == "user_id"].set_index("value")["profile_id"]
    by_device = identities[identities.kind == "anonymous_id"].set_index("value")["profile_id"]
    owner = events.user_id.map(by_user).fillna(events.anonymous_id.map(by_device))
    return events.assign(profile_id=owner).dropna(subset=["profile_id"])


def _value(column: pd.Series, key: str) -> pd.Series:
    return column.map(lambda document: document.get(key))


def _pandas(name: str, frames: dict[str, pd.DataFrame]) -> set[str]:
    profiles = frames["profiles"]
    now = pd.Timestamp(NOW)
    if name == "trait_filter":
        plan, age = _value(profiles.traits, "plan"), pd.to_numeric(_value(profiles.traits, "age"), errors="coerce")
        return set(profiles.loc[(plan == "pro") & (age >= 30), "profile_id"])
    if name == "rfm_champions":
        last = pd.to_datetime(_value(profiles.computed, "last_order_at"), utc=True, errors="coerce")
        orders = pd.to_numeric(_value(profiles.computed, "orders"), errors="coerce")
        revenue = pd.to_numeric(_value(profiles.computed, "net_revenue"), errors="coerce")
        recent = last.between(now - pd.Timedelta(days=30), now)
        return set(profiles.loc[recent & (orders >= 3) & (revenue >= 200), "profile_id"])
    owned = _owned(frames)
    if name == "event_count_30d":
        hits = owned[(owned.event == "Product Viewed") & (owned.ts >= now - pd.Timedelta(days=30))]
        counts = hits.groupby("profile_id").size()
        return set(counts[counts >= 3].index)
    if name == "inactive_7d":
        active = set(owned.loc[owned.type.isin(["track", "page", "screen"]) & (owned.ts >= now - pd.Timedelta(days=7)),
                               "profile_id"])
        known = profiles.loc[profiles.known_since <= now - pd.Timedelta(days=7), "profile_id"]
        return set(known) - active
    adds = owned[(owned.event == "Product Added") & (owned.ts >= now - pd.Timedelta(days=30))
                 & (owned.ts <= now - pd.Timedelta(hours=1))][["profile_id", "ts"]]
    orders_done = owned[owned.event == "Order Completed"][["profile_id", "ts"]]
    paired = adds.merge(orders_done, on="profile_id", how="left", suffixes=("", "_order"))
    followed = (paired.ts_order > paired.ts) & (paired.ts_order <= paired.ts + pd.Timedelta(hours=1))
    converted = paired[followed].groupby(["profile_id", "ts"]).size()
    keys = pd.MultiIndex.from_frame(adds)
    return set(adds.loc[~keys.isin(converted.index), "profile_id"])


def _measure(
    name: str, spec: dict[str, Any], *, mart: DuckdbMart, conn: Any, frames: dict[str, pd.DataFrame] | None,
    values: dict[str, str], console: Console,
) -> dict[str, Any]:
    """Compute one segment ours, the limit's and pandas' way; check they agree; return the figures."""
    definition = parse_segment(spec)
    compiled = compile_segment(definition, dialect=mart.dialect, workspace_id=WORKSPACE, now=NOW)
    limit_sql = LIMITS[name].format(**values)

    def ours() -> set[str]:
        return {row[0] for row in mart.fetch(compiled.sql, timeout_s=TIMEOUT_S)}

    def limit() -> set[str]:
        return {row[0] for row in conn.execute(limit_sql).fetchall()}

    def estimate() -> Matches:
        return count_matches(mart, definition, workspace_id=WORKSPACE, now=NOW, timeout_s=TIMEOUT_S,
                             sample_above=_default("segment_estimate_sample_above"),
                             sample_percent=_default("segment_estimate_sample_percent"))

    with console.status(f"segment {name}"):
        ours_s, members = best_of(ours)
        limit_s, expected = best_of(limit)
        baseline_s, computed = best_of(lambda: _pandas(name, frames)) if frames is not None else (None, expected)
        if not members == expected == computed:
            raise AssertionError(f"{name}: ours {len(members)}, limit {len(expected)}, pandas {len(computed)}")
        estimate_s, estimated = best_of(estimate)
    return {
        "seconds": round(ours_s, 3), "members": len(members), "limit_seconds": round(limit_s, 3),
        "pandas_seconds": None if baseline_s is None else round(baseline_s, 3), "vs_limit": round(limit_s / ours_s, 2),
        "vs_baseline": None if baseline_s is None else round(baseline_s / ours_s, 1),
        "estimate_ms": round(estimate_s * 1000, 1),
        "estimate": {"count": estimated.scaled.count, "low": estimated.scaled.low, "high": estimated.scaled.high,
                     "sample_percent": estimated.sample_percent},
    }


def _default(name: str) -> int:
    """Return a setting's default: the bench estimates as a fresh installation would."""
    return int(Settings.model_fields[name].default)


@contextmanager
def generated_mart(scale: float, console: Console) -> Iterator[tuple[DuckdbMart, Any, dict[str, Any]]]:
    """Yield a DuckDB mart filled with the generated data, a cursor on it, and the sizes and set-up times."""
    profiles, events = max(1_000, int(FULL_PROFILES * scale)), max(10_000, int(FULL_EVENTS * scale))
    with tempfile.TemporaryDirectory(prefix="loopline-bench-") as folder:
        store = DuckdbEventStore(Path(folder) / "events.duckdb")
        mart = DuckdbMart(store)
        try:
            conn = store.cursor()
            conn.execute("SET TimeZone = 'UTC'")
            with console.status(f"generating {profiles:,} profiles and {events:,} events"):
                generate_data(conn, profiles, events)
            # As the mart sync leaves a live store: every event's owner written beside it (the
            # whole history at once here, which a live sync spreads over its runs) and the
            # table checkpointed, as the event writer does whenever ingest pauses.
            with console.status("attributing the events to their owners"):
                started = time.perf_counter()
                mart.attribute_events()
                attribute_s = time.perf_counter() - started
                store.checkpoint()
            yield mart, conn, {"profiles": profiles, "events": events, "attribute_all_s": round(attribute_s, 2)}
        finally:
            mart.close()
            store.close()


def run_segments(*, scale: float = 1.0) -> dict[str, Any]:
    """Generate the data, compute each reference segment three ways, and report the ratios."""
    console = Console(stderr=True)
    with generated_mart(scale, console) as (mart, conn, sizes):
        frames = None
        if sizes["events"] <= BASELINE_MAX_EVENTS:
            with console.status("loading the pandas baseline's frames"):
                frames = _frames(conn)
        else:
            console.print(f"pandas baseline skipped: frames of {sizes['events']:,} events would not fit in memory")
        values = {"ws": WORKSPACE, "now": NOW.strftime("%Y-%m-%d %H:%M:%S+00")}
        values |= {key: (NOW - delta).strftime("%Y-%m-%d %H:%M:%S+00") for key, delta in
                   (("d30", timedelta(days=30)), ("d7", timedelta(days=7)), ("h1", timedelta(hours=1)))}
        report = {name: _measure(name, spec, mart=mart, conn=conn, frames=frames, values=values, console=console)
                  for name, spec in DEFINITIONS.items()}
    return {
        "bench": "segments",
        "seconds": max(part["seconds"] for part in report.values()),
        "vs_limit": min(part["vs_limit"] for part in report.values()),
        "vs_baseline": min((part["vs_baseline"] for part in report.values() if part["vs_baseline"] is not None),
                           default=None),
        "estimate_ms": max(part["estimate_ms"] for part in report.values()),
        **sizes,
        "segments": report,
    }
