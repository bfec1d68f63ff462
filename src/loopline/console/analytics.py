"""The analytics pages' data: the explorer's choices, reports run for the console, and personal dashboards.

Reports run through the analytics engine (``run_report``) exactly as the management API runs
them, so the console shows the API's numbers; the chart and the table are drawn in the
browser from the same answer. Dashboards are the signed-in person's own: every read names
the workspace and the user.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from loopline.actions.analytics import run_report
from loopline.actions.dashboards import DashboardNotFound, Owner, get_dashboard, list_dashboards
from loopline.actions.mart import do_sync_mart
from loopline.actions.segments import SegmentRejected
from loopline.console.web import ConsoleError, instant_text
from loopline.query.segments import ACTIVITY_TYPES
from loopline.services import Services

# Every report the engine answers, in the order the explorer offers them.
REPORT_KINDS: tuple[tuple[str, str, str], ...] = (
    ("events", "Trend", "Events per day: their count, the users doing them, or the sum or average of a property."),
    ("funnel", "Funnel", "How many users go through the steps in order, within a time window."),
    ("retention", "Retention", "Cohorts by first activity, and how many come back in each later period."),
    ("paths", "Paths", "What users do next after an event (or did before it)."),
    ("distribution", "Distribution", "How a numeric property, or events per user, spreads over buckets."),
    ("sessions", "Sessions and heatmap", "Sessions per user, their lengths, and events by weekday and hour."),
    ("geography", "Geography", "Users active in the range by their latest country, region or postal code."),
    ("active_users", "Active users", "DAU, WAU, MAU and stickiness per day."),
    ("new_vs_returning", "New and returning", "Active users per day, first seen that day or before."),
    ("affinity", "Bought together", "Product categories bought in the same order."),
    ("live", "Live", "Events and users per minute over the last five minutes."),
)
# Context fields the events carry, offered for group-by (any other dotted path works too).
CONTEXT_PATHS = ("os.name", "os.version", "app.version", "device.type", "device.model", "campaign.source",
                 "campaign.medium", "campaign.name", "location.country", "location.region", "locale")
PROPERTY_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")
CATALOG_DAYS = 90
CATALOG_SIZE = 200
CATALOG_TIMEOUT_S = 5.0
RANGE_DAYS = 30


class ReportRefused(ConsoleError):
    """A report the engine would not run, with the engine's problems (path and reason of each)."""

    def __init__(self, status: int, code: str, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(status, code, message)
        self.problems = problems


def explorer_page(services: Services, owner: Owner) -> dict[str, Any]:
    """Return what the explorer offers: report kinds, event names, segments, the person's dashboards."""
    today = services.clock.now().date()
    segments = [{"id": row.id, "name": row.name}
                for row in services.segments.in_workspace(workspace_id=owner.workspace_id)]
    return {
        "workspace_id": owner.workspace_id,
        "reports": [{"report": report, "label": label, "about": about} for report, label, about in REPORT_KINDS],
        "events": event_names(services, owner.workspace_id),
        "segments": sorted(segments, key=lambda segment: (segment["name"], segment["id"])),
        "context_paths": list(CONTEXT_PATHS),
        "operators": list(PROPERTY_OPERATORS),
        "dashboards": [{"id": row.id, "name": row.name} for row in list_dashboards(services, owner)],
        "since": (today - timedelta(days=RANGE_DAYS - 1)).isoformat(),
        "until": (today + timedelta(days=1)).isoformat(),
        "run_url": f"/console/w/{owner.workspace_id}/analytics/run",
        "save_url": f"/console/w/{owner.workspace_id}/analytics/save",
    }


def event_names(services: Services, workspace_id: str) -> list[str]:
    """Return the names of the workspace's events of the last ``CATALOG_DAYS`` days, most frequent first.

    Only suggestions for the explorer's fields: a query too slow for its short time limit
    leaves the list empty rather than failing the page.
    """
    mart = services.mart
    dialect = mart.dialect
    since = services.clock.now() - timedelta(days=CATALOG_DAYS)
    types = ", ".join(dialect.text(kind) for kind in ACTIVITY_TYPES)
    # Every value is quoted by the dialect; the rest is fixed text.
    sql = (f"SELECT e.event, count(*) AS n FROM events e WHERE e.workspace_id = {dialect.text(workspace_id)}"  # noqa: S608
           f" AND e.type IN ({types}) AND e.event IS NOT NULL AND e.\"timestamp\" >= {dialect.instant(since)}"
           f" GROUP BY e.event ORDER BY n DESC, e.event LIMIT {CATALOG_SIZE}")
    try:
        rows = mart.fetch(sql + dialect.settings, timeout_s=CATALOG_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - suggestions only; the explorer works without them
        return []
    return [str(row[0]) for row in rows]


def run_for_console(services: Services, *, workspace_id: str, definition: Any, sync: bool = True) -> dict[str, Any]:
    """Return a report's answer; raise ReportRefused (422 invalid, 503 too slow) with the engine's message."""
    try:
        answer = run_report(services, workspace_id=workspace_id, data=definition, sync=sync)
    except SegmentRejected as error:
        status = 503 if error.code == "report_query_too_slow" else 422
        raise ReportRefused(status, error.code, error.message, error.problems) from None
    # Through orjson and back: what the page's script reads is plain JSON (no NaN, dates as text).
    result: dict[str, Any] = orjson.loads(orjson.dumps(answer, default=str))
    return result


def dashboards_page(services: Services, owner: Owner) -> dict[str, Any]:
    """Return the person's dashboards in the workspace, by name."""
    base = f"/console/w/{owner.workspace_id}/analytics/dashboards"
    return {"workspace_id": owner.workspace_id, "items": [
        {"id": row.id, "name": row.name, "reports": len(row.reports), "updated_at": instant_text(row.updated_at),
         "href": f"{base}/{row.id}"} for row in list_dashboards(services, owner)]}


def dashboard_page(services: Services, owner: Owner, dashboard_id: str) -> dict[str, Any]:
    """Return one dashboard with every saved report run again now (a report that fails says why)."""
    try:
        row = get_dashboard(services, owner, dashboard_id)
    except DashboardNotFound:
        raise ConsoleError(404, "dashboard_not_found", "you have no such dashboard in this workspace") from None
    if row.reports:
        do_sync_mart(services)  # once for all the reports
    reports = []
    for entry in row.reports:
        answer, error = None, None
        try:
            answer = run_for_console(services, workspace_id=owner.workspace_id, definition=entry["definition"],
                                     sync=False)
        except ReportRefused as refused:
            error = {"code": refused.code, "message": refused.message}
        reports.append({"id": entry["id"], "title": entry["title"], "definition": entry["definition"],
                        "answer": answer, "error": error})
    return {"workspace_id": owner.workspace_id, "id": row.id, "name": row.name,
            "created_at": instant_text(row.created_at), "updated_at": instant_text(row.updated_at),
            "reports": reports, "href": f"/console/w/{owner.workspace_id}/analytics/dashboards/{row.id}"}
