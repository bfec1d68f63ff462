"""Analytics reports over the management API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from loopline.actions.analytics import run_report
from loopline.actions.segments import SegmentRejected
from loopline.api.auth import access_workspace
from loopline.api.body import parse_json, read_limited
from loopline.api.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Workspace = Annotated[str, Depends(access_workspace)]
MAX_REQUEST_BYTES = 256 * 1024
REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "required": ["report"], "properties": {
            "report": {"enum": ["active_users", "new_vs_returning", "live", "events", "sessions", "retention",
                                "funnel", "paths", "affinity", "geography", "distribution"]},
            "since": {"type": "string", "format": "date"}, "until": {"type": "string", "format": "date"},
        }}}},
    }
}


@router.post("/reports", openapi_extra=REPORT_BODY,
             responses={422: {"description": "The request is invalid, or a query ran past the time limit."}})
async def report(request: Request, workspace_id: Workspace) -> dict[str, Any]:
    """Run an analytics report (see docs/analytics.md) and return its answer, ready for a chart."""
    body = await read_limited(request, limit=MAX_REQUEST_BYTES)
    data = parse_json(body, request.headers.get("content-type", "application/json"))
    try:
        return await run_in_threadpool(
            run_report, request.app.state.runtime.services, workspace_id=workspace_id, data=data
        )
    except SegmentRejected as error:
        raise ApiError(422, error.code, error.message, extra={"problems": error.problems}) from None
