"""The analytics oracle's readings of the trickiest rules, pinned on tiny hand-built datasets, and
the catalogue's fitness: every request has a non-trivial answer on the synthetic dataset, and the
data keeps clear of the edges where rounding rather than the rules would decide."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.analytics.catalog import EMPTY_BY_DESIGN, REQUESTS
from tests.analytics.dataset import (
    EDGES_S,
    NOW,
    OTHER_WORKSPACE,
    WORKSPACE,
    build_dataset,
    make_analytics_dataset,
)
from tests.analytics.oracle import ratio, report, text
from tests.segments.dataset import Dataset

T0 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # a Wednesday
JSON = dict[str, Any]


def _data(events: list[JSON], *, people: str = "ABCDEFGH", members: list[JSON] | None = None) -> Dataset:
    """A dataset where person X is profile X with user id uX; events name their person as ``who``."""
    rows = []
    for event in events:
        row = {key: value for key, value in event.items() if key != "who"}
        if "who" in event:
            row["user_id"] = f"u{event['who']}"
        rows.append(row)
    profiles = [{"profile_id": p} for p in people]
    identities = [{"kind": "user_id", "value": f"u{p}", "profile_id": p} for p in people]
    return make_analytics_dataset(events=rows, profiles=profiles, identities=identities, members=members or [])


def _ev(who: str, name: str, at: datetime, **fields: Any) -> JSON:
    return {"who": who, "event": name, "timestamp": at, **fields}


def _run(request: JSON, data: Dataset, now: datetime = NOW) -> JSON:
    return report(request, data, workspace_id=WORKSPACE, now=now)


def _day(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


# --- sessions ------------------------------------------------------------------------------------

def test_a_gap_longer_than_the_timeout_splits_a_session() -> None:
    data = _data([_ev("A", "Home", T0), _ev("A", "Cart", T0 + timedelta(minutes=30)),
                  _ev("A", "Home", T0 + timedelta(minutes=60, microseconds=1))])
    request = {"report": "sessions", "since": "2026-06-10", "until": "2026-06-11"}
    answer = _run(request, data)
    assert (answer["sessions"], answer["users"]) == (2, 1)  # exactly 30 minutes apart: one session
    assert answer["per_user"][1] == {"sessions": 2, "users": 1}
    assert {b["bucket"]: b["sessions"] for b in answer["length"] if b["sessions"]} == {"30-60m": 1, "0-10s": 1}
    assert _run({**request, "session_timeout_minutes": 29}, data)["sessions"] == 3


def test_session_lengths_fall_in_the_bucket_of_their_lower_bound() -> None:
    seconds = [0, 9.999999, 10, 29.999999, 30, 60, 179, 180, 600, 1800, 3599.999999, 3600, 7000]
    people = "ABCDEFGHIJKLM"
    events = []
    for who, length in zip(people, seconds, strict=True):
        events += [_ev(who, "Home", T0), _ev(who, "Cart", T0 + timedelta(seconds=length))]
    answer = _run({"report": "sessions", "since": "2026-06-10", "until": "2026-06-11",
                   "session_timeout_minutes": 120}, _data(events, people=people))
    assert {b["bucket"]: b["sessions"] for b in answer["length"]} == {
        "0-10s": 2, "10-30s": 2, "30-60s": 1, "1-3m": 2, "3-10m": 1, "10-30m": 1, "30-60m": 2, "60m+": 2}
    assert answer["per_user"][0] == {"sessions": 1, "users": 13}
    assert answer["per_user"][-1] == {"sessions": "10+", "users": 0}
    heat = {(c["weekday"], c["hour"]): c["events"] for c in answer["heatmap"]}
    assert len(heat) == 168
    assert (heat[(2, 9)], heat[(2, 10)], sum(heat.values())) == (24, 2, 26)  # by each event's own hour


def test_an_event_dimension_sessionises_each_group_on_its_own() -> None:
    ios, android = {"os": {"name": "iOS"}}, {"os": {"name": "Android"}}
    data = _data([_ev("A", "Home", T0, context=ios), _ev("A", "Home", T0 + timedelta(minutes=10), context=android),
                  _ev("A", "Home", T0 + timedelta(minutes=20), context=ios)])
    request = {"report": "sessions", "since": "2026-06-10", "until": "2026-06-11", "session_timeout_minutes": 15}
    assert _run(request, data)["sessions"] == 1
    grouped = _run({**request, "group_by": {"source": "context", "path": "os.name"}}, data)
    assert [(g["group"], g["sessions"]) for g in grouped["groups"]] == [("iOS", 2), ("Android", 1)]


# --- active, new and returning users -----------------------------------------------------------

def test_wau_and_mau_look_back_before_since() -> None:
    data = _data([_ev("A", "Home", _day("2026-05-26")), _ev("B", "Home", _day("2026-05-03")),
                  _ev("C", "Home", _day("2026-06-02"))])
    answer = _run({"report": "active_users", "since": "2026-06-01", "until": "2026-06-03"}, data)
    assert answer["series"] == [
        {"date": "2026-06-01", "dau": 0, "wau": 1, "mau": 2, "stickiness": 0.0},
        {"date": "2026-06-02", "dau": 1, "wau": 1, "mau": 2, "stickiness": 0.5},
    ]


def test_ratios_round_half_up_on_the_exact_quotient() -> None:
    assert (ratio(1, 160), ratio(1, 32), ratio(2, 3), ratio(0, 0), ratio(5, 5)) == (0.0063, 0.0313, 0.6667, 0.0, 1.0)


def test_new_and_returning_use_first_seen_before_the_range() -> None:
    data = _data([
        _ev("A", "Home", _day("2026-05-20"), properties={"kind": "x"}), _ev("A", "Home", _day("2026-06-01")),
        _ev("B", "Home", T0.replace(day=1, hour=8)), _ev("B", "Home", T0.replace(day=1, hour=20)),
        _ev("B", "Home", _day("2026-06-02")),
        _ev("C", "Segment Entered", _day("2026-05-15"), source="segments"), _ev("C", "Home", _day("2026-06-02")),
    ])
    request = {"report": "new_vs_returning", "since": "2026-06-01", "until": "2026-06-03"}
    assert _run(request, data)["series"] == [{"date": "2026-06-01", "new": 1, "returning": 1},
                                             {"date": "2026-06-02", "new": 1, "returning": 1}]
    # `where` narrows what an event is, first seen included: A's earlier event no longer matches.
    where = [{"property": "kind", "operator": "ne", "value": "x"}]
    assert _run({**request, "where": where}, data)["series"][0] == {"date": "2026-06-01", "new": 2, "returning": 0}


def test_first_seen_does_not_depend_on_the_group() -> None:
    ios, android = {"os": {"name": "iOS"}}, {"os": {"name": "Android"}}
    data = _data([_ev("A", "Home", _day("2026-06-01"), context=ios),
                  _ev("A", "Home", _day("2026-06-02"), context=android)])
    answer = _run({"report": "new_vs_returning", "since": "2026-06-02", "until": "2026-06-03",
                   "group_by": {"source": "context", "path": "os.name"}}, data)
    assert answer == {"report": "new_vs_returning", "since": "2026-06-02", "until": "2026-06-03", "groups_omitted": 0,
                      "groups": [{"group": "Android", "series": [{"date": "2026-06-02", "new": 0, "returning": 1}]}]}


# --- retention --------------------------------------------------------------------------------------

def test_retention_k0_is_the_cohort_and_periods_past_now_are_omitted() -> None:
    data = _data([
        _ev("A", "Home", _day("2026-06-12")), _ev("A", "Home", _day("2026-06-13")),
        _ev("A", "Home", NOW - timedelta(minutes=1)), _ev("B", "Home", _day("2026-06-14")),
        _ev("C", "Home", _day("2026-06-10")), _ev("C", "Home", _day("2026-06-12")),  # first seen before the range
        _ev("D", "Home", _day("2026-06-04")), _ev("D", "Home", _day("2026-06-09")),
        _ev("E", "Home", _day("2026-06-02")),
    ])
    daily = _run({"report": "retention", "since": "2026-06-12", "until": "2026-06-15", "period": "day",
                  "periods": 5}, data)
    assert daily["cohorts"] == [
        {"cohort": "2026-06-12", "size": 1, "retained": [1, 1, 0, 1]},  # k = 4 would be tomorrow
        {"cohort": "2026-06-13", "size": 0, "retained": [0, 0, 0]},
        {"cohort": "2026-06-14", "size": 1, "retained": [1, 0]},
    ]
    weekly = _run({"report": "retention", "since": "2026-06-03", "until": "2026-06-16", "period": "week",
                   "periods": 3}, data)
    assert weekly["cohorts"] == [  # the first cohort is labelled by its Monday, before `since`
        {"cohort": "2026-06-01", "size": 1, "retained": [1, 1, 0]},  # E's first event (06-02) is before it
        {"cohort": "2026-06-08", "size": 3, "retained": [3, 1]},
        {"cohort": "2026-06-15", "size": 0, "retained": [0]},
    ]


# --- funnels -----------------------------------------------------------------------------------------

def _funnel(*events: str, window: int) -> JSON:
    return {"report": "funnel", "since": "2026-06-10", "until": "2026-06-11", "window_minutes": window,
            "steps": [{"event": e} for e in events]}


def test_funnel_steps_are_strictly_after_and_the_window_runs_from_step_one() -> None:
    minutes = [T0 + timedelta(minutes=m) for m in range(0, 70, 5)]
    data = _data([
        _ev("A", "Product Viewed", T0), _ev("A", "Product Added", T0),  # same instant: does not follow
        _ev("A", "Product Added", minutes[2]), _ev("A", "Checkout Started", minutes[13]),  # 65 min after step 1
        _ev("B", "Product Viewed", T0), _ev("B", "Product Added", minutes[4]),
        _ev("B", "Checkout Started", minutes[12]),  # exactly 60 minutes: inside
    ])
    steps = _run(_funnel("Product Viewed", "Product Added", "Checkout Started", window=60), data)["steps"]
    assert [(s["users"], s["conversion"], s["median_seconds_to_step"]) for s in steps] == [
        (2, 1.0, 0.0), (2, 1.0, 900.0), (1, 0.5, 3600.0)]


def test_the_earliest_step_one_starts_the_attempt() -> None:
    data = _data([_ev("A", "Product Viewed", T0), _ev("A", "Product Viewed", T0 + timedelta(hours=2)),
                  _ev("A", "Product Added", T0 + timedelta(hours=2, minutes=5)),
                  _ev("B", "Product Viewed", T0 - timedelta(days=1)),  # before the range
                  _ev("B", "Product Added", T0 + timedelta(minutes=5))])
    steps = _run(_funnel("Product Viewed", "Product Added", window=60), data)["steps"]
    assert [(s["step"], s["users"], s["median_seconds_to_step"]) for s in steps] == [(1, 1, 0.0), (2, 0, None)]


# --- paths and affinity ----------------------------------------------------------------------------

def test_paths_order_ties_by_seq_and_end_with_end() -> None:
    data = _data([
        _ev("A", "Product Viewed", T0, seq=10), _ev("A", "Pricing", T0, seq=5), _ev("A", "Home", T0, seq=20),
        _ev("A", "Cart", T0 + timedelta(minutes=1), seq=1),
        _ev("B", "Product Viewed", T0, seq=30), _ev("B", "Signed In", T0 + timedelta(days=3), seq=31),
    ])
    request = {"report": "paths", "since": "2026-06-10", "until": "2026-06-16", "from": "Product Viewed",
               "direction": "next", "depth": 3, "top": 1}
    answer = _run(request, data)
    assert [(n["id"], n["count"]) for n in answer["nodes"]] == [
        ("0:Product Viewed", 2), ("1:(other)", 1), ("1:Home", 1), ("2:(end)", 1), ("2:Cart", 1), ("3:(end)", 1)]
    assert [(link["source"], link["target"], link["count"]) for link in answer["links"]] == [
        ("0:Product Viewed", "1:(other)", 1), ("0:Product Viewed", "1:Home", 1), ("1:(other)", "2:(end)", 1),
        ("1:Home", "2:Cart", 1), ("2:Cart", "3:(end)", 1)]
    backwards = _run({**request, "direction": "previous", "depth": 2, "top": 5}, data)
    assert [n["id"] for n in backwards["nodes"]] == ["0:Product Viewed", "1:(end)", "1:Pricing", "2:(end)"]


def test_affinity_counts_each_pair_once_per_order() -> None:
    def order(products: Any, name: str = "Order Completed") -> JSON:
        return _ev("A", name, T0, properties={"products": products})

    data = _data([
        order([{"category": "shoes"}, {"category": "shoes"}, {"category": "bags"}]),
        order([{"category": "bags"}, {"category": "shoes"}, {"sku": "x"}, {"category": None}, "shoes"]),
        order([{"category": "Shoes"}, {"category": "shoes"}]),
        order([{"category": "bags"}, {"category": "jackets"}], name="order completed"),
        order({"category": "bags"}), order([{"category": "hats"}]),
    ])
    answer = _run({"report": "affinity", "since": "2026-06-10", "until": "2026-06-11"}, data)
    assert answer["pairs"] == [{"a": "bags", "b": "shoes", "orders": 2}, {"a": "Shoes", "b": "shoes", "orders": 1}]


# --- what counts -------------------------------------------------------------------------------------

def test_platform_events_identify_and_nobody_do_not_count() -> None:
    data = _data([
        _ev("A", "Segment Entered", T0, source="segments"), _ev("B", "Segment Exited", NOW, source="segments"),
        {"type": "identify", "user_id": "uC", "timestamp": T0},
        {"event": "Home", "user_id": "ghost", "timestamp": T0},
        _ev("D", "Segment Entered", T0 + timedelta(hours=1)),  # sent through the API: an ordinary event
    ])
    request = {"report": "events", "since": "2026-06-10", "until": "2026-06-11"}
    assert _run(request, data)["total"] == 1
    assert _run({**request, "measure": "users", "event": "Segment Entered"}, data)["total"] == 1
    assert sum(m["events"] for m in _run({"report": "live"}, data)["series"]) == 0


def test_the_other_workspace_never_counts() -> None:
    other = OTHER_WORKSPACE  # the same profile id and user id texts, another person
    data = make_analytics_dataset(
        events=[{"user_id": "uA", "event": "Home", "timestamp": T0},
                {"workspace_id": other, "user_id": "uA", "event": "Home", "timestamp": T0},
                {"workspace_id": other, "user_id": "uB", "event": "Home", "timestamp": T0}],
        profiles=[{"profile_id": "A"}, {"workspace_id": other, "profile_id": "A"},
                  {"workspace_id": other, "profile_id": "B"}],
        identities=[{"kind": "user_id", "value": "uA", "profile_id": "A"},
                    {"workspace_id": other, "kind": "user_id", "value": "uA", "profile_id": "A"},
                    {"workspace_id": other, "kind": "user_id", "value": "uB", "profile_id": "B"}],
        members=[{"workspace_id": other, "segment_id": "seg_x", "profile_id": "A"}],
    )
    request = {"report": "events", "since": "2026-06-10", "until": "2026-06-11", "measure": "count"}
    assert _run(request, data)["total"] == 1
    grouped = _run({**request, "group_by": {"source": "segment", "segment_id": "seg_x"}}, data)
    assert [(g["group"], g["total"]) for g in grouped["groups"]] == [("not member", 1)]


def test_live_covers_the_current_minute_and_the_four_before() -> None:
    data = _data([_ev("A", "Home", datetime(2026, 6, 15, 11, 55, 59, 999999, tzinfo=UTC)),
                  _ev("A", "Home", datetime(2026, 6, 15, 11, 56, tzinfo=UTC)),
                  _ev("B", "Home", datetime(2026, 6, 15, 11, 56, 40, tzinfo=UTC)), _ev("B", "Home", NOW)])
    assert _run({"report": "live"}, data) == {"report": "live", "series": [
        {"minute": "2026-06-15T11:56:00Z", "events": 2, "users": 2},
        {"minute": "2026-06-15T11:57:00Z", "events": 0, "users": 0},
        {"minute": "2026-06-15T11:58:00Z", "events": 0, "users": 0},
        {"minute": "2026-06-15T11:59:00Z", "events": 0, "users": 0},
        {"minute": "2026-06-15T12:00:00Z", "events": 1, "users": 1},
    ]}


# --- groups ----------------------------------------------------------------------------------------

def test_groups_are_text_ranked_by_size_then_name_and_at_most_twenty() -> None:
    values: list[Any] = [19.99, "19.99", True, "true", None, 120, 2.5, *[f"v{k:02d}" for k in range(22)]]
    events = [_ev("A", "Home", T0, properties={"x": v}) for v in values] + [_ev("A", "Home", T0)]
    answer = _run({"report": "events", "since": "2026-06-10", "until": "2026-06-11",
                   "group_by": {"source": "event", "path": "x"}}, _data(events))
    ranked = [(g["group"], g["total"]) for g in answer["groups"]]
    assert ranked[:4] == [("19.99", 2), ("true", 2), (None, 2), ("120", 1)]
    assert ranked[4:6] == [("2.5", 1), ("v00", 1)]
    assert len(ranked) == 20
    assert answer["groups_omitted"] == 7
    assert (text(False), text(3), text(3.0), text({"a": 1})) == ("false", "3", "3.0", '{"a":1}')


def test_retention_and_funnel_groups_come_from_the_first_and_step_one_events() -> None:
    ios, android = {"os": {"name": "iOS"}}, {"os": {"name": "Android"}}
    data = _data([_ev("A", "Product Viewed", T0, context=ios),
                  _ev("A", "Product Added", T0 + timedelta(minutes=5), context=android),
                  _ev("A", "Home", T0 + timedelta(days=1), context=android)])
    group_by = {"source": "context", "path": "os.name"}
    retention = _run({"report": "retention", "since": "2026-06-10", "until": "2026-06-11", "period": "day",
                      "periods": 1, "group_by": group_by}, data)
    assert retention["groups"] == [{"group": "iOS", "cohorts": [
        {"cohort": "2026-06-10", "size": 1, "retained": [1, 1]}]}]
    funnel = _run({**_funnel("Product Viewed", "Product Added", window=10), "group_by": group_by}, data)
    assert [(g["group"], [s["users"] for s in g["steps"]]) for g in funnel["groups"]] == [("iOS", [1, 1])]


def test_geography_reads_the_latest_location_of_active_users() -> None:
    places = {"A": {"country": "DE", "region": "Berlin"}, "B": {"country": "DE"}, "C": None, "D": {"country": "FR"}}
    data = make_analytics_dataset(
        events=[{"user_id": f"u{p}", "event": "Home", "timestamp": T0} for p in "ABC"],  # D is not active
        profiles=[{"profile_id": p, "computed": {"location": loc}} for p, loc in places.items()],
        identities=[{"kind": "user_id", "value": f"u{p}", "profile_id": p} for p in places],
    )
    request = {"report": "geography", "since": "2026-06-10", "until": "2026-06-11", "level": "country"}
    assert _run(request, data)["places"] == [{"place": "DE", "users": 2}, {"place": None, "users": 1}]
    assert _run({**request, "level": "region"}, data)["places"] == [
        {"place": None, "users": 2}, {"place": "Berlin", "users": 1}]


# --- the catalogue on the synthetic dataset ---------------------------------------------------------

@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


def _substance(answer: JSON) -> bool:
    """Return whether an answer has something in it (for grouped answers: at least two groups)."""
    if "groups" in answer:
        return sum(_substance(g) for g in answer["groups"]) >= 2
    kind = answer.get("report")
    if "series" in answer:
        keys = [k for k in answer["series"][0] if k not in ("date", "minute", "stickiness")]
        return any(point[k] for point in answer["series"] for k in keys)
    if "steps" in answer:
        return answer["steps"][0]["users"] > answer["steps"][-1]["users"] > 0
    if "cohorts" in answer:
        return any(c["size"] and any(c["retained"][1:]) for c in answer["cohorts"])
    if "buckets" in answer:  # values spread over more than one bucket
        return sum(1 for bucket in answer["buckets"] if bucket["count"]) >= 2
    for field in ("sessions", "nodes", "pairs", "places"):
        if field in answer:
            return bool(answer[field])
    raise AssertionError(f"unknown answer shape for {kind}")


@pytest.mark.parametrize(("name", "request_"), REQUESTS, ids=[name for name, _ in REQUESTS])
def test_every_catalogue_request_has_an_answer(name: str, request_: JSON, dataset: Dataset) -> None:
    answer = report(request_, dataset, workspace_id=WORKSPACE, now=NOW)
    assert answer["report"] == request_["report"]
    assert _substance(answer) != (name in EMPTY_BY_DESIGN)


def test_the_catalogue_covers_every_report_and_option() -> None:
    requests = [r for _, r in REQUESTS]
    assert len(requests) >= 40
    assert len({n for n, _ in REQUESTS}) == len(REQUESTS)
    kinds = {r["report"] for r in requests}
    assert kinds == {"active_users", "new_vs_returning", "live", "events", "distribution", "sessions", "retention",
                     "funnel", "paths", "affinity", "geography"}
    assert {r.get("of", "property") for r in requests if r["report"] == "distribution"} == {
        "property", "events_per_user"}
    assert {r.get("measure", "count") for r in requests if r["report"] == "events"} == {
        "count", "users", "sum", "average"}
    assert {r["period"] for r in requests if r["report"] == "retention"} == {"day", "week"}
    assert {len(r["steps"]) for r in requests if r["report"] == "funnel"} == {2, 3, 4}
    assert {r["direction"] for r in requests if r["report"] == "paths"} == {"next", "previous"}
    assert {r["group_by"]["source"] for r in requests if "group_by" in r} == {"event", "context", "trait", "segment"}
    assert any("filter" in r for r in requests)
    assert any("where" in r for r in requests)


def test_some_catalogue_answers_omit_groups_and_fold_paths(dataset: Dataset) -> None:
    answers = {name: report(r, dataset, workspace_id=WORKSPACE, now=NOW) for name, r in REQUESTS}
    assert answers["events_count_by_sku"]["groups_omitted"] > 0
    assert all(any(n["event"] == "(other)" for n in answers[name]["nodes"])
               for name, r in REQUESTS if r["report"] == "paths" and r["top"] <= 3)
    assert {g["group"] for g in answers["active_users_by_vip"]["groups"]} == {"member", "not member"}


# --- the dataset --------------------------------------------------------------------------------------

def _owned_times(data: Dataset) -> dict[tuple[str, str], list[datetime]]:
    """Return each (workspace, profile)'s event times, ownership as the oracle reads it."""
    owner = {(r["workspace_id"], r["kind"], r["value"]): r["profile_id"] for r in data.identities.to_dict("records")}
    times: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for row in data.events.to_dict("records"):
        ws = row["workspace_id"]
        profile = owner.get((ws, "user_id", row["user_id"])) or owner.get((ws, "anonymous_id", row["anonymous_id"]))
        if profile is not None:
            times[(ws, profile)].append(row["timestamp"].to_pydatetime())
    return {key: sorted(moments) for key, moments in times.items()}


def test_the_dataset_keeps_clear_of_the_edges(dataset: Dataset) -> None:
    events = dataset.events
    assert 12_000 <= int((events["workspace_id"] == WORKSPACE).sum()) <= 18_000
    assert events["seq"].is_unique
    assert events["timestamp"].max() <= NOW
    assert set(events["source"]) == {"api", "segments"}
    assert (events.groupby(["workspace_id", "timestamp"]).size() > 1).sum() > 50  # ties for seq to decide
    close = []
    for key, moments in _owned_times(dataset).items():
        for moment in moments:
            for edge in EDGES_S:
                low = bisect_left(moments, moment + timedelta(seconds=edge - 1))
                if low < len(moments) and moments[low] < moment + timedelta(seconds=edge + 1):
                    close.append((key, moment, edge))
    assert close == []
