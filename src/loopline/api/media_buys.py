"""Media buys over the management API: paid placements, their costs, and what their traffic returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from loopline.actions.media_buys import (
    MediaBuyNotFound,
    MediaBuyRejected,
    do_create_media_buy,
    do_delete_media_buy,
    do_update_media_buy,
    get_media_buy,
    media_buy_results,
)
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.services import Services
from loopline.store.sql.media_buys import MediaBuyRow

router = APIRouter(prefix="/api/v1", tags=["media buys"])
Workspace = Annotated[str, Depends(access_workspace)]
MEDIA_BUY = "/media-buys/{media_buy_id}"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such media buy in this workspace."}}
REFUSED: dict[int | str, dict[str, Any]] = {422: {"description": "The media buy is not valid, or its name is taken."}}
EXAMPLE = {"name": "Summer sale on Instagram", "definition": {
    "channel": "paid_social", "publisher": "Meta",
    "utm": {"campaign": "summer-sale", "source": "instagram", "medium": "paid_social"},
    "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-30T23:59:59Z",
    "costs": {"currency": "EUR", "fixed": 500, "per_click": 0.4, "per_thousand_impressions": 3.5,
              "impressions": 120000},
    "success_metric": {"event": "Order Completed", "within_days": 7, "revenue_property": "revenue"}}}


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _shown(row: MediaBuyRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "definition": row.definition, "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat()}


async def _call(action: Callable[..., Any], request: Request, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(action, _services(request), **kwargs)
    except MediaBuyNotFound:
        raise ApiError(404, "media_buy_not_found", "this workspace has no media buy with that id") from None
    except MediaBuyRejected as error:
        raise ApiError(422, error.code, error.message, extra={"problems": error.problems}) from None


@router.get("/media-buys")
def list_media_buys(request: Request, workspace_id: Workspace) -> dict[str, Any]:
    """List the workspace's media buys, newest first."""
    return {"items": [_shown(row) for row in _services(request).media_buys.in_workspace(workspace_id=workspace_id)]}


@router.post("/media-buys", status_code=201, responses=REFUSED)
async def create_media_buy(request: Request, workspace_id: Workspace,
                           body: Annotated[dict[str, Any], Body(examples=[EXAMPLE])]) -> dict[str, Any]:
    """Save a media buy: where it ran, its UTM tags, its period, its costs and its success metric."""
    row: MediaBuyRow = await _call(do_create_media_buy, request, workspace_id=workspace_id, data=body)
    return _shown(row)


@router.get(MEDIA_BUY, responses=NOT_FOUND)
async def read_media_buy(request: Request, media_buy_id: str, workspace_id: Workspace) -> dict[str, Any]:
    """Return one media buy."""
    row: MediaBuyRow = await _call(get_media_buy, request, workspace_id=workspace_id, media_buy_id=media_buy_id)
    return _shown(row)


@router.put(MEDIA_BUY, responses={**NOT_FOUND, **REFUSED})
async def replace_media_buy(request: Request, media_buy_id: str, workspace_id: Workspace,
                            body: Annotated[dict[str, Any], Body(examples=[EXAMPLE])]) -> dict[str, Any]:
    """Replace a media buy's name and definition, e.g. with the costs and impressions the publisher billed."""
    row: MediaBuyRow = await _call(do_update_media_buy, request, workspace_id=workspace_id,
                                   media_buy_id=media_buy_id, data=body)
    return _shown(row)


@router.delete(MEDIA_BUY, status_code=204, responses=NOT_FOUND)
async def delete_media_buy(request: Request, media_buy_id: str, workspace_id: Workspace) -> Response:
    """Remove a media buy; the events its traffic brought stay on the customers' timelines."""
    await _call(do_delete_media_buy, request, workspace_id=workspace_id, media_buy_id=media_buy_id)
    return Response(status_code=204)


@router.get(f"{MEDIA_BUY}/results", responses=NOT_FOUND)
async def read_media_buy_results(request: Request, media_buy_id: str, workspace_id: Workspace,
                                 attribution: Literal["last_touch", "first_touch"] = "last_touch") -> dict[str, Any]:
    """Return the buy's responses, the conversions and revenue credited to it, its cost and ROI."""
    result: dict[str, Any] = await _call(media_buy_results, request, workspace_id=workspace_id,
                                         media_buy_id=media_buy_id, attribution=attribution)
    return result
