"""Journeys over the management API: definitions and their versions, status, and enrolments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from loopline.actions.journeys import (
    JourneyNotFound,
    JourneyRejected,
    do_create_journey,
    do_set_journey_status,
    do_update_journey,
    get_journey,
)
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.domain.journeys import JourneyDefinition
from loopline.services import Services
from loopline.store.sql.journeys import JourneyRow

router = APIRouter(prefix="/api/v1", tags=["journeys"])
Workspace = Annotated[str, Depends(access_workspace)]
JOURNEY = "/journeys/{journey_id}"


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


class JourneyWrite(BaseModel):
    """A journey's name and definition."""

    name: str = Field(min_length=1, max_length=200)
    definition: JourneyDefinition


class JourneyRead(BaseModel):
    """A journey: its status and current version's definition."""

    id: str
    name: str
    status: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class JourneyList(BaseModel):
    """The workspace's journeys, newest first."""

    items: list[JourneyRead]


def _read(row: JourneyRow) -> JourneyRead:
    return JourneyRead(**{name: getattr(row, name) for name in JourneyRead.model_fields})


async def _call(action: Callable[..., Any], request: Request, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(action, _services(request), **kwargs)
    except JourneyNotFound:
        raise ApiError(404, "journey_not_found", "no such journey in this workspace") from None
    except JourneyRejected as error:
        status = 409 if error.code == "name_taken" else 422
        raise ApiError(status, error.code, error.message, extra={"problems": error.problems}) from None


@router.get("/journeys", response_model=JourneyList)
def list_journeys(request: Request, workspace_id: Workspace) -> JourneyList:
    """List the workspace's journeys."""
    return JourneyList(items=[_read(r) for r in _services(request).journeys.in_workspace(workspace_id=workspace_id)])


@router.post("/journeys", status_code=201, response_model=JourneyRead)
async def create_journey(request: Request, body: JourneyWrite, workspace_id: Workspace) -> JourneyRead:
    """Save a journey as a draft; templates are checked now."""
    return _read(await _call(do_create_journey, request, workspace_id=workspace_id, data=body.model_dump(mode="json")))


@router.get(JOURNEY, response_model=JourneyRead)
async def read_journey(request: Request, journey_id: str, workspace_id: Workspace) -> JourneyRead:
    """Return one journey with its current definition."""
    return _read(await _call(get_journey, request, workspace_id=workspace_id, journey_id=journey_id))


@router.put(JOURNEY, response_model=JourneyRead)
async def update_journey(request: Request, journey_id: str, body: JourneyWrite, workspace_id: Workspace) -> JourneyRead:
    """Save a new version: new entries take it; running enrolments finish on theirs."""
    return _read(await _call(do_update_journey, request, workspace_id=workspace_id, journey_id=journey_id,
                             data=body.model_dump(mode="json")))


def _status(status: str, doc: str) -> Any:
    async def endpoint(request: Request, journey_id: str, workspace_id: Workspace) -> JourneyRead:
        return _read(await _call(do_set_journey_status, request, workspace_id=workspace_id, journey_id=journey_id,
                                 status=status))

    endpoint.__doc__ = doc
    endpoint.__name__ = f"{status}_journey"
    return endpoint


for _move, _status_name, _doc in (
    ("activate", "active", "Activate: triggers start entering customers."),
    ("pause", "paused", "Pause: no new entries; running enrolments go on."),
    ("archive", "archived", "Archive: no new entries, kept for its history."),
):
    router.add_api_route(f"{JOURNEY}/{_move}", _status(_status_name, _doc), methods=["POST"],
                         response_model=JourneyRead)


@router.get(f"{JOURNEY}/enrollments")
async def list_enrollments(
    request: Request, journey_id: str, workspace_id: Workspace,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Return the journey's enrolments, newest first: where each customer stands and why one ended."""
    await _call(get_journey, request, workspace_id=workspace_id, journey_id=journey_id)
    rows = _services(request).journeys.list_for_journey(workspace_id=workspace_id, journey_id=journey_id,
                                                        limit=limit)
    shown = ("id", "version", "profile_id", "state", "step_id", "wake_at", "visits", "done_reason", "entered_at",
             "updated_at")
    return {"items": [{name: getattr(row, name) for name in shown} for row in rows]}
