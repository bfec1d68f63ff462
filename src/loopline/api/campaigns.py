"""Campaigns, the contact policy, the send ledger's "why" and the sandbox outbox over the management API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from loopline.actions.campaign_results import campaign_results
from loopline.actions.campaigns import (
    CampaignNotFound,
    CampaignRejected,
    definition_of,
    do_cancel_campaign,
    do_create_campaign,
    do_pause_campaign,
    do_resume_campaign,
    do_schedule_campaign,
    do_test_send,
    do_unschedule_campaign,
    do_update_campaign,
    get_campaign,
    preview_campaign,
)
from loopline.actions.contact_policy import PolicyRejected, do_set_policy, get_policy
from loopline.actions.profiles import ProfileNotFound, find_profile
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.domain.campaigns import CampaignDefinition, Channel
from loopline.domain.contact_rules import PolicyDocument
from loopline.services import Services
from loopline.store.sql.campaigns import CampaignRow

router = APIRouter(prefix="/api/v1", tags=["campaigns"])
Workspace = Annotated[str, Depends(access_workspace)]
CAMPAIGN = "/campaigns/{campaign_id}"


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


class CampaignWrite(BaseModel):
    """A campaign's name and definition."""

    name: str = Field(min_length=1, max_length=200)
    definition: CampaignDefinition


class CampaignRead(BaseModel):
    """A campaign with where its lifecycle and its current run stand."""

    id: str
    name: str
    status: str
    status_reason: str
    version: int
    definition: dict[str, Any]
    next_run_at: datetime | None
    occurrence: str | None
    run_started_at: datetime | None
    claimed: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class CampaignList(BaseModel):
    """The workspace's campaigns, newest first."""

    items: list[CampaignRead]


class ProfileChoice(BaseModel):
    """A profile named by id, userId, anonymousId, email or phone, and optionally one channel."""

    profile: str = Field(min_length=1, max_length=320)
    channel: Channel | None = None


def _read(row: CampaignRow) -> CampaignRead:
    return CampaignRead(**{name: getattr(row, name) for name in CampaignRead.model_fields})


def _failure(error: Exception) -> ApiError:
    if isinstance(error, CampaignNotFound):
        return ApiError(404, "campaign_not_found", "no such campaign in this workspace")
    if isinstance(error, CampaignRejected):
        status = {"campaign_state": 409, "campaign_not_editable": 409, "name_taken": 409,
                  "profile_not_found": 404}.get(error.code, 422)
        return ApiError(status, error.code, error.message, extra={"problems": error.problems})
    raise error


async def _call(action: Callable[..., Any], request: Request, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(action, _services(request), **kwargs)
    except (CampaignNotFound, CampaignRejected) as error:
        raise _failure(error) from None


@router.get("/contact-policy", response_model=PolicyDocument)
def read_policy(request: Request, workspace_id: Workspace) -> PolicyDocument:
    """Return the workspace's contact policy (the defaults until one is set)."""
    return get_policy(_services(request), workspace_id=workspace_id)


@router.put("/contact-policy", response_model=PolicyDocument)
def replace_policy(request: Request, body: PolicyDocument, workspace_id: Workspace) -> PolicyDocument:
    """Replace the contact policy: caps, quiet hours, consent rules, the global control group."""
    try:
        return do_set_policy(_services(request), workspace_id=workspace_id, data=body.model_dump(mode="json"))
    except PolicyRejected as error:
        raise ApiError(422, error.code, str(error), extra={"problems": error.problems}) from None


@router.get("/campaigns", response_model=CampaignList)
def list_campaigns(request: Request, workspace_id: Workspace) -> CampaignList:
    """List the workspace's campaigns."""
    return CampaignList(items=[_read(r) for r in _services(request).campaigns.in_workspace(workspace_id=workspace_id)])


@router.post("/campaigns", status_code=201, response_model=CampaignRead)
async def create_campaign(request: Request, body: CampaignWrite, workspace_id: Workspace) -> CampaignRead:
    """Save a campaign as a draft; templates and the audience's segments are checked now."""
    data = body.model_dump(mode="json")
    return _read(await _call(do_create_campaign, request, workspace_id=workspace_id, data=data))


@router.get(CAMPAIGN, response_model=CampaignRead)
async def read_campaign(request: Request, campaign_id: str, workspace_id: Workspace) -> CampaignRead:
    """Return one campaign."""
    return _read(await _call(get_campaign, request, workspace_id=workspace_id, campaign_id=campaign_id))


@router.put(CAMPAIGN, response_model=CampaignRead)
async def update_campaign(request: Request, campaign_id: str, body: CampaignWrite,
                          workspace_id: Workspace) -> CampaignRead:
    """Replace a draft, scheduled or paused campaign's name and definition."""
    data = body.model_dump(mode="json")
    return _read(await _call(do_update_campaign, request, workspace_id=workspace_id, campaign_id=campaign_id,
                             data=data))


_MOVES: dict[str, Callable[..., CampaignRow]] = {
    "schedule": do_schedule_campaign, "unschedule": do_unschedule_campaign, "pause": do_pause_campaign,
    "resume": do_resume_campaign, "cancel": do_cancel_campaign,
}


def _lifecycle(move: str) -> Any:
    async def endpoint(request: Request, campaign_id: str, workspace_id: Workspace) -> CampaignRead:
        return _read(await _call(_MOVES[move], request, workspace_id=workspace_id, campaign_id=campaign_id))

    endpoint.__doc__ = {
        "schedule": "Schedule a draft: it runs when its schedule says.",
        "unschedule": "Take a scheduled campaign back to draft.",
        "pause": "Pause: no new claims, queued sends held; nothing is lost or resent on resume.",
        "resume": "Resume a paused campaign at its cursor, or start a run that missed its time now.",
        "cancel": "Cancel for good; queued sends are skipped with the reason campaign_cancelled.",
    }[move]
    endpoint.__name__ = f"{move}_campaign"
    return endpoint


for _move in _MOVES:
    router.add_api_route(f"{CAMPAIGN}/{_move}", _lifecycle(_move), methods=["POST"], response_model=CampaignRead,
                         responses={409: {"description": "The campaign's state does not allow this move."}})


@router.post(f"{CAMPAIGN}/preview")
async def preview(request: Request, campaign_id: str, body: ProfileChoice, workspace_id: Workspace) -> dict[str, Any]:
    """Render the campaign for one profile and say what the contact policy would decide for them now."""
    result = await _call(preview_campaign, request, workspace_id=workspace_id, campaign_id=campaign_id,
                         reference=body.profile)
    return {"profile_id": result.profile_id, "variant": result.variant, "held_out": result.held_out,
            "decision": result.decision, "messages": result.messages}


@router.post(f"{CAMPAIGN}/test-send")
async def test_send(request: Request, campaign_id: str, body: ProfileChoice, workspace_id: Workspace) -> dict[str, Any]:
    """Send the campaign's message to one profile now (past caps and control groups; consent still holds)."""
    return _send_json(await _call(do_test_send, request, workspace_id=workspace_id, campaign_id=campaign_id,
                                  reference=body.profile, channel=body.channel))


@router.get(f"{CAMPAIGN}/report")
async def report(request: Request, campaign_id: str, workspace_id: Workspace) -> dict[str, Any]:
    """Return the campaign's sends by state and reason (per run, or all runs)."""
    row = await _call(get_campaign, request, workspace_id=workspace_id, campaign_id=campaign_id)
    tally = _services(request).send_ledger.tally(workspace_id=workspace_id, source_id=campaign_id)
    definition = definition_of(row)
    return {"campaign_id": row.id, "status": row.status, "status_reason": row.status_reason,
            "holdout_percent": definition.holdout_percent, "by_state": tally,
            "totals": {state: sum(reasons.values()) for state, reasons in tally.items()}}


@router.get(f"{CAMPAIGN}/results", responses={404: {"description": "No such campaign in this workspace."}})
async def results(request: Request, campaign_id: str, workspace_id: Workspace,
                  attribution: Literal["last_touch", "first_touch"] = "last_touch") -> dict[str, Any]:
    """Return the campaign's funnel per variant and channel, and its uplift over the control groups.

    ``attribution`` picks which of the campaign's decisions a conversion is credited to in the
    funnel: the last before it (default) or the first whose window holds it.
    """
    result: dict[str, Any] = await _call(campaign_results, request, workspace_id=workspace_id,
                                         campaign_id=campaign_id, attribution=attribution)
    return result


def _profile_id(services: Services, workspace_id: str, reference: str) -> str:
    try:
        return find_profile(services, workspace_id=workspace_id, reference=reference).profile_id
    except ProfileNotFound:
        raise ApiError(404, "profile_not_found", "no profile in this workspace has that id or identifier") from None


@router.get("/profiles/{reference}/sends")
def profile_sends(
    request: Request, reference: str, workspace_id: Workspace,
    source_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Answer "why did (or didn't) this customer get this message?": their ledger rows with reasons."""
    services = _services(request)
    profile_id = _profile_id(services, workspace_id, reference)
    rows = services.send_ledger.list_for_profile(workspace_id=workspace_id, profile_id=profile_id,
                                                 source_id=source_id, limit=limit)
    return {"profile_id": profile_id, "items": [_send_json(row) for row in rows]}


def _send_json(row: dict[str, Any]) -> dict[str, Any]:
    shown = ("send_key", "source_kind", "source_id", "step", "occurrence", "channel", "variant", "priority",
             "topic", "state", "reason", "detail", "not_before", "expires_at", "attempts", "created_at",
             "updated_at", "sent_at", "receipt", "receipt_at")
    return {name: row[name] for name in shown}


@router.get("/outbox")
def outbox(
    request: Request, workspace_id: Workspace,
    profile: Annotated[str | None, Query(max_length=320)] = None,
    source_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Return what the sandbox channel delivered, newest first (the console's outbox)."""
    services = _services(request)
    profile_id = _profile_id(services, workspace_id, profile) if profile else None
    rows = services.sandbox.list_outbox(workspace_id=workspace_id, profile_id=profile_id, source_id=source_id,
                                        limit=limit)
    return {"items": [{k: v for k, v in row.items() if k != "workspace_id"} for row in rows]}
