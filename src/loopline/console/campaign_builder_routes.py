"""The campaign builder's pages: a new campaign, editing a draft, previews on phone and desktop.

The form posts to its own page. Saving goes through the campaign actions (the only writers),
which check everything; a problem re-shows the form as it was typed with the message beside
its field (422, or 409 for a name taken or a campaign that can no longer change). Adding or
removing a variant re-shows the form without saving. The audience's size and the preview are
small fragments the page asks for as the form changes (HTMX).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from loopline.actions.accounts import audit
from loopline.actions.campaigns import (
    CampaignRejected,
    definition_of,
    do_create_campaign,
    do_schedule_campaign,
    do_update_campaign,
)
from loopline.console.campaign_builder import audience_size, builder_data, preview, stored_campaign
from loopline.console.web import (
    SECURITY_HEADERS,
    Access,
    access_page,
    check_csrf,
    client_of,
    instant_text,
    json_response,
    page_response,
    render,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page
from loopline.domain.campaign_forms import (
    blank_form,
    definition_of_form,
    form_of,
    read_form,
    with_variant_added,
    with_variant_removed,
)
from loopline.domain.campaigns import Status
from loopline.services import Services
from loopline.store.sql.campaigns import CampaignRow

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
CONFLICTS = frozenset({"name_taken", "campaign_not_editable", "campaign_state"})


async def _fields(request: Request) -> dict[str, list[str]]:
    """Return the posted form's fields, each name with all its values (checkboxes send several)."""
    fields: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


def _page(request: Request, access: Access, data: dict[str, Any], *, status: int = 200) -> Response:
    """Answer the builder: the page in the console's frame, or its data as JSON (an error's shape when not 200)."""
    if status == 200:
        return page_response(request, access, "campaign_builder.html", data, Page.CAMPAIGNS)
    if wants_json(request):
        first = data["problems"][0] if data["problems"] else {"code": "invalid_campaign", "message": ""}
        code = first.get("code", "invalid_campaign")
        message = "; ".join(problem["message"] for problem in data["problems"])
        return json_response({"success": False, "error": {"code": code, "message": message}, "code": code,
                              "message": message, "problems": data["problems"]}, status=status)
    return render(request, "campaign_builder.html", {
        "data": data, "viewer": access.viewer, "nav": access.nav(),
        "workspace": {"id": access.workspace_id, "name": access.workspace_name},
        "csrf": access.csrf, "current": Page.CAMPAIGNS.value}, status=status)


def _access(request: Request, workspace_id: str, *, edit: bool = False) -> Access:
    return access_page(request, workspace_id, Page.CAMPAIGNS, edit=edit)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _audit(request: Request, access: Access, action: str, row: CampaignRow, detail: dict[str, Any]) -> None:
    audit(runtime_of(request).services, action=action, actor=access.viewer.user.email,
          user_id=access.viewer.user.id, workspace_id=access.workspace_id, target=row.id, detail=detail,
          client=client_of(request))


def _summary(row: CampaignRow) -> dict[str, Any]:
    """Return what the audit log keeps about a saved campaign: enough to recognise it, no content."""
    definition = definition_of(row)
    return {"name": row.name, "version": row.version, "channels": list(definition.channels),
            "variants": len(definition.variants), "holdout_percent": definition.holdout_percent,
            "schedule": definition.schedule.kind, "segments": definition.audience.segments,
            "exclude": definition.audience.exclude}


def _rejected(error: CampaignRejected) -> tuple[int, list[dict[str, str]]]:
    status = 409 if error.code in CONFLICTS else 422
    problems = [{**problem, "code": error.code} for problem in error.problems]
    if error.code == "name_taken":
        problems = [{"path": "name", "message": error.message, "code": error.code}]
    return status, problems


async def _submit(request: Request, access: Access, row: CampaignRow | None) -> Response:
    """Carry out the form's action: change the form, or save it (and schedule it) through the actions."""
    services: Services = runtime_of(request).services
    fields = await _fields(request)
    form, action = read_form(fields), (fields.get("action") or ["save"])[-1]
    workspace_id = access.workspace_id
    if action in ("add_variant", "remove_variant"):
        changed = with_variant_added(form) if action == "add_variant" else with_variant_removed(form)
        return _page(request, access, builder_data(services, workspace_id=workspace_id, form=changed, row=row))
    base = definition_of(row).model_dump(mode="json") if row is not None else None
    body, problems = definition_of_form(form, base)
    if problems:
        problems = [{**problem, "code": "invalid_campaign"} for problem in problems]
        return _page(request, access, builder_data(services, workspace_id=workspace_id, form=form, row=row,
                                                   problems=problems), status=422)
    try:
        if row is None:
            row = do_create_campaign(services, workspace_id=workspace_id, data=body)
            _audit(request, access, "campaign.created", row, _summary(row))
        else:
            row = do_update_campaign(services, workspace_id=workspace_id, campaign_id=row.id, data=body)
            _audit(request, access, "campaign.updated", row, _summary(row))
        if action == "schedule" and row.status == Status.DRAFT:
            row = do_schedule_campaign(services, workspace_id=workspace_id, campaign_id=row.id)
            _audit(request, access, "campaign.scheduled", row, {"name": row.name, "schedule": _summary(row)["schedule"],
                                                                "next_run_at": instant_text(row.next_run_at)})
    except CampaignRejected as error:
        status, found = _rejected(error)
        return _page(request, access, builder_data(services, workspace_id=workspace_id, form=form, row=row,
                                                   problems=found), status=status)
    if action == "schedule":
        return _redirect(f"/console/w/{workspace_id}/campaigns/{row.id}")
    return _redirect(f"/console/w/{workspace_id}/campaigns/{row.id}/edit?saved=1")


@router.get("/w/{workspace_id}/campaigns/new")
def new_campaign(request: Request, workspace_id: str) -> Response:
    """The builder with an empty campaign; its data as JSON with ``Accept: application/json``."""
    access = _access(request, workspace_id)
    data = builder_data(runtime_of(request).services, workspace_id=workspace_id, form=blank_form())
    return _page(request, access, data)


@router.post("/w/{workspace_id}/campaigns/new")
async def create_campaign(request: Request, workspace_id: str) -> Response:
    """Save the form as a new draft (and schedule it with ``action=schedule``), or change the form."""
    access = _access(request, workspace_id, edit=True)
    return await _submit(request, access, None)


@router.get("/w/{workspace_id}/campaigns/new/audience")
def audience(request: Request, workspace_id: str) -> Response:
    """How many customers the picked segments reach now: a fragment for the form, JSON with ``Accept``."""
    _access(request, workspace_id)
    services = runtime_of(request).services
    found = audience_size(services, workspace_id=workspace_id, include=request.query_params.getlist("include"),
                          exclude=request.query_params.getlist("exclude"))
    if wants_json(request):
        return json_response(found)
    return render(request, "_campaign_audience.html", {"audience": found})


@router.post("/w/{workspace_id}/campaigns/new/preview")
async def preview_form(request: Request, workspace_id: str) -> Response:
    """Each channel's message of the form as it is now, rendered for a customer, in a phone and a desktop frame."""
    access = _access(request, workspace_id)
    fields = await _fields(request)
    form = read_form(fields)
    campaign_id = (fields.get("campaign_id") or [""])[-1]
    try:
        variant_index = int((fields.get("preview_variant") or ["0"])[-1])
    except ValueError:
        variant_index = 0
    shown = preview(runtime_of(request).services, workspace_id=access.workspace_id, form=form,
                    reference=(fields.get("preview_customer") or [""])[-1], variant_index=variant_index,
                    campaign={"id": campaign_id or "preview", "name": form["name"]})
    if wants_json(request):
        return json_response(shown)
    return render(request, "_campaign_preview.html", {"preview": shown, "workspace_id": workspace_id})


@router.get("/w/{workspace_id}/campaigns/{campaign_id}/edit")
def edit_campaign(request: Request, workspace_id: str, campaign_id: str, saved: bool = False) -> Response:
    """The builder showing a saved campaign; its data as JSON with ``Accept: application/json``."""
    access = _access(request, workspace_id)
    services = runtime_of(request).services
    row = stored_campaign(services, workspace_id=workspace_id, campaign_id=campaign_id)
    data = builder_data(services, workspace_id=workspace_id, form=form_of(row.name, row.definition), row=row,
                        saved=saved)
    return _page(request, access, data)


@router.post("/w/{workspace_id}/campaigns/{campaign_id}/edit")
async def update_campaign(request: Request, workspace_id: str, campaign_id: str) -> Response:
    """Save the form over the campaign (and schedule it with ``action=schedule``), or change the form."""
    access = _access(request, workspace_id, edit=True)
    row = stored_campaign(runtime_of(request).services, workspace_id=workspace_id, campaign_id=campaign_id)
    return await _submit(request, access, row)
