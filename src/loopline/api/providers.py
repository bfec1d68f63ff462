"""A workspace's delivery providers over the management API; their secrets go in and never come out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from loopline.actions.providers import ProviderRejected, do_remove_provider, do_set_provider, list_providers
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError
from loopline.services import Services

router = APIRouter(prefix="/api/v1", tags=["channels"])
Workspace = Annotated[str, Depends(access_workspace)]


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


@router.get("/channels/providers")
def read_providers(request: Request, workspace_id: Workspace) -> dict[str, Any]:
    """List the workspace's providers: their settings, and which secrets are set (never the secrets)."""
    return {"items": list_providers(_services(request), workspace_id=workspace_id)}


class ProviderWrite(BaseModel):
    """Which channel, and the relay or gateway that carries it (``kind``: smtp or sms_gateway)."""

    channel: str = Field(min_length=1, max_length=16)
    provider: dict[str, Any]


@router.put("/channels/providers")
async def replace_provider(request: Request, body: ProviderWrite, workspace_id: Workspace) -> dict[str, Any]:
    """Set the relay or gateway that carries a channel for this workspace; secrets left out are kept."""
    try:
        shown = await run_in_threadpool(do_set_provider, _services(request), workspace_id=workspace_id,
                                        channel=body.channel, data=body.provider)
    except ProviderRejected as error:
        raise ApiError(422, error.code, error.message, extra={"problems": error.problems}) from None
    return {"channel": body.channel, **shown}


@router.delete("/channels/providers/{channel}", status_code=204)
def remove_provider(request: Request, channel: str, workspace_id: Workspace) -> Response:
    """Remove the workspace's provider for a channel: its messages go to the sandbox outbox again."""
    if not do_remove_provider(_services(request), workspace_id=workspace_id, channel=channel):
        raise ApiError(404, "provider_not_found", "this workspace has no provider for that channel")
    return Response(status_code=204)
