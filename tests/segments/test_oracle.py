"""The oracle's readings of the trickiest rules, pinned on tiny hand-built datasets, and the
catalogue's fitness: every entry parses, nearly all are non-trivial, and the data keeps clear
of the exact edges where rounding rather than the rules would decide."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopline.domain.segments.definition import parse_segment
from tests.segments.catalog import CATALOG
from tests.segments.dataset import NOW, OTHER_WORKSPACE, WORKSPACE, Dataset, build_dataset, make_dataset
from tests.segments.oracle import distance_km, evaluate, owned_events, parse_date

LONG_AGO = NOW - timedelta(days=400)


def _run(condition: dict[str, Any], data: Dataset, now: datetime = NOW, workspace_id: str = WORKSPACE) -> set[str]:
    return evaluate(parse_segment({"name": "t", "condition": condition}), data, workspace_id=workspace_id, now=now)


def _profiles(*ids: str, **traits_by_id: Any) -> list[dict[str, Any]]:
    return [{"profile_id": p, "traits": traits_by_id.get(p, {})} for p in ids]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


# --- ownership ---------------------------------------------------------------------------------

def test_an_event_belongs_to_its_user_id_before_its_anonymous_id() -> None:
    data = make_dataset(
        profiles=_profiles("A", "B"),
        identities=[
            {"kind": "user_id", "value": "u1", "profile_id": "A"},
            {"kind": "anonymous_id", "value": "x1", "profile_id": "B"},
            {"kind": "anonymous_id", "value": "x2", "profile_id": "B"},
            {"workspace_id": OTHER_WORKSPACE, "kind": "user_id", "value": "u1", "profile_id": "C"},
        ],
        events=[
            {"event": "Signed In", "user_id": "u1", "anonymous_id": "x1", "timestamp": NOW - timedelta(hours=5)},
            {"event": "Signed In", "user_id": "ghost", "anonymous_id": "x2", "timestamp": NOW - timedelta(hours=4)},
            {"event": "Signed In", "user_id": None, "anonymous_id": "x1", "timestamp": NOW - timedelta(hours=3)},
            {"event": "Signed In", "user_id": "ghost", "anonymous_id": "ghost", "timestamp": NOW - timedelta(hours=2)},
            {"workspace_id": OTHER_WORKSPACE, "event": "Signed In", "user_id": "u1", "timestamp": NOW - timedelta(1)},
        ],
    )
    exactly = {"type": "performed", "event": "Signed In", "count": {"operator": "exactly", "value": 1}}
    assert _run(exactly, data) == {"A"}
    assert _run({**exactly, "count": {"operator": "exactly", "value": 2}}, data) == {"B"}
    assert _run({"type": "performed", "event": "Signed In"}, data, workspace_id=OTHER_WORKSPACE) == set()


# --- values --------------------------------------------------------------------------------------

def test_ne_and_not_in_match_profiles_without_the_value() -> None:
    data = make_dataset(profiles=[
        {"profile_id": "pro", "traits": {"plan": "pro"}}, {"profile_id": "free", "traits": {"plan": "free"}},
        {"profile_id": "null", "traits": {"plan": None}}, {"profile_id": "missing", "traits": {}},
        {"profile_id": "number", "traits": {"plan": 1}}, {"profile_id": "Pro", "traits": {"plan": "Pro"}},
    ])
    everyone = {"pro", "free", "null", "missing", "number", "Pro"}
    assert _run({"type": "trait", "trait": "plan", "operator": "ne", "value": "pro"}, data) == everyone - {"pro"}
    not_in = {"type": "trait", "trait": "plan", "operator": "not_in", "values": ["pro", "free"]}
    assert _run(not_in, data) == {"null", "missing", "number", "Pro"}
    assert _run({"type": "trait", "trait": "plan", "operator": "not_exists"}, data) == {"null", "missing"}


def test_a_number_equals_numbers_only() -> None:
    ages = {"int": 42, "float": 42.0, "text": "42", "bool": True, "more": 42.5, "one": 1}
    data = make_dataset(profiles=[{"profile_id": k, "traits": {"age": v}} for k, v in ages.items()])
    age = {"type": "trait", "trait": "age"}
    assert _run({**age, "operator": "eq", "value": 42}, data) == {"int", "float"}
    assert _run({**age, "operator": "eq", "value": "42"}, data) == {"text"}
    assert _run({**age, "operator": "eq", "value": True}, data) == {"bool"}
    assert _run({**age, "operator": "eq", "value": 1}, data) == {"one"}  # true is not 1
    assert _run({**age, "operator": "gt", "value": 41}, data) == {"int", "float", "more"}


def test_nested_paths_walk_objects_only() -> None:
    data = make_dataset(profiles=[
        {"profile_id": "nested", "traits": {"address": {"city": "Berlin"}}},
        {"profile_id": "flat", "traits": {"address.city": "Berlin"}},
        {"profile_id": "text", "traits": {"address": "Berlin"}},
        {"profile_id": "array", "traits": {"tags": ["Berlin"]}},
    ])
    assert _run({"type": "trait", "trait": "address.city", "operator": "eq", "value": "Berlin"}, data) == {"nested"}
    assert _run({"type": "trait", "trait": "tags.0", "operator": "exists"}, data) == set()
    assert _run({"type": "trait", "trait": "tags", "operator": "contains", "value": "berlin"}, data) == set()
    assert _run({"type": "trait", "trait": "address", "operator": "contains", "value": "berl"}, data) == {"text"}


def test_dates_in_every_form_and_not_dates() -> None:
    forms = {
        "date": "2026-05-01", "z": "2026-05-01T09:30:00Z", "offset": "2026-05-01T11:30:00+02:00",
        "naive": "2026-05-01T09:30:00", "fraction": "2026-05-01T09:30:00.250Z", "minutes": "2026-05-01T09:30Z",
        "no_day": "2026-02-30", "words": "soon", "space": "2026-05-01 09:30:00", "number": 1777627800,
    }
    data = make_dataset(profiles=[{"profile_id": k, "traits": {"d": v}} for k, v in forms.items()])
    d = {"type": "trait", "trait": "d"}
    assert _run({**d, "operator": "gte", "value": "2026-05-01T09:30:00Z"}, data) == {
        "z", "offset", "naive", "fraction", "minutes"}
    assert _run({**d, "operator": "gt", "value": "2026-05-01T09:30:00Z"}, data) == {"fraction"}
    assert _run({**d, "operator": "lt", "value": "2026-05-01T09:30:00+00:00"}, data) == {"date"}
    assert _run({**d, "operator": "eq", "value": "2026-05-01"}, data) == {"date"}  # eq compares text
    assert _run({**d, "operator": "within_last_days", "days": 60}, data) == {
        "date", "z", "offset", "naive", "fraction", "minutes"}
    assert parse_date("2026-05-01T11:30:00+02:00") == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("now", "days", "expected"), [
    (datetime(2026, 12, 28, 12, tzinfo=UTC), 7, {"dec28", "jan04", "dec31_late"}),
    (datetime(2027, 2, 27, 12, tzinfo=UTC), 1, set()),  # 27–28 Feb: 29 Feb lies after the window
    (datetime(2027, 2, 27, 12, tzinfo=UTC), 2, {"feb29", "mar01"}),  # 27 Feb – 1 Mar spans it
    (datetime(2027, 3, 1, 12, tzinfo=UTC), 1, {"mar01"}),
    (datetime(2028, 2, 28, 12, tzinfo=UTC), 1, {"feb29"}),  # a leap year has the day itself
    (datetime(2028, 2, 29, 12, tzinfo=UTC), 1, {"feb29", "mar01"}),
    (datetime(2026, 6, 15, 12, tzinfo=UTC), 365, {"dec27", "dec28", "jan04", "jan05", "feb29", "mar01", "dec31_late"}),
])
def test_anniversaries_wrap_the_year_and_place_29_february(now: datetime, days: int, expected: set[str]) -> None:
    birthdays = {"dec27": "1990-12-27", "dec28": "1990-12-28", "jan04": "1991-01-04", "jan05": "1991-01-05",
                 "feb29": "1988-02-29", "mar01": "1990-03-01", "dec31_late": "1990-12-31T23:30:00-02:00",
                 "junk": "soon"}
    data = make_dataset(profiles=[{"profile_id": k, "traits": {"birthday": v}} for k, v in birthdays.items()])
    condition = {"type": "trait", "trait": "birthday", "operator": "anniversary_within_next_days", "days": days}
    assert _run(condition, data, now=now) == expected


# --- events ---------------------------------------------------------------------------------------

def _owned(profiles: dict[str, list[tuple[str, timedelta]]], **extra: Any) -> Dataset:
    """A dataset where each profile's user id is its own id, with (event, age) pairs."""
    return make_dataset(
        profiles=extra.pop("profile_rows", None) or _profiles(*profiles),
        identities=[{"kind": "user_id", "value": p, "profile_id": p} for p in profiles],
        events=[{"type": extra.get("types", {}).get(name, "track"), "event": name if name != "identify" else None,
                 "user_id": p, "timestamp": NOW - age} for p, items in profiles.items() for name, age in items],
    )


def test_then_absent_needs_the_first_event_old_enough() -> None:
    minutes = timedelta(minutes=1)
    data = _owned({
        "recent": [("Product Added", 30 * minutes)],
        "abandoned": [("Product Added", 180 * minutes)],
        "bought": [("Product Added", 180 * minutes), ("Order Completed", 160 * minutes)],
        "same_time": [("Product Added", 180 * minutes), ("Order Completed", 180 * minutes)],
        "too_late": [("Product Added", 300 * minutes), ("Order Completed", 210 * minutes)],
        "before": [("Order Completed", 200 * minutes), ("Product Added", 180 * minutes)],
    })
    sequence = {"type": "sequence", "first": {"event": "Product Added"}, "then": {"event": "Order Completed"},
                "within_minutes": 60}
    assert _run({**sequence, "then_absent": True}, data) == {"abandoned", "same_time", "too_late", "before"}
    assert _run(sequence, data) == {"bought"}


def test_inactive_needs_the_profile_known_long_enough() -> None:
    day = timedelta(days=1)
    rows = [
        {"profile_id": "lapsed", "created_at": NOW - 60 * day},
        {"profile_id": "new", "created_at": NOW - 10 * day},
        {"profile_id": "imported", "created_at": NOW - 5 * day,
         "computed": {"first_seen": (NOW - 90 * day).isoformat()}},
        {"profile_id": "identify_only", "created_at": LONG_AGO},
        {"profile_id": "active", "created_at": LONG_AGO},
        {"profile_id": "lower_case_order", "created_at": LONG_AGO},
    ]
    data = _owned({
        "lapsed": [("Home", 40 * day), ("Order Completed", 40 * day)], "new": [], "imported": [],
        "identify_only": [("identify", 2 * day)], "active": [("Home", 2 * day), ("Order Completed", 3 * day)],
        "lower_case_order": [("order completed", 1 * day), ("Cart", 1 * day)],
    }, profile_rows=rows, types={"Home": "page", "Cart": "screen", "identify": "identify"})
    session = {"type": "inactive", "activity": "session", "days": 30}
    assert _run(session, data) == {"lapsed", "imported", "identify_only"}
    assert _run({**session, "activity": "purchase"}, data) == {"lapsed", "imported", "identify_only",
                                                                 "lower_case_order"}


# --- reachability and devices --------------------------------------------------------------------

def test_reachable_consent_precedence_and_suppression() -> None:
    emails = {"in": "in@x.io", "silent": "silent@x.io", "suppressed": "sup@x.io", "two": "two@x.io",
              "topic_only": "topic@x.io"}
    data = make_dataset(
        profiles=_profiles(*emails, "no_address", "push_quiet", "push_out", "push_topic", "web", "push_sup",
                           "push_wrong_list", "no_token", "tv"),
        identities=[{"kind": "email", "value": v, "profile_id": k} for k, v in emails.items()]
        + [{"kind": "email", "value": "two-ok@x.io", "profile_id": "two"}],
        consents=[
            {"profile_id": p, "channel": "email", "topic": "all", "status": "opted_in"}
            for p in ("in", "suppressed", "two", "no_address")
        ] + [
            {"profile_id": "in", "channel": "email", "topic": "newsletter", "status": "opted_out"},
            {"profile_id": "topic_only", "channel": "email", "topic": "all", "status": "opted_out"},
            {"profile_id": "topic_only", "channel": "email", "topic": "newsletter", "status": "opted_in"},
            {"profile_id": "push_out", "channel": "push", "topic": "all", "status": "opted_out"},
            {"profile_id": "push_topic", "channel": "push", "topic": "all", "status": "opted_out"},
            {"profile_id": "push_topic", "channel": "push", "topic": "newsletter", "status": "opted_in"},
        ],
        suppressions=[{"channel": "email", "address": a} for a in ("sup@x.io", "two@x.io")]
        + [{"channel": "push", "address": "t-sup"}, {"channel": "web_push", "address": "t-wrong"}],
        devices=[
            {"device_id": f"d-{p}", "profile_id": p, "platform": platform, "push_token": token}
            for p, platform, token in (("push_quiet", "ios", "t1"), ("push_out", "android", "t2"),
                                       ("push_topic", "ios", "t3"), ("web", "web", "t4"), ("push_sup", "ios", "t-sup"),
                                       ("push_wrong_list", "android", "t-wrong"), ("no_token", "ios", None),
                                       ("tv", "tvos", "t5"))
        ],
    )
    email = {"type": "reachable", "channel": "email"}
    assert _run(email, data) == {"in", "two"}
    assert _run({**email, "topic": "newsletter"}, data) == {"two", "topic_only"}
    push = {"type": "reachable", "channel": "push"}
    assert _run(push, data) == {"push_quiet", "push_wrong_list"}
    assert _run({**push, "topic": "newsletter"}, data) == {"push_quiet", "push_topic", "push_wrong_list"}
    assert _run({"type": "reachable", "channel": "web_push"}, data) == {"web"}
    assert _run({"type": "reachable", "channel": "in_app"}, data) == {
        "push_quiet", "push_out", "push_topic", "web", "push_sup", "push_wrong_list", "no_token", "tv"}


def test_device_versions_order_by_numeric_parts() -> None:
    versions = {"v59": ["5.9"], "v510": ["5.10"], "v5100": ["5.10.0"], "v5101": ["5.10.1"], "beta": ["beta"],
                "v6": ["6"], "four": ["5.10.1.7"], "x": ["5.x"], "none": [None], "both": ["6", "5.9"]}
    data = make_dataset(
        profiles=_profiles(*versions, "no_device"),
        devices=[{"device_id": f"{p}-{i}", "profile_id": p, "platform": "ios", "app_version": v}
                 for p, items in versions.items() for i, v in enumerate(items)],
    )
    app = {"type": "device", "field": "app_version"}
    assert _run({**app, "operator": "gt", "value": "5.9"}, data) == {"v510", "v5100", "v5101", "v6", "four", "both"}
    assert _run({**app, "operator": "lte", "value": "5.10"}, data) == {"v59", "v510", "v5100", "both"}
    assert _run({**app, "operator": "between", "low": "5.10.1", "high": "5.10.1"}, data) == {"v5101", "four"}
    assert _run({**app, "operator": "eq", "value": "5.10"}, data) == {"v510"}
    assert _run({**app, "operator": "ne", "value": "6"}, data) == set(versions) - {"v6", "both"} | {"no_device"}
    assert _run({**app, "operator": "not_exists"}, data) == {"none", "no_device"}
    push = {"type": "device", "field": "has_push_token", "operator": "eq", "value": False}
    assert _run(push, data) == set(versions) | {"no_device"}


def test_not_is_the_complement_within_the_workspace_and_stale_members_do_not_count() -> None:
    data = make_dataset(
        profiles=_profiles("a", "b"),
        members=[{"segment_id": "s", "profile_id": "a"}, {"segment_id": "s", "profile_id": "gone"},
                 {"workspace_id": OTHER_WORKSPACE, "segment_id": "s", "profile_id": "b"}],
    )
    assert _run({"type": "in_segment", "segment_id": "s"}, data) == {"a"}
    assert _run({"type": "not", "condition": {"type": "in_segment", "segment_id": "s"}}, data) == {"b"}


# --- the catalogue and the dataset ----------------------------------------------------------------

def test_every_catalogue_entry_parses() -> None:
    keys = [key for key, _ in CATALOG]
    assert len(keys) == len(set(keys))
    for _, definition in CATALOG:
        parse_segment(definition)


def test_nearly_every_catalogue_entry_is_non_trivial(dataset: Dataset) -> None:
    everyone = set(dataset.profiles.loc[dataset.profiles["workspace_id"] == WORKSPACE, "profile_id"])
    trivial = [key for key, definition in CATALOG
               if evaluate(parse_segment(definition), dataset, workspace_id=WORKSPACE, now=NOW) in (set(), everyone)]
    assert len(trivial) <= 0.1 * len(CATALOG), trivial


def test_the_dataset_is_deterministic() -> None:
    first, second = build_dataset(), build_dataset()
    for table in ("profiles", "identities", "devices", "consents", "suppressions", "members", "events"):
        assert getattr(first, table).to_dict("records") == getattr(second, table).to_dict("records")


def _catalogue_edges() -> tuple[set[int], set[datetime], set[datetime], list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the catalogue's day counts, window instants, date operands, sequence conditions and near points."""
    days: set[int] = set()
    instants: set[datetime] = set()
    operands: set[datetime] = set()
    sequences: list[dict[str, Any]] = []
    nears: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "sequence":
                sequences.append(node)
            if "near" in node:
                nears.append(node["near"])
            days.update(node[k] for k in ("last_days", "days") if isinstance(node.get(k), int))
            instants.update(datetime.fromisoformat(node[k]) for k in ("since", "until") if k in node)
            dates = (parse_date(node.get(k)) for k in ("value", "low", "high"))
            operands.update(d for d in dates if d is not None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for _, definition in CATALOG:
        visit(definition)
    return days, instants, operands, sequences, nears


def test_the_data_keeps_clear_of_exact_edges(dataset: Dataset) -> None:
    days, instants, operands, sequences, nears = _catalogue_edges()
    second = timedelta(seconds=1)
    edges = {NOW + sign * timedelta(days=n) for n in days for sign in (1, -1)} | instants
    edges |= {NOW - timedelta(minutes=s["within_minutes"]) for s in sequences}
    moments = [t.to_pydatetime() for t in dataset.events["timestamp"]]
    moments += [t.to_pydatetime() for t in dataset.profiles["known_since"]]
    for document in [*dataset.profiles["traits"], *dataset.profiles["computed"]]:
        moments += [m for m in (parse_date(v) for v in document.values()) if m is not None]
    moments.sort()
    for edge in edges:
        index = bisect_left(moments, edge)
        near = moments[max(0, index - 1):index + 1]
        assert all(abs(m - edge) > second for m in near), edge
    for edge in operands:  # a date equal to the operand is fine (lt vs lte); a fraction of a second off is not
        index = bisect_left(moments, edge)
        assert all(abs(m - edge) > second or m == edge for m in moments[max(0, index - 1):index + 2]), edge
    for workspace in (WORKSPACE, OTHER_WORKSPACE):
        by_name: dict[tuple[str, str | None], list[datetime]] = defaultdict(list)
        for event in owned_events(dataset, workspace):
            by_name[(event.profile, event.name)].append(event.at)
        for sequence in sequences:
            within = timedelta(minutes=sequence["within_minutes"])
            for (profile, name), firsts in by_name.items():
                if name != sequence["first"]["event"]:
                    continue
                thens = by_name.get((profile, sequence["then"]["event"]), [])
                assert all(abs((t - f) - within) > second for f in firsts for t in thens)
    for computed in dataset.profiles["computed"]:
        place = computed.get("location") or {}
        if isinstance(place.get("latitude"), float) and isinstance(place.get("longitude"), float):
            for near in nears:
                gap = distance_km(place["latitude"], place["longitude"], near["latitude"], near["longitude"])
                assert abs(gap - near["radius_km"]) > max(0.1, near["radius_km"] / 100)
