"""The report compiler: an analytics request in, SQL run through ``fetch``, chart-ready JSON out.

Definitions are in ``docs/analytics.md``. Every report starts from the same relation of
counted events (``ev``: owner, arrival order, name, time, properties, group) and adds one
aggregate; the shaping of rows into series, histograms and sankeys is in
``loopline.domain.analytics``. ``fetch`` runs one query and returns its rows, so this
module stays pure: the caller decides where and with what time limit queries run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from loopline.domain import analytics as shape
from loopline.domain.analytics import (
    ActiveUsers,
    Affinity,
    Distribution,
    Events,
    Funnel,
    Geography,
    Live,
    NewVsReturning,
    Paths,
    Retention,
    Sessions,
)
from loopline.domain.commerce import ORDER_COMPLETED
from loopline.domain.segments.definition import PropertyFilter, SegmentDefinition
from loopline.domain.segments.membership import MEMBERSHIP_SOURCE
from loopline.query.dialects import Dialect, number
from loopline.query.segments import ACTIVITY_TYPES, compile_segment, owned_events, property_condition

Fetch = Callable[[str], list[tuple[Any, ...]]]
WINDOWS = (1, 7, 30)  # DAU, WAU, MAU
# Days (or weeks) that fit one signed 64-bit mask with room to spare: a range this short is
# answered from each user's bit mask of active periods, gathered in one pass without sorting.
MASK_BITS = 62


def build_report(request: Any, *, dialect: Dialect, workspace_id: str, now: datetime, fetch: Fetch) -> dict[str, Any]:
    """Run the report's queries through ``fetch`` and return its answer."""
    builder = _Builder(request, dialect, workspace_id, now, fetch)
    answer: dict[str, Any] = {"report": request.report}
    if hasattr(request, "since"):
        answer |= {"since": request.since.isoformat(), "until": request.until.isoformat()}
    method: Callable[[], dict[str, Any]] = getattr(builder, "_" + request.report)
    return answer | method()


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class _Builder:
    def __init__(self, request: Any, dialect: Dialect, workspace_id: str, now: datetime, fetch: Fetch) -> None:
        self.r, self.d, self.now, self.fetch = request, dialect, now, fetch
        self.workspace_id = workspace_id
        self.ws = dialect.text(workspace_id)
        self.grouped = getattr(request, "group_by", None) is not None

    # -- the counted events ---------------------------------------------------------------------

    def events(
        self, *, since: datetime | None, until: datetime | None, where: bool = True, extra: str = "",
    ) -> str:
        """Return a query of the counted events: profile_id, seq, event, ts, properties, grp."""
        d = self.d
        joins: list[str] = []
        group = self.r.group_by if self.grouped else None
        grp = "CAST(NULL AS VARCHAR)"
        if group is not None and group.source in ("event", "context"):
            column = "e.properties" if group.source == "event" else "e.context"
            grp = d.json_scalar_text(column, group.path.split("."))
        elif group is not None and group.source == "trait":
            joins.append(f"LEFT JOIN mart_profiles gp ON gp.workspace_id = {self.ws} AND gp.profile_id = e.profile_id")
            grp = d.json_scalar_text("gp.traits", group.path.split("."))
        elif group is not None:
            members = (
                f"SELECT m.profile_id FROM mart_segment_members m WHERE m.workspace_id = {self.ws}"
                f" AND m.segment_id = {d.text(group.segment_id)}"
            )
            grp = f"CASE WHEN e.profile_id IN ({members}) THEN 'member' ELSE 'not member' END"
        tests = [
            f"e.type IN ({', '.join(d.text(t) for t in ACTIVITY_TYPES)})",
            f"e.source <> {d.text(MEMBERSHIP_SOURCE)}",
            "e.profile_id IS NOT NULL",
        ]
        if since is not None:
            tests.append(f"e.ts >= {d.instant(since)}")
        if until is not None:
            tests.append(f"e.ts < {d.instant(until)}")
        if where:
            tests += [self.condition("e.properties", item) for item in self.r.where]
        if self.r.filter is not None:
            # A join, not IN: the segment query returns each profile once, and PostgreSQL may
            # otherwise run a complex IN sub-query again for every event.
            definition = SegmentDefinition(name="filter", condition=self.r.filter)
            users = compile_segment(definition, dialect=d, workspace_id=self.workspace_id, now=self.now).sql
            joins.append(f"JOIN ({users}) fu ON fu.profile_id = e.profile_id")
        if extra:
            tests.append(extra)
        return (
            "SELECT e.profile_id AS profile_id, e.seq AS seq, e.event AS event, e.ts AS ts,"
            f" e.properties AS properties, {grp} AS grp FROM ({owned_events(d, self.workspace_id)}) e"
            f" {' '.join(joins)} WHERE {' AND '.join(tests)}"
        )

    def condition(self, column: str, item: PropertyFilter) -> str:
        return property_condition(self.d, column, item, now=self.now)

    def ranged(self, **kwargs: Any) -> str:
        return self.events(since=_start(self.r.since), until=_start(self.r.until), **kwargs)

    def sizes(self, sql: str) -> dict[Any, int]:
        """Return distinct users per group of a query with profile_id and grp."""
        return {grp: int(n) for grp, n in self.fetch(
            f"SELECT grp, count(DISTINCT profile_id) FROM ({sql}) s GROUP BY grp")}

    def answer(self, sizes: dict[Any, int], build: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return shape.grouped(sizes, build, grouped_by=self.grouped)

    # -- reports --------------------------------------------------------------------------------

    def _active_users(self) -> dict[str, Any]:
        r: ActiveUsers = self.r
        first = r.since - timedelta(days=max(WINDOWS) - 1)
        if (r.until - first).days <= MASK_BITS:
            return self._active_users_by_mask(first)
        days = r.days()
        ev = self.events(since=_start(first), until=_start(r.until))
        day = self.d.day("ts")
        since = self.d.day(self.d.instant(_start(r.since)))
        # A user active on ``day`` and next on ``next`` counts in a window of width w from
        # ``day`` until ``day + w`` or ``next``, whichever comes first: those spans never
        # overlap, so a running sum of +1 at starts (width 0: the same for every width) and
        # -1 at ends counts each user once per day. Width -1 marks each user's last active
        # day in the range: their number is the users active in the range.
        widths = ", ".join(f"({width}, -1)" for width in WINDOWS)
        rows = self.fetch(
            f"WITH ev AS ({ev}), ud AS (SELECT DISTINCT grp, profile_id, {day} AS day FROM ev),"
            " runs AS (SELECT grp, day, lead(day) OVER (PARTITION BY grp, profile_id ORDER BY day) AS next FROM ud)"
            " SELECT grp, w.width, CASE WHEN w.width <= 0 THEN day"
            " ELSE least(day + w.width, coalesce(next, day + w.width)) END AS on_day, sum(w.delta)"
            f" FROM runs CROSS JOIN (VALUES (-1, 1), (0, 1), {widths}) w(width, delta)"
            f" WHERE w.width >= 0 OR (next IS NULL AND day >= {since})"
            " GROUP BY grp, w.width, on_day"
        )
        deltas: dict[tuple[Any, int], list[tuple[date, int]]] = defaultdict(list)
        sizes: dict[Any, int] = defaultdict(int)
        for grp, width, at, delta in rows:
            if int(width) < 0:
                sizes[grp] += int(delta)
            elif int(width) == 0:
                for every in WINDOWS:
                    deltas[(grp, every)].append((_as_date(at), int(delta)))
            else:
                deltas[(grp, int(width))].append((_as_date(at), int(delta)))

        def build(group: Any) -> dict[str, Any]:
            covered = {width: shape.coverage(deltas.get((group, width), []), days) for width in WINDOWS}
            series = []
            for one in days:
                dau, wau, mau = (covered[width][one] for width in WINDOWS)
                series.append({"date": one.isoformat(), "dau": dau, "wau": wau, "mau": mau,
                               "stickiness": shape.ratio(dau, mau)})
            return {"series": series}

        return self.answer(sizes, build)

    def _active_users_by_mask(self, first: date) -> dict[str, Any]:
        """Answer a range that fits one bit per day: one pass gathers each user's active days."""
        r: ActiveUsers = self.r
        d, days = self.d, r.days()
        ev = self.events(since=_start(first), until=_start(r.until))
        slot = d.periods_since("ts", _start(first), 86_400)

        def span(low: int, high: int) -> str:  # the days low..high (slot numbers), as a bit mask
            return number(((1 << (high + 1)) - 1) ^ ((1 << max(0, low)) - 1))

        offset = (r.since - first).days
        tests = [f"sum(CASE WHEN (mask & {span(offset, offset + len(days) - 1)}) <> 0 THEN 1 ELSE 0 END)"]
        for index in range(offset, offset + len(days)):
            tests += [f"sum(CASE WHEN (mask & {span(index - width + 1, index)}) <> 0 THEN 1 ELSE 0 END)"
                      for width in WINDOWS]
        rows = self.fetch(
            f"SELECT grp, {', '.join(tests)} FROM (SELECT grp, bit_or(CAST(1 AS BIGINT) << {slot}) AS mask"
            f" FROM ({ev}) e GROUP BY grp, profile_id) m GROUP BY grp"
        )
        found = {row[0]: [int(value) for value in row[1:]] for row in rows}
        sizes = {grp: counts[0] for grp, counts in found.items() if counts[0]}

        def build(group: Any) -> dict[str, Any]:
            counts = found.get(group, [0] * (1 + len(days) * len(WINDOWS)))
            series = []
            for n, one in enumerate(days):
                dau, wau, mau = counts[1 + n * len(WINDOWS): 1 + (n + 1) * len(WINDOWS)]
                series.append({"date": one.isoformat(), "dau": dau, "wau": wau, "mau": mau,
                               "stickiness": shape.ratio(dau, mau)})
            return {"series": series}

        return self.answer(sizes, build)

    def _new_vs_returning(self) -> dict[str, Any]:
        r: NewVsReturning = self.r
        day = self.d.day("ts")
        ev = self.ranged()
        first = self.events(since=None, until=_start(r.until))
        rows = self.fetch(
            f"WITH ev AS ({ev}), ud AS (SELECT DISTINCT grp, profile_id, {day} AS day FROM ev),"
            f" f AS (SELECT profile_id, min({day}) AS first_day FROM ({first}) a GROUP BY profile_id)"
            " SELECT ud.grp, ud.day, count(DISTINCT ud.profile_id) FILTER (WHERE f.first_day = ud.day),"
            " count(DISTINCT ud.profile_id) FILTER (WHERE f.first_day < ud.day)"
            " FROM ud JOIN f ON f.profile_id = ud.profile_id GROUP BY ud.grp, ud.day"
        )
        found = {(grp, _as_date(at)): (int(new), int(back)) for grp, at, new, back in rows}
        sizes = self.sizes(ev)

        def build(group: Any) -> dict[str, Any]:
            return {"series": [
                {"date": one.isoformat(), "new": found.get((group, one), (0, 0))[0],
                 "returning": found.get((group, one), (0, 0))[1]} for one in r.days()]}

        return self.answer(sizes, build)

    def _live(self) -> dict[str, Any]:
        _: Live = self.r
        last = self.now.replace(second=0, microsecond=0)
        minutes = [last - timedelta(minutes=n) for n in range(shape.LIVE_MINUTES - 1, -1, -1)]
        ev = self.events(since=minutes[0], until=self.now + timedelta(microseconds=1))
        # Minutes come back as epoch seconds: plain numbers from every engine and driver.
        rows = self.fetch(
            f"SELECT {self.d.epoch_us(self.d.minute('ts'))} AS m, count(*), count(DISTINCT profile_id)"
            f" FROM ({ev}) e GROUP BY m"
        )
        found = {
            shape.minute_text(datetime.fromtimestamp(int(m) / 1_000_000, UTC)): (int(n), int(u)) for m, n, u in rows
        }
        return {"series": [
            {"minute": shape.minute_text(m), "events": found.get(shape.minute_text(m), (0, 0))[0],
             "users": found.get(shape.minute_text(m), (0, 0))[1]} for m in minutes]}

    def _events(self) -> dict[str, Any]:
        r: Events = self.r
        extra = f"e.event = {self.d.text(r.event)}" if r.event is not None else ""
        ev = self.ranged(extra=extra)
        value = "CAST(NULL AS DOUBLE PRECISION)"
        if r.property is not None:
            value = self.d.json_number("properties", r.property.split("."))
        measures = f"count(*), count(DISTINCT profile_id), sum({value}), avg({value})"
        daily = self.fetch(f"SELECT grp, {self.d.day('ts')} AS day, {measures} FROM ({ev}) e GROUP BY grp, day")
        totals = {row[0]: row[1:] for row in self.fetch(f"SELECT grp, {measures} FROM ({ev}) e GROUP BY grp")}
        pick = {"count": 0, "users": 1, "sum": 2, "average": 3}[r.measure]
        found = {(row[0], _as_date(row[1])): row[2:] for row in daily}

        def measure(values: Any) -> Any:
            # A day without events, or without values to add up, is zero: nothing happened.
            result = values[pick] if values is not None else None
            if r.measure in ("count", "users"):
                return int(result or 0)
            return float(result or 0.0)

        def build(group: Any) -> dict[str, Any]:
            return {
                "series": [{"date": one.isoformat(), "value": measure(found.get((group, one)))} for one in r.days()],
                "total": measure(totals.get(group)),
            }

        return self.answer({grp: measure(row) for grp, row in totals.items()}, build)

    def _distribution(self) -> dict[str, Any]:
        r: Distribution = self.r
        extra = f"e.event = {self.d.text(r.event)}" if r.event is not None else ""
        ev = self.ranged(extra=extra)
        whole = r.of == "events_per_user"
        if whole:
            values = f"SELECT grp, count(*) AS v FROM ({ev}) e GROUP BY grp, profile_id"
        else:
            assert r.property is not None  # the request's validation guarantees it
            number_of = self.d.json_number("properties", r.property.split("."))
            values = f"SELECT grp, v FROM (SELECT grp, {number_of} AS v FROM ({ev}) e) x WHERE v IS NOT NULL"
        stats = {row[0]: row[1:] for row in self.fetch(
            f"SELECT grp, count(v), min(v), max(v), avg(v) FROM ({values}) s GROUP BY grp")}
        if r.bounds is not None:
            cuts, buckets = list(r.bounds), shape.distribution_buckets(list(r.bounds), open_ended=True)
        elif stats:
            low = min(float(row[1]) for row in stats.values())
            high = max(float(row[2]) for row in stats.values())
            edges = shape.nice_bounds(low, high, r.buckets, whole=whole)
            cuts, buckets = edges[1:-1], shape.distribution_buckets(edges, open_ended=False)
        else:
            cuts, buckets = [], []
        # The bucket is the number of cuts at or below the value: plain comparisons, so every
        # engine puts a value lying on an edge in the same bucket.
        index = "0"
        if cuts:
            index = ("CASE " + " ".join(f"WHEN v < {number(cut)} THEN {n}" for n, cut in enumerate(cuts))
                     + f" ELSE {len(cuts)} END")
        counts = {(grp, int(at)): int(n) for grp, at, n in self.fetch(
            f"SELECT grp, {index} AS bucket, count(*) FROM ({values}) s GROUP BY grp, bucket")}

        def build(group: Any) -> dict[str, Any]:
            found = stats.get(group)
            size = int(found[0]) if found is not None else 0
            convert = int if whole else float
            low, high, mean = (None, None, None) if found is None or not size else (
                convert(found[1]), convert(found[2]), float(found[3]))
            return {
                "buckets": [bucket | {"count": counts.get((group, n), 0)} for n, bucket in enumerate(buckets)],
                "count": size, "min": low, "max": high, "average": mean,
            }

        return self.answer({grp: int(row[0]) for grp, row in stats.items()}, build)

    def _sessions(self) -> dict[str, Any]:
        r: Sessions = self.r
        d = self.d
        ev = self.ranged()
        gap_over = f"ts > {d.plus_minutes('prev', r.session_timeout_minutes)}"
        new_session = f"CASE WHEN prev IS NULL OR {gap_over} THEN 1 ELSE 0 END"
        sessions = (
            f"WITH ev AS ({ev}),"
            " o AS (SELECT profile_id, seq, ts, grp,"
            " lag(ts) OVER (PARTITION BY grp, profile_id ORDER BY ts, seq) AS prev FROM ev),"
            f" n AS (SELECT profile_id, seq, ts, grp, sum({new_session}) OVER (PARTITION BY grp, profile_id"
            " ORDER BY ts, seq ROWS UNBOUNDED PRECEDING) AS session FROM o),"
            " s AS (SELECT grp, profile_id, session,"
            f" {d.epoch_us('max(ts)')} - {d.epoch_us('min(ts)')} AS micros FROM n GROUP BY grp, profile_id, session)"
        )
        buckets = " ".join(
            f"WHEN micros < {upper * 1_000_000} THEN '{name}'"
            for name, upper in shape.SESSION_BUCKETS if upper is not None
        )
        last_bucket = shape.SESSION_BUCKETS[-1][0]
        lengths = self.fetch(
            f"{sessions} SELECT grp, CASE {buckets} ELSE '{last_bucket}' END AS bucket, count(*) FROM s"
            " GROUP BY grp, bucket"
        )
        per_user = self.fetch(
            f"{sessions} SELECT grp, profile_id, count(*) FROM s GROUP BY grp, profile_id"
        )
        heat = self.fetch(
            f"SELECT grp, {d.weekday('ts')} AS wd, {d.hour('ts')} AS h, count(*) FROM ({ev}) e GROUP BY grp, wd, h"
        )
        users: dict[Any, dict[int | str, int]] = defaultdict(lambda: defaultdict(int))
        counts: dict[Any, int] = defaultdict(int)
        for grp, _, n in per_user:
            users[grp][shape.per_user_bucket(int(n))] += 1
            counts[grp] += int(n)
        length = {(grp, bucket): int(n) for grp, bucket, n in lengths}
        cells = {(grp, int(wd), int(h)): int(n) for grp, wd, h, n in heat}
        sizes = {grp: sum(by_bucket.values()) for grp, by_bucket in users.items()}
        ranking = dict(counts)
        per_user_names = [shape.per_user_bucket(n) for n in range(1, shape.PER_USER_CAP + 1)]

        def build(group: Any) -> dict[str, Any]:
            return {
                "sessions": counts.get(group, 0),
                "users": sizes.get(group, 0),
                "per_user": [{"sessions": name, "users": users[group].get(name, 0)} for name in per_user_names],
                "length": [{"bucket": name, "sessions": length.get((group, name), 0)}
                           for name, _ in shape.SESSION_BUCKETS],
                "heatmap": [{"weekday": wd, "hour": h, "events": cells.get((group, wd, h), 0)}
                            for wd in range(7) for h in range(24)],
            }

        return self.answer(ranking, build)

    def _retention(self) -> dict[str, Any]:
        r: Retention = self.r
        d = self.d
        width = 7 if r.period == "week" else 1

        def period(instant: str) -> str:
            return d.week(d.day(instant)) if r.period == "week" else d.day(instant)

        first_all = self.events(since=None, until=_start(r.until))
        current = _as_date(self.now.date())
        current_period = current - timedelta(days=current.weekday()) if r.period == "week" else current
        first_period = r.since - timedelta(days=r.since.weekday()) if r.period == "week" else r.since
        group = d.first_by("grp", "ts", "seq") if self.grouped else "CAST(NULL AS VARCHAR)"
        slots = (current_period - first_period).days // width + 1
        since, now = d.instant(_start(r.since)), d.instant(self.now + timedelta(microseconds=1))
        if _start(r.until) > self.now and 1 < slots <= MASK_BITS:
            # The range reaches today and its periods fit a bit mask: one pass over the user's
            # events gives the first event and the periods active since the range began.
            slot = d.periods_since("ts", _start(first_period), width * 86_400)
            lags = range(1, min(r.periods, slots - 1) + 1)
            returns = ", ".join(
                f"sum(CASE WHEN first_slot + {k} < {slots} THEN (mask >> (first_slot + {k})) & 1 ELSE 0 END)"
                for k in lags)
            found = self.fetch(
                f"WITH u AS (SELECT profile_id, {group} AS grp, min(ts) AS first_ts,"
                f" bit_or(CASE WHEN ts >= {since} AND ts < {now} THEN CAST(1 AS BIGINT) << {slot}"
                f" ELSE CAST(0 AS BIGINT) END) AS mask FROM ({first_all}) a"
                f" GROUP BY profile_id HAVING min(ts) >= {since}),"
                f" c AS (SELECT grp, mask, {d.periods_since('first_ts', _start(first_period), width * 86_400)}"
                " AS first_slot FROM u)"
                f" SELECT grp, first_slot, count(*), {returns} FROM c GROUP BY grp, first_slot"
            )
            rows = []
            for grp, at, size, *back in found:
                cohort = first_period + timedelta(days=width * int(at))
                rows.append((grp, cohort, 0, size))
                rows += [(grp, cohort, k * width, n) for k, n in zip(lags, back, strict=True) if int(n)]
        else:
            # One pass finds each user's first event (and its group); activity is read only for
            # the users whose first event falls in the range. Lag 0 rows are the cohort sizes.
            activity = self.events(since=_start(r.since), until=self.now + timedelta(microseconds=1))
            rows = self.fetch(
                f"WITH c AS (SELECT profile_id, {group} AS grp, {period('min(ts)')} AS cohort FROM ({first_all}) a"
                f" GROUP BY profile_id HAVING min(ts) >= {since}),"
                f" p AS (SELECT DISTINCT y.profile_id, {period('y.ts')} AS at FROM ({activity}) y"
                " WHERE y.profile_id IN (SELECT profile_id FROM c))"
                " SELECT grp, cohort, 0 AS lag, count(*) FROM c GROUP BY grp, cohort"
                " UNION ALL SELECT c.grp, c.cohort, (p.at - c.cohort) AS lag, count(*)"
                " FROM c JOIN p ON p.profile_id = c.profile_id AND p.at > c.cohort"
                " GROUP BY c.grp, c.cohort, lag"
            )
        cohorts: dict[Any, dict[date, int]] = defaultdict(dict)
        retained: dict[tuple[Any, date, int], int] = {}
        for grp, cohort, lag, n in rows:
            if int(lag) == 0:
                cohorts[grp][_as_date(cohort)] = int(n)
            else:
                retained[(grp, _as_date(cohort), int(lag) // width)] = int(n)
        sizes = {grp: sum(by_cohort.values()) for grp, by_cohort in cohorts.items()}
        every = [first_period + timedelta(days=width * n)
                 for n in range((r.until - timedelta(days=1) - first_period).days // width + 1)]

        def build(group: Any) -> dict[str, Any]:
            result = []
            for cohort in every:
                size = cohorts.get(group, {}).get(cohort, 0)
                if cohort > current_period:  # not begun yet: nothing to show
                    counts: list[int] = []
                else:
                    reachable = min(r.periods, (current_period - cohort).days // width)
                    counts = [size] + [retained.get((group, cohort, k), 0) for k in range(1, reachable + 1)]
                result.append({"cohort": cohort.isoformat(), "size": size, "retained": counts})
            return {"cohorts": result}

        return self.answer(sizes, build)

    def _funnel(self) -> dict[str, Any]:
        r: Funnel = self.r
        d = self.d

        def step(index: int) -> str:
            item = r.steps[index]
            tests = [f"e.event = {d.text(item.event)}", *(self.condition("e.properties", f) for f in item.where)]
            return " AND ".join(tests)

        deadline = d.plus_minutes("s1.t1", r.window_minutes)
        ctes = [
            f"ev AS ({self.ranged()})",
            "s1 AS (SELECT profile_id, ts AS t1, grp FROM (SELECT e.profile_id, e.ts, e.grp, row_number() OVER"
            f" (PARTITION BY e.profile_id ORDER BY e.ts, e.seq) AS rn FROM ev e WHERE {step(0)}) x WHERE rn = 1)",
        ]
        for index in range(1, len(r.steps)):
            previous = "s1.t1" if index == 1 else f"s{index}.t{index}"
            chain = "" if index == 1 else f" JOIN s{index} ON s{index}.profile_id = s1.profile_id"
            ctes.append(
                f"s{index + 1} AS (SELECT s1.profile_id, min(e.ts) AS t{index + 1} FROM s1{chain}"
                f" JOIN ev e ON e.profile_id = s1.profile_id WHERE {step(index)} AND e.ts > {previous}"
                f" AND e.ts <= {deadline} GROUP BY s1.profile_id)"
            )
        columns = ["s1.grp", "count(*)"]
        joins = []
        for index in range(2, len(r.steps) + 1):
            joins.append(f"LEFT JOIN s{index} ON s{index}.profile_id = s1.profile_id")
            micros = f"{d.epoch_us(f's{index}.t{index}')} - {d.epoch_us('s1.t1')}"
            columns += [f"count(s{index}.t{index})", d.median(micros)]
        rows = self.fetch(
            f"WITH {', '.join(ctes)} SELECT {', '.join(columns)} FROM s1 {' '.join(joins)} GROUP BY s1.grp"
        )
        found = {row[0]: row[1:] for row in rows}

        def build(group: Any) -> dict[str, Any]:
            values = found.get(group)
            entered = int(values[0]) if values else 0
            steps = [{"step": 1, "event": r.steps[0].event, "users": entered,
                      "conversion": 1.0 if entered else 0.0, "median_seconds_to_step": 0.0 if entered else None}]
            for index in range(1, len(r.steps)):
                reached = int(values[2 * index - 1]) if values else 0
                median = values[2 * index] if values else None
                steps.append({
                    "step": index + 1, "event": r.steps[index].event, "users": reached,
                    "conversion": shape.ratio(reached, entered),
                    "median_seconds_to_step": float(median) / 1_000_000 if median is not None and reached else None,
                })
            return {"steps": steps}

        return self.answer({grp: int(values[0]) for grp, values in found.items()}, build)

    def _paths(self) -> dict[str, Any]:
        r: Paths = self.r
        step = "lead" if r.direction == "next" else "lag"
        columns = ", ".join(f"{step}(event, {n}) OVER w AS s{n}" for n in range(1, r.depth + 1))
        names = ", ".join(f"s{n}" for n in range(1, r.depth + 1))
        origin = self.d.text(r.from_)
        # Only users with the event in the range have paths from it: their events alone are sorted.
        rows = self.fetch(
            f"WITH ev AS ({self.ranged()})"
            f" SELECT {names}, count(*) FROM (SELECT event, {columns} FROM ev"
            f" WHERE profile_id IN (SELECT profile_id FROM ev WHERE event = {origin})"
            " WINDOW w AS (PARTITION BY profile_id ORDER BY ts, seq)) o"
            f" WHERE event = {origin} GROUP BY {names}"
        )
        paths: dict[tuple[str, ...], int] = defaultdict(int)
        for row in rows:
            steps: list[str] = []
            for name in row[:-1]:
                if name is None:
                    steps.append(shape.END)
                    break
                steps.append(str(name))
            paths[tuple(steps)] += int(row[-1])
        return shape.sankey(paths.items(), origin=r.from_, top=r.top)

    def _affinity(self) -> dict[str, Any]:
        _: Affinity = self.r
        orders = self.ranged(extra=f"e.event = {self.d.text(ORDER_COMPLETED)}")
        items = self.d.array_item_texts("o", "s.properties", "products", "category")
        rows = self.fetch(
            f"WITH o AS ({orders}), c AS (SELECT DISTINCT seq, item AS category FROM ({items}) i"
            " WHERE item IS NOT NULL)"
            " SELECT a.category, b.category, count(*) FROM c a JOIN c b ON a.seq = b.seq"
            " AND a.category <> b.category GROUP BY a.category, b.category"
        )
        # Both orders of each pair come back; the pair is named in code-point order here,
        # where every engine's collation agrees.
        pairs = [{"a": a, "b": b, "orders": int(n)} for a, b, n in rows if a < b]
        pairs.sort(key=lambda pair: (-pair["orders"], pair["a"], pair["b"]))
        return {"pairs": pairs}

    def _geography(self) -> dict[str, Any]:
        r: Geography = self.r
        place = self.d.json_scalar_text("p.computed", ["location", r.level])
        rows = self.fetch(
            f"WITH u AS (SELECT DISTINCT profile_id FROM ({self.ranged()}) e)"
            f" SELECT {place} AS place, count(*) FROM u JOIN mart_profiles p ON p.workspace_id = {self.ws}"
            " AND p.profile_id = u.profile_id GROUP BY place"
        )
        places = [{"place": place, "users": int(n)} for place, n in rows]
        places.sort(key=lambda item: (-item["users"], item["place"] is None, str(item["place"])))
        return {"places": places}


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
