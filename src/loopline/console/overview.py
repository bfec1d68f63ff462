"""The overview page's figures: live activity, active users, today's messages, what is running.

The same dictionary is the page's JSON and the template's context, so what a person sees a
script can read.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from loopline.actions.analytics import run_report
from loopline.actions.segments import SegmentRejected
from loopline.domain.analytics import minute_text
from loopline.domain.campaigns import Status
from loopline.ports import QueryTooSlow
from loopline.query.overview import attributed_orders_sql, events_per_minute, orders_sql
from loopline.services import Services

ACTIVITY_MINUTES = 60
# Orders of the last week, each credited to the last message its buyer got in the week before it.
CONVERSION_DAYS = 7
ATTRIBUTION_DAYS = 7
TOP_SOURCES = 5
REFRESH_SECONDS = 15
# Campaigns a person is watching: those sending now and those about to, or held mid-run.
WATCHED = (Status.RUNNING.value, Status.SCHEDULED.value, Status.PAUSED.value)


def build_overview(services: Services, *, workspace_id: str, workspace_name: str, role: str) -> dict[str, Any]:
    """Return the overview of a workspace as JSON-ready data."""
    now = services.clock.now()
    today = now.date()
    day_start = datetime.combine(today, time(0), tzinfo=UTC)
    users = _users(services, workspace_id, today)  # brings the mart up to date first
    sent = services.overview.sent_by_channel(workspace_id=workspace_id, since=day_start,
                                             until=day_start + timedelta(days=1))
    return {
        "workspace": {"id": workspace_id, "name": workspace_name},
        "role": role,
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "refresh_seconds": REFRESH_SECONDS,
        "activity": _activity(services, workspace_id, now),
        "users": users,
        "messages_today": {"date": today.isoformat(), "total": sum(sent.values()),
                           "by_channel": dict(sorted(sent.items()))},
        "conversions": _conversions(services, workspace_id, now),
    } | running_now(services, workspace_id=workspace_id)


def running_now(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the workspace's running (scheduled, paused) campaigns and its active journeys."""
    return {"campaigns": _campaigns(services, workspace_id), "journeys": _journeys(services, workspace_id)}


def _activity(services: Services, workspace_id: str, now: datetime) -> dict[str, Any]:
    last = now.replace(second=0, microsecond=0)
    minutes = [last - timedelta(minutes=n) for n in range(ACTIVITY_MINUTES - 1, -1, -1)]
    mart = services.mart
    sql = events_per_minute(mart.dialect, workspace_id=workspace_id, since=minutes[0],
                            until=now + timedelta(microseconds=1))
    # A slow store must not take the page down: the chart says so instead.
    try:
        rows = mart.fetch(sql + mart.dialect.settings, timeout_s=services.settings.report_query_timeout_s)
    except QueryTooSlow:
        return {"minutes": ACTIVITY_MINUTES, "series": [], "total": 0, "error": "activity_query_too_slow"}
    found = {minute_text(datetime.fromtimestamp(int(m) / 1_000_000, UTC)): int(n) for m, n in rows}
    series = [{"minute": minute_text(m), "events": found.get(minute_text(m), 0)} for m in minutes]
    return {"minutes": ACTIVITY_MINUTES, "series": series, "total": sum(item["events"] for item in series)}


def share_text(conversions: dict[str, Any]) -> str:
    """Return the share of orders credited to messages in words (the page script writes the same)."""
    share = conversions["attributed_share"]
    return "no orders yet" if share is None else f"{share * 100:.1f} % of {conversions['orders']} orders"


def _conversions(services: Services, workspace_id: str, now: datetime) -> dict[str, Any]:
    since, until = now - timedelta(days=CONVERSION_DAYS), now + timedelta(microseconds=1)
    answer: dict[str, Any] = {"days": CONVERSION_DAYS, "attribution_days": ATTRIBUTION_DAYS, "model": "last_touch",
                              "orders": 0, "revenue": 0.0, "attributed_orders": 0, "attributed_revenue": 0.0,
                              "attributed_share": None, "by_source": []}
    mart, timeout = services.mart, services.settings.report_query_timeout_s
    try:
        (orders, revenue), = mart.fetch(orders_sql(mart.dialect, workspace_id=workspace_id, since=since, until=until)
                                        + mart.dialect.settings, timeout_s=timeout)
        credited = mart.fetch(attributed_orders_sql(mart.dialect, workspace_id=workspace_id, since=since, until=until,
                                                    window_days=ATTRIBUTION_DAYS) + mart.dialect.settings,
                              timeout_s=timeout)
    except QueryTooSlow:
        return answer | {"error": "conversions_query_too_slow"}
    names = {row.id: row.name for row in services.campaigns.in_workspace(workspace_id=workspace_id)}
    names |= {row.id: row.name for row in services.journeys.in_workspace(workspace_id=workspace_id)}
    sources = sorted(({"kind": kind, "id": source_id, "name": names.get(source_id, source_id),
                       "orders": int(count), "revenue": round(float(value or 0), 2)}
                      for kind, source_id, count, value in credited),
                     key=lambda item: (-item["revenue"], -item["orders"], item["name"]))
    attributed = sum(item["orders"] for item in sources)
    return answer | {
        "orders": int(orders), "revenue": round(float(revenue or 0), 2), "attributed_orders": attributed,
        "attributed_revenue": round(sum(item["revenue"] for item in sources), 2),
        "attributed_share": round(attributed / int(orders), 4) if orders else None,
        "by_source": sources[:TOP_SOURCES],
    }


def _users(services: Services, workspace_id: str, today: Any) -> dict[str, Any]:
    tomorrow = (today + timedelta(days=1)).isoformat()
    answer: dict[str, Any] = {"date": today.isoformat(), "dau": 0, "mau": 0, "new_customers": 0}
    try:
        active = run_report(services, workspace_id=workspace_id,
                            data={"report": "active_users", "since": today.isoformat(), "until": tomorrow})
        fresh = run_report(services, workspace_id=workspace_id, sync=False,
                           data={"report": "new_vs_returning", "since": today.isoformat(), "until": tomorrow})
    except SegmentRejected as error:
        return answer | {"error": error.code}
    day = active["series"][-1]
    return answer | {"dau": day["dau"], "mau": day["mau"], "new_customers": fresh["series"][-1]["new"]}


def _campaigns(services: Services, workspace_id: str) -> list[dict[str, Any]]:
    rows = [row for row in services.campaigns.in_workspace(workspace_id=workspace_id) if row.status in WATCHED]
    return [{
        "id": row.id, "name": row.name, "status": row.status, "claimed": row.claimed,
        "next_run_at": row.next_run_at.isoformat() if row.next_run_at else None,
        "api": f"/api/v1/campaigns/{row.id}", "report_api": f"/api/v1/campaigns/{row.id}/report",
        # Conversions and revenue are computed on request over the whole ledger and goal window,
        # too heavy to repeat every 15 seconds for each campaign: the overview links to them.
        "results_api": f"/api/v1/campaigns/{row.id}/results",
    } for row in rows]


def _journeys(services: Services, workspace_id: str) -> list[dict[str, Any]]:
    rows = [row for row in services.journeys.in_workspace(workspace_id=workspace_id) if row.status == "active"]
    return [{
        "id": row.id, "name": row.name, "version": row.version,
        "active_since": row.active_since.isoformat() if row.active_since else None,
        "api": f"/api/v1/journeys/{row.id}", "enrollments_api": f"/api/v1/journeys/{row.id}/enrollments",
    } for row in rows]
