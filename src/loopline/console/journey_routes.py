"""The journeys pages: the list, and each journey as a flow of its steps with per-step counts.

Marketers and admins may also change journeys here: move a journey's status, and write its
definition as JSON (from scratch, from a template, or a new version of one). Every change
goes through the journey actions and into the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from loopline.actions.accounts import audit
from loopline.actions.journeys import JourneyRejected, do_create_journey, do_set_journey_status, do_update_journey
from loopline.console.journeys import (
    check_move,
    editor_data,
    editor_problems,
    journey_list,
    journey_row,
    journey_view,
    parse_definition_text,
)
from loopline.console.web import (
    SECURITY_HEADERS,
    Access,
    access_page,
    check_csrf,
    client_of,
    json_response,
    page_response,
    render,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page, may_edit
from loopline.store.sql.journeys import JourneyRow

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
JOURNEYS = "/w/{workspace_id}/journeys"


@router.get(JOURNEYS)
def journeys(request: Request, workspace_id: str) -> Response:
    """The workspace's journeys with status, trigger and enrolment counts; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.JOURNEYS)
    data = journey_list(runtime_of(request).services, workspace_id=workspace_id)
    data["can_edit"] = may_edit(access.role, Page.JOURNEYS)
    return page_response(request, access, "journeys.html", data, Page.JOURNEYS)


@router.get(JOURNEYS + "/new")
def new_journey(request: Request, workspace_id: str, template: str | None = None) -> Response:
    """The editor for a new journey: empty, or filled from a template (``?template=welcome_series``)."""
    access = access_page(request, workspace_id, Page.JOURNEYS, edit=True)
    data = editor_data(runtime_of(request).services, workspace_id=workspace_id, template=template)
    return page_response(request, access, "journey_editor.html", data, Page.JOURNEYS)


@router.post(JOURNEYS + "/new")
async def create_journey(request: Request, workspace_id: str) -> Response:
    """Save a new journey as a draft; a definition that does not hold is shown again with its problems."""
    access = access_page(request, workspace_id, Page.JOURNEYS, edit=True)
    name, text = await _editor_input(request)
    definition, not_json = parse_definition_text(text)
    if not_json:
        return _refused(request, access, editor_problems(workspace_id, name=name, text=text, message=not_json))
    try:
        row = do_create_journey(runtime_of(request).services, workspace_id=workspace_id,
                                data={"name": name, "definition": definition})
    except JourneyRejected as error:
        return _refused(request, access, editor_problems(workspace_id, name=name, text=text, error=error))
    _audit(request, access, "journey.created", row, {"name": row.name, "version": row.version})
    return _done(request, access, row, status=201)


@router.get(JOURNEYS + "/{journey_id}")
def journey(request: Request, workspace_id: str, journey_id: str) -> Response:
    """One journey drawn as a flow, with how many customers reached, wait at and took each step."""
    access = access_page(request, workspace_id, Page.JOURNEYS)
    data = journey_view(runtime_of(request).services, workspace_id=workspace_id, journey_id=journey_id)
    data["can_edit"] = may_edit(access.role, Page.JOURNEYS)
    return page_response(request, access, "journey.html", data, Page.JOURNEYS)


@router.get(JOURNEYS + "/{journey_id}/edit")
def edit_journey(request: Request, workspace_id: str, journey_id: str) -> Response:
    """The editor over a journey's current definition."""
    access = access_page(request, workspace_id, Page.JOURNEYS, edit=True)
    data = editor_data(runtime_of(request).services, workspace_id=workspace_id, journey_id=journey_id)
    return page_response(request, access, "journey_editor.html", data, Page.JOURNEYS)


@router.post(JOURNEYS + "/{journey_id}/edit")
async def update_journey(request: Request, workspace_id: str, journey_id: str) -> Response:
    """Save a new version of a journey's definition (running enrolments finish on theirs)."""
    access = access_page(request, workspace_id, Page.JOURNEYS, edit=True)
    services = runtime_of(request).services
    current = journey_row(services, workspace_id, journey_id)  # 404 before reading what was sent
    name, text = await _editor_input(request)
    definition, not_json = parse_definition_text(text)
    if not_json:
        return _refused(request, access, editor_problems(workspace_id, name=name, text=text, message=not_json,
                                                         journey=current))
    try:
        row = do_update_journey(services, workspace_id=workspace_id, journey_id=journey_id,
                                data={"name": name, "definition": definition})
    except JourneyRejected as error:
        return _refused(request, access, editor_problems(workspace_id, name=name, text=text, error=error,
                                                         journey=current))
    _audit(request, access, "journey.updated", row, {"version": row.version})
    return _done(request, access, row)


@router.post(JOURNEYS + "/{journey_id}/status")
async def set_status(request: Request, workspace_id: str, journey_id: str) -> Response:
    """Activate, pause or archive a journey (form field ``status``: active, paused or archived)."""
    access = access_page(request, workspace_id, Page.JOURNEYS, edit=True)
    services = runtime_of(request).services
    before = journey_row(services, workspace_id, journey_id).status
    status = str((await request.form()).get("status") or "")
    check_move(status, before)
    row = do_set_journey_status(services, workspace_id=workspace_id, journey_id=journey_id, status=status)
    _audit(request, access, "journey.status_changed", row, {"from": before, "to": row.status})
    return _done(request, access, row)


async def _editor_input(request: Request) -> tuple[str, str]:
    form = await request.form()
    return str(form.get("name") or "").strip(), str(form.get("definition") or "")


def _refused(request: Request, access: Access, data: dict[str, Any]) -> Response:
    """Answer a definition that cannot be saved: 422 (409 for a name in use), the editor shown again as sent."""
    status = 409 if data["error"]["code"] == "name_taken" else 422
    if wants_json(request):
        error = data["error"]
        return json_response({"success": False, "error": error, "code": error["code"], "message": error["message"],
                              "problems": data["problems"]}, status=status)
    return render(request, "journey_editor.html", {
        "data": data, "viewer": access.viewer, "nav": access.nav(), "csrf": access.csrf, "current": Page.JOURNEYS.value,
        "workspace": {"id": access.workspace_id, "name": access.workspace_name}}, status=status)


def _done(request: Request, access: Access, row: JourneyRow, *, status: int = 200) -> Response:
    """Answer a change: the journey's page data as JSON, or back to the journey's page."""
    if wants_json(request):
        data = journey_view(runtime_of(request).services, workspace_id=access.workspace_id, journey_id=row.id)
        return json_response(data, status=status)
    return RedirectResponse(f"/console/w/{access.workspace_id}/journeys/{row.id}", status_code=303,
                            headers=SECURITY_HEADERS)


def _audit(request: Request, access: Access, action: str, row: JourneyRow, detail: dict[str, Any]) -> None:
    audit(runtime_of(request).services, action=action, actor=access.viewer.user.email,
          user_id=access.viewer.user.id, workspace_id=access.workspace_id, target=row.id, detail=detail,
          client=client_of(request))
