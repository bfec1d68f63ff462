"""Dashboards' pure rules: names, titles, which reports may be saved, how many fit."""

from __future__ import annotations

import pytest

from loopline.domain.dashboards import (
    MAX_DASHBOARDS,
    MAX_REPORTS,
    DashboardInvalid,
    check_definition,
    check_room,
    clean_name,
    clean_title,
    moved_report,
    retitled_report,
    saved_report,
    with_report,
    without_report,
)

TREND = {"report": "events", "since": "2026-06-01", "until": "2026-06-08", "event": "Product Viewed"}


def _code(call: object, *args: object) -> str:
    with pytest.raises(DashboardInvalid) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value.code


def test_names_and_titles_are_trimmed_and_bounded() -> None:
    assert clean_name("  Weekly   growth \n") == "Weekly growth"
    assert clean_name("x" * 100) == "x" * 100
    assert _code(clean_name, "x" * 101) == "invalid_name"
    assert _code(clean_name, " \t ") == "invalid_name"
    assert _code(clean_name, None) == "invalid_name"
    assert clean_title(" Views  per day ") == "Views per day"
    assert _code(clean_title, "") == "invalid_title"
    assert _code(clean_title, "t" * 201) == "invalid_title"


def test_only_reports_the_engine_accepts_are_saved() -> None:
    assert check_definition(TREND) == TREND
    with pytest.raises(DashboardInvalid) as backwards:
        check_definition({**TREND, "until": "2026-05-01"})
    assert backwards.value.code == "invalid_report"
    assert backwards.value.problems == [{"path": "", "message": "until must be after since"}]
    assert _code(check_definition, {"report": "live"}) == "invalid_report"  # minutes that pass; nothing to keep
    assert _code(check_definition, ["events"]) == "invalid_report"
    assert _code(check_definition, {**TREND, "report": "weather"}) == "invalid_report"
    assert saved_report("rpt_1", " Views ", TREND) == {"id": "rpt_1", "title": "Views", "definition": TREND}


def test_reports_are_added_last_and_removed_by_id() -> None:
    first, second = ({"id": f"rpt_{n}", "title": str(n), "definition": TREND} for n in (1, 2))
    both = with_report(with_report([], first), second)
    assert [entry["id"] for entry in both] == ["rpt_1", "rpt_2"]
    assert without_report(both, "rpt_1") == [second]
    assert without_report(both, "rpt_9") is None
    full = [{"id": f"rpt_{n}"} for n in range(MAX_REPORTS)]
    assert _code(with_report, full, first) == "dashboard_full"
    assert len(with_report(full[:-1], first)) == MAX_REPORTS


def test_a_report_moves_one_place_and_stays_at_the_ends() -> None:
    reports = [{"id": f"rpt_{n}", "title": str(n)} for n in range(3)]
    assert [e["id"] for e in moved_report(reports, "rpt_2", "up") or []] == ["rpt_0", "rpt_2", "rpt_1"]
    assert [e["id"] for e in moved_report(reports, "rpt_0", "down") or []] == ["rpt_1", "rpt_0", "rpt_2"]
    assert moved_report(reports, "rpt_0", "up") == reports
    assert moved_report(reports, "rpt_2", "down") == reports
    assert moved_report(reports, "rpt_9", "up") is None
    assert _code(moved_report, reports, "rpt_0", "left") == "invalid_direction"
    assert [e["id"] for e in reports] == ["rpt_0", "rpt_1", "rpt_2"]  # the input is left as it was


def test_a_report_is_retitled_by_id_with_the_title_rules() -> None:
    reports = [{"id": "rpt_1", "title": "Old", "definition": TREND}, {"id": "rpt_2", "title": "Other"}]
    assert retitled_report(reports, "rpt_1", "  New   name ") == [
        {"id": "rpt_1", "title": "New name", "definition": TREND}, {"id": "rpt_2", "title": "Other"}]
    assert retitled_report(reports, "rpt_9", "Fine") is None
    assert _code(retitled_report, reports, "rpt_1", " ") == "invalid_title"


def test_a_person_has_a_bounded_number_of_dashboards() -> None:
    check_room(MAX_DASHBOARDS - 1)
    assert _code(check_room, MAX_DASHBOARDS) == "too_many_dashboards"
