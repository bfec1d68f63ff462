"""Personal dashboards: what a dashboard's name, a saved report's title and its definition may be.

Pure decisions only. A saved report keeps the analytics request exactly as sent (after
validation), so that opening the dashboard runs it again over the events of that moment.
"""

from __future__ import annotations

from typing import Any

from loopline.domain.analytics import parse_report
from loopline.domain.segments.definition import SegmentInvalid

MAX_NAME = 100
MAX_TITLE = 200
MAX_REPORTS = 24  # a dashboard re-runs every report when it opens: more would make it slow to open
MAX_DASHBOARDS = 50  # per person and workspace


class DashboardInvalid(ValueError):
    """Input that cannot make or change a dashboard; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or [{"path": "", "message": message}]


def clean_name(text: object) -> str:
    """Return a dashboard's name trimmed, or raise DashboardInvalid when it is empty or too long."""
    name = " ".join(str(text or "").split())
    if not name:
        raise DashboardInvalid("invalid_name", "give the dashboard a name")
    if len(name) > MAX_NAME:
        raise DashboardInvalid("invalid_name", f"a dashboard's name has at most {MAX_NAME} characters")
    return name


def clean_title(text: object) -> str:
    """Return a saved report's title trimmed, or raise DashboardInvalid when it is empty or too long."""
    title = " ".join(str(text or "").split())
    if not title:
        raise DashboardInvalid("invalid_title", "give the report a title")
    if len(title) > MAX_TITLE:
        raise DashboardInvalid("invalid_title", f"a report's title has at most {MAX_TITLE} characters")
    return title


def check_definition(definition: Any) -> dict[str, Any]:
    """Return an analytics request fit to save, or raise DashboardInvalid with the engine's problems.

    ``live`` is refused: it shows the last five minutes, which a dashboard opened later would not.
    """
    if not isinstance(definition, dict):
        raise DashboardInvalid("invalid_report", "the report is a JSON object like {\"report\": \"events\", …}")
    try:
        request = parse_report(definition)
    except SegmentInvalid as error:
        raise DashboardInvalid("invalid_report", str(error), error.problems) from None
    if request.report == "live":
        raise DashboardInvalid("invalid_report", "the live report shows only the last minutes; it cannot be saved")
    return dict(definition)


def saved_report(report_id: str, title: object, definition: Any) -> dict[str, Any]:
    """Return a saved report entry, its title and definition validated."""
    return {"id": report_id, "title": clean_title(title), "definition": check_definition(definition)}


def with_report(reports: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the reports with ``entry`` added last, or raise DashboardInvalid when the dashboard is full."""
    if len(reports) >= MAX_REPORTS:
        raise DashboardInvalid("dashboard_full", f"a dashboard holds at most {MAX_REPORTS} reports; "
                                                 "remove one or use another dashboard")
    return [*reports, entry]


def without_report(reports: list[dict[str, Any]], report_id: str) -> list[dict[str, Any]] | None:
    """Return the reports without the one with ``report_id``, or None when there is none."""
    kept = [entry for entry in reports if entry.get("id") != report_id]
    return kept if len(kept) < len(reports) else None


def moved_report(reports: list[dict[str, Any]], report_id: str, direction: object) -> list[dict[str, Any]] | None:
    """Return the reports with one moved a place ``up`` or ``down`` (at an end it stays), or None when unknown.

    Raise DashboardInvalid for another direction.
    """
    if direction not in ("up", "down"):
        raise DashboardInvalid("invalid_direction", "move a report up or down")
    at = next((index for index, entry in enumerate(reports) if entry.get("id") == report_id), None)
    if at is None:
        return None
    to = max(0, min(len(reports) - 1, at - 1 if direction == "up" else at + 1))
    moved = list(reports)
    moved.insert(to, moved.pop(at))
    return moved


def retitled_report(reports: list[dict[str, Any]], report_id: str, title: object) -> list[dict[str, Any]] | None:
    """Return the reports with one given a new title, or None when there is none; raise DashboardInvalid."""
    clean = clean_title(title)
    if not any(entry.get("id") == report_id for entry in reports):
        return None
    return [{**entry, "title": clean} if entry.get("id") == report_id else entry for entry in reports]


def check_room(dashboards: int) -> None:
    """Raise DashboardInvalid when a person has as many dashboards in the workspace as allowed."""
    if dashboards >= MAX_DASHBOARDS:
        raise DashboardInvalid("too_many_dashboards", f"a person has at most {MAX_DASHBOARDS} dashboards "
                                                      "per workspace; delete one first")
