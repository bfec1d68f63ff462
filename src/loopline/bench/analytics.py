"""``loopline bench analytics``: DAU series, weekly retention, a 4-step funnel and top paths over 10M events.

The data is the segments benchmark's (1M profiles, 10M events over 90 days, generated inside
DuckDB). Each report runs through ``loopline.query.reports`` on the DuckDB mart, and the same
answer is computed by hand-written DuckDB SQL (the limit); the answers are compared before
the times are reported.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.console import Console

from loopline.bench.segments import NOW, TIMEOUT_S, WORKSPACE, best_of, generated_mart
from loopline.domain.analytics import parse_report
from loopline.query.reports import build_report

UNTIL = NOW.date() + timedelta(days=1)
REQUESTS: dict[str, dict[str, Any]] = {
    "dau": {"report": "active_users", "since": (UNTIL - timedelta(days=30)).isoformat(), "until": UNTIL.isoformat()},
    "retention": {"report": "retention", "period": "week", "periods": 11,
                  "since": (UNTIL - timedelta(weeks=12)).isoformat(), "until": UNTIL.isoformat()},
    "funnel": {"report": "funnel", "since": (UNTIL - timedelta(days=30)).isoformat(), "until": UNTIL.isoformat(),
               "window_minutes": 1440, "steps": [{"event": name} for name in (
                   "Application Opened", "Product Viewed", "Product Added", "Order Completed")]},
    "paths": {"report": "paths", "since": (UNTIL - timedelta(days=30)).isoformat(), "until": UNTIL.isoformat(),
              "from": "Product Added", "depth": 3, "top": 20},
}

_EVENTS = """
    SELECT profile_id, seq, event, "timestamp" AS ts FROM events
    WHERE workspace_id = '{ws}' AND type IN ('track', 'page', 'screen') AND source <> 'segments'
      AND profile_id IS NOT NULL AND "timestamp" < TIMESTAMPTZ '{until}'
"""
LIMITS: dict[str, str] = {
    "dau": """
        WITH ev AS (""" + _EVENTS + """ AND "timestamp" >= TIMESTAMPTZ '{lookback}'),
        ud AS (SELECT DISTINCT profile_id, DATE '1970-01-01' + CAST(fdiv(epoch_us(ts), 86400000000) AS INTEGER) AS d
               FROM ev),
        nx AS MATERIALIZED (SELECT d, lead(d) OVER (PARTITION BY profile_id ORDER BY d) AS n FROM ud),
        steps AS (SELECT d AS x, 1 AS a, 1 AS b, 1 AS c FROM nx
                  UNION ALL SELECT least(d + 1, coalesce(n, d + 1)), -1, 0, 0 FROM nx
                  UNION ALL SELECT least(d + 7, coalesce(n, d + 7)), 0, -1, 0 FROM nx
                  UNION ALL SELECT least(d + 30, coalesce(n, d + 30)), 0, 0, -1 FROM nx),
        daily AS (SELECT x, sum(sum(a)) OVER w AS dau, sum(sum(b)) OVER w AS wau, sum(sum(c)) OVER w AS mau
                  FROM steps GROUP BY x WINDOW w AS (ORDER BY x))
        SELECT x, dau, wau, mau FROM daily WHERE x >= DATE '{since}' AND x < DATE '{until}' ORDER BY x""",
    "retention": """
        WITH ev AS (""" + _EVENTS + """),
        f AS (SELECT profile_id, CAST(date_trunc('week', CAST(min(ts) AS DATE)) AS DATE) AS cohort FROM ev
              GROUP BY profile_id HAVING min(ts) >= TIMESTAMPTZ '{since}'),
        w AS (SELECT DISTINCT profile_id, CAST(date_trunc('week', DATE '1970-01-01'
                  + CAST(fdiv(epoch_us(ts), 86400000000) AS INTEGER)) AS DATE) AS wk
              FROM ev WHERE ts >= TIMESTAMPTZ '{since}' AND profile_id IN (SELECT profile_id FROM f))
        SELECT f.cohort, (w.wk - f.cohort) // 7 AS k, count(*) FROM f JOIN w USING (profile_id)
        WHERE w.wk >= f.cohort GROUP BY 1, 2 ORDER BY 1, 2""",
    "funnel": """
        WITH ev AS (""" + _EVENTS + """ AND "timestamp" >= TIMESTAMPTZ '{since}'),
        s1 AS (SELECT profile_id, min(ts) AS t1 FROM ev WHERE event = 'Application Opened' GROUP BY profile_id),
        s2 AS (SELECT s1.profile_id, min(ev.ts) AS t2 FROM s1 JOIN ev USING (profile_id)
               WHERE ev.event = 'Product Viewed' AND ev.ts > s1.t1 AND ev.ts <= s1.t1 + INTERVAL 1 DAY GROUP BY 1),
        s3 AS (SELECT s1.profile_id, min(ev.ts) AS t3 FROM s1 JOIN s2 USING (profile_id) JOIN ev USING (profile_id)
               WHERE ev.event = 'Product Added' AND ev.ts > s2.t2 AND ev.ts <= s1.t1 + INTERVAL 1 DAY GROUP BY 1),
        s4 AS (SELECT s1.profile_id, min(ev.ts) AS t4 FROM s1 JOIN s3 USING (profile_id) JOIN ev USING (profile_id)
               WHERE ev.event = 'Order Completed' AND ev.ts > s3.t3 AND ev.ts <= s1.t1 + INTERVAL 1 DAY GROUP BY 1)
        SELECT count(*), count(t2), count(t3), count(t4) FROM s1 LEFT JOIN s2 USING (profile_id)
        LEFT JOIN s3 USING (profile_id) LEFT JOIN s4 USING (profile_id)""",
    "paths": """
        WITH ev AS (""" + _EVENTS + """ AND "timestamp" >= TIMESTAMPTZ '{since}')
        SELECT n1, n2, n3, count(*) FROM (
            SELECT event, lead(event, 1) OVER w AS n1, lead(event, 2) OVER w AS n2, lead(event, 3) OVER w AS n3
            FROM ev WINDOW w AS (PARTITION BY profile_id ORDER BY ts, seq)) o
        WHERE event = 'Product Added' GROUP BY n1, n2, n3""",
}


def _check(name: str, ours: dict[str, Any], limit: list[tuple[Any, ...]]) -> None:
    """Raise when our answer and the hand-written one differ on the figures both give."""
    got: list[Any]
    want: list[Any]
    if name == "dau":
        got = [(p["dau"], p["wau"], p["mau"]) for p in ours["series"]]
        want = [(int(a), int(b), int(c)) for _, a, b, c in limit]
    elif name == "retention":
        # Week k > 0 of each cohort, where anyone came back and the week has begun.
        got = sorted((c["cohort"], k, n) for c in ours["cohorts"] for k, n in enumerate(c["retained"]) if n and k)
        want = sorted(
            (str(cohort), int(k), int(n)) for cohort, k, n in limit
            if 0 < int(k) <= 11 and cohort + timedelta(weeks=int(k)) <= NOW.date()
        )
    elif name == "funnel":
        got = [step["users"] for step in ours["steps"]]
        want = [int(n) for n in limit[0]]
    else:
        first = {node["event"]: node["count"] for node in ours["nodes"] if node["step"] == 1}
        every: dict[str, int] = {}
        for n1, _, _, n in limit:
            every["(end)" if n1 is None else str(n1)] = every.get("(end)" if n1 is None else str(n1), 0) + int(n)
        # The top 20 next events are named, the rest fold into (other): compare the named ones.
        got = sorted((event, count) for event, count in first.items() if event != "(other)")
        want = sorted((event, count) for event, count in every.items() if event in first)
    if got != want:
        raise AssertionError(f"{name}: ours and the hand-written SQL disagree")


def run_analytics(*, scale: float = 1.0) -> dict[str, Any]:
    """Generate the data, run each report ours and hand-written, and report the ratios."""
    console = Console(stderr=True)
    report: dict[str, dict[str, Any]] = {}
    with generated_mart(scale, console) as (mart, conn, sizes):

        def fetch(sql: str) -> list[tuple[Any, ...]]:
            return mart.fetch(sql, timeout_s=TIMEOUT_S)

        for name, spec in REQUESTS.items():
            request = parse_report(spec)
            lookback = (date.fromisoformat(spec["since"]) - timedelta(days=29)).isoformat()
            limit_sql = LIMITS[name].format(ws=WORKSPACE, since=spec["since"], until=spec["until"], lookback=lookback)

            def ours(request: Any = request) -> dict[str, Any]:
                return build_report(request, dialect=mart.dialect, workspace_id=WORKSPACE, now=NOW, fetch=fetch)

            def limit(sql: str = limit_sql) -> list[tuple[Any, ...]]:
                return list(conn.execute(sql).fetchall())

            with console.status(f"report {name}"):
                ours_s, answer = best_of(ours)
                limit_s, expected = best_of(limit)
                _check(name, answer, expected)
            report[name] = {"seconds": round(ours_s, 3), "limit_seconds": round(limit_s, 3),
                            "vs_limit": round(limit_s / ours_s, 2)}
    return {
        "bench": "analytics",
        "seconds": max(part["seconds"] for part in report.values()),
        "vs_limit": min(part["vs_limit"] for part in report.values()),
        **sizes,
        "reports": report,
    }

