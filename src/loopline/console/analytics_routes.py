"""The analytics explorer: reports with filters and group-by, charts and tables, personal dashboards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from loopline.actions.dashboards import (
    DashboardInvalid,
    DashboardNotFound,
    Owner,
    do_add_report,
    do_create_dashboard,
    do_delete_dashboard,
    do_move_report,
    do_remove_report,
    do_rename_dashboard,
    do_retitle_report,
)
from loopline.console.analytics import (
    ReportRefused,
    dashboard_page,
    dashboards_page,
    explorer_page,
    run_for_console,
)
from loopline.console.web import (
    SECURITY_HEADERS,
    Access,
    ConsoleError,
    access_page,
    check_csrf,
    client_of,
    json_response,
    page_response,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page
from loopline.domain.dashboards import check_definition, clean_title
from loopline.ports import DashboardRow
from loopline.services import Services

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
MAX_BODY_BYTES = 256 * 1024
NOT_FOUND = ConsoleError(404, "dashboard_not_found", "you have no such dashboard (or report) in this workspace")


def _owner(request: Request, access: Access) -> Owner:
    return Owner(workspace_id=access.workspace_id, user_id=access.viewer.user.id, email=access.viewer.user.email,
                 client=client_of(request))


def _refused(error: ConsoleError, problems: list[dict[str, str]]) -> Response:
    body = {"success": False, "error": {"code": error.code, "message": error.message}, "code": error.code,
            "message": error.message, "problems": problems}
    return json_response(body, status=error.status)


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ConsoleError(413, "too_large", f"a report request has at most {MAX_BODY_BYTES // 1024} KiB")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ConsoleError(400, "invalid_json", "the request is not valid JSON") from None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


@router.get("/w/{workspace_id}/analytics")
def explorer(request: Request, workspace_id: str) -> Response:
    """The explorer: pick a report, its events, range, filters and group-by; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.ANALYTICS)
    data = explorer_page(runtime_of(request).services, _owner(request, access))
    return page_response(request, access, "analytics.html", data, Page.ANALYTICS)


@router.post("/w/{workspace_id}/analytics/run")
async def run(request: Request, workspace_id: str) -> Response:
    """Run a report (the request as the JSON body, as for ``POST /api/v1/reports``) and answer it as JSON."""
    access_page(request, workspace_id, Page.ANALYTICS)
    definition = await _json_body(request)
    try:
        answer = await run_in_threadpool(run_for_console, runtime_of(request).services, workspace_id=workspace_id,
                                         definition=definition)
    except ReportRefused as error:
        return _refused(error, error.problems)
    return json_response(answer)


@router.post("/w/{workspace_id}/analytics/save")
async def save(request: Request, workspace_id: str) -> Response:
    """Save a report to one of the person's dashboards, or to a new one: ``{title, definition, dashboard_id |
    new_dashboard}``; answers the dashboard's id and address."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ConsoleError(400, "invalid_json", 'send {"title", "definition", "dashboard_id" or "new_dashboard"}')
    services, owner = runtime_of(request).services, _owner(request, access)
    try:
        dashboard_id = body.get("dashboard_id")
        if not dashboard_id:
            # The report is checked before a new dashboard is made, so a refused report leaves nothing behind.
            clean_title(body.get("title"))
            check_definition(body.get("definition"))
            dashboard_id = do_create_dashboard(services, owner, name=body.get("new_dashboard")).id
        row, entry = do_add_report(services, owner, str(dashboard_id), title=body.get("title"),
                                   definition=body.get("definition"))
    except DashboardInvalid as error:
        return _refused(ConsoleError(422, error.code, error.message), error.problems)
    except DashboardNotFound:
        raise NOT_FOUND from None
    href = f"/console/w/{workspace_id}/analytics/dashboards/{row.id}"
    return json_response({"dashboard": {"id": row.id, "name": row.name, "reports": len(row.reports), "href": href},
                          "report": entry}, status=201)


@router.get("/w/{workspace_id}/analytics/dashboards")
def dashboards(request: Request, workspace_id: str) -> Response:
    """The person's dashboards in the workspace; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.ANALYTICS)
    data = dashboards_page(runtime_of(request).services, _owner(request, access))
    return page_response(request, access, "dashboards.html", data, Page.ANALYTICS, form={"name": ""}, error=None)


@router.post("/w/{workspace_id}/analytics/dashboards")
async def create_dashboard(request: Request, workspace_id: str) -> Response:
    """Create a dashboard from the form's ``name``; the list again with the error and the name kept when refused."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    name = str((await request.form()).get("name") or "")
    services, owner = runtime_of(request).services, _owner(request, access)
    try:
        row = do_create_dashboard(services, owner, name=name)
    except DashboardInvalid as error:
        return _form_refused(request, access, error, name)
    href = f"/console/w/{workspace_id}/analytics/dashboards/{row.id}"
    if wants_json(request):
        return json_response({"id": row.id, "name": row.name, "href": href}, status=201)
    return _redirect(href)


def _form_refused(request: Request, access: Access, error: DashboardInvalid, name: str) -> Response:
    if wants_json(request):
        return _refused(ConsoleError(422, error.code, error.message), error.problems)
    data = dashboards_page(runtime_of(request).services, _owner(request, access))
    response = page_response(request, access, "dashboards.html", data, Page.ANALYTICS, form={"name": name},
                             error={"code": error.code, "message": error.message})
    response.status_code = 422
    return response


@router.get("/w/{workspace_id}/analytics/dashboards/{dashboard_id}")
def dashboard(request: Request, workspace_id: str, dashboard_id: str) -> Response:
    """One dashboard: every saved report run again now, drawn as a chart; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.ANALYTICS)
    data = dashboard_page(runtime_of(request).services, _owner(request, access), dashboard_id)
    return page_response(request, access, "dashboard.html", data, Page.ANALYTICS, form={"name": data["name"]},
                         error=None)


@router.post("/w/{workspace_id}/analytics/dashboards/{dashboard_id}/rename")
async def rename_dashboard(request: Request, workspace_id: str, dashboard_id: str) -> Response:
    """Rename a dashboard from the form's ``name``; the dashboard again with the error when refused."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    name = str((await request.form()).get("name") or "")
    services, owner = runtime_of(request).services, _owner(request, access)
    try:
        row = do_rename_dashboard(services, owner, dashboard_id, name=name)
    except DashboardNotFound:
        raise NOT_FOUND from None
    except DashboardInvalid as error:
        return _dashboard_refused(request, access, dashboard_id, error, name=name)
    if wants_json(request):
        return json_response({"id": row.id, "name": row.name})
    return _redirect(f"/console/w/{workspace_id}/analytics/dashboards/{row.id}")


def _dashboard_refused(request: Request, access: Access, dashboard_id: str, error: DashboardInvalid, *,
                       name: str | None = None) -> Response:
    """Answer a refused change to a dashboard: its page again with the message (422), or the error as JSON."""
    if wants_json(request):
        return _refused(ConsoleError(422, error.code, error.message), error.problems)
    data = dashboard_page(runtime_of(request).services, _owner(request, access), dashboard_id)
    response = page_response(request, access, "dashboard.html", data, Page.ANALYTICS,
                             form={"name": data["name"] if name is None else name},
                             error={"code": error.code, "message": error.message})
    response.status_code = 422
    return response


@router.post("/w/{workspace_id}/analytics/dashboards/{dashboard_id}/reports/{report_id}/move")
async def move_report(request: Request, workspace_id: str, dashboard_id: str, report_id: str) -> Response:
    """Move a saved report one place (the form's ``direction``: ``up`` or ``down``), then show the dashboard."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    direction = str((await request.form()).get("direction") or "")
    return _change_report(request, access, dashboard_id, lambda services, owner: do_move_report(
        services, owner, dashboard_id, report_id, direction=direction))


@router.post("/w/{workspace_id}/analytics/dashboards/{dashboard_id}/reports/{report_id}/title")
async def retitle_report(request: Request, workspace_id: str, dashboard_id: str, report_id: str) -> Response:
    """Give a saved report the form's ``title``, then show the dashboard (again with the error when refused)."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    title = str((await request.form()).get("title") or "")
    return _change_report(request, access, dashboard_id, lambda services, owner: do_retitle_report(
        services, owner, dashboard_id, report_id, title=title))


def _change_report(request: Request, access: Access, dashboard_id: str,
                   change: Callable[[Services, Owner], DashboardRow]) -> Response:
    try:
        row = change(runtime_of(request).services, _owner(request, access))
    except DashboardNotFound:
        raise NOT_FOUND from None
    except DashboardInvalid as error:
        return _dashboard_refused(request, access, dashboard_id, error)
    if wants_json(request):
        return json_response({"id": row.id, "reports": [{"id": entry["id"], "title": entry["title"]}
                                                         for entry in row.reports]})
    return _redirect(f"/console/w/{access.workspace_id}/analytics/dashboards/{row.id}")


@router.post("/w/{workspace_id}/analytics/dashboards/{dashboard_id}/delete")
def delete_dashboard(request: Request, workspace_id: str, dashboard_id: str) -> Response:
    """Delete a dashboard with its saved reports, then show the list."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    try:
        do_delete_dashboard(runtime_of(request).services, _owner(request, access), dashboard_id)
    except DashboardNotFound:
        raise NOT_FOUND from None
    if wants_json(request):
        return json_response({"deleted": dashboard_id})
    return _redirect(f"/console/w/{workspace_id}/analytics/dashboards")


@router.post("/w/{workspace_id}/analytics/dashboards/{dashboard_id}/reports/{report_id}/delete")
def remove_report(request: Request, workspace_id: str, dashboard_id: str, report_id: str) -> Response:
    """Remove one saved report from a dashboard, then show the dashboard."""
    access = access_page(request, workspace_id, Page.ANALYTICS, edit=True)
    try:
        row = do_remove_report(runtime_of(request).services, _owner(request, access), dashboard_id, report_id)
    except DashboardNotFound:
        raise NOT_FOUND from None
    if wants_json(request):
        return json_response({"id": row.id, "reports": [entry["id"] for entry in row.reports]})
    return _redirect(f"/console/w/{workspace_id}/analytics/dashboards/{row.id}")
