"""CSV exports of the management API."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from loopline.actions.exports import iter_profiles_csv
from loopline.api.auth import access_workspace
from loopline.api.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["management"])
TRAIT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@router.get(
    "/exports/profiles.csv",
    response_model=None,
    response_class=StreamingResponse,
    responses={200: {"description": "Live profiles as CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_profiles_csv(
    request: Request,
    workspace_id: Annotated[str, Depends(access_workspace)],
    traits: Annotated[str, Query(max_length=2000, description="Comma-separated trait names")] = "firstName,lastName",
) -> StreamingResponse:
    """Stream live profiles as CSV; cells that a spreadsheet would run as formulas are neutralised."""
    names = [name.strip() for name in traits.split(",") if name.strip()]
    bad = [name for name in names if not TRAIT_NAME.match(name)]
    if bad or len(names) > 50:
        raise ApiError(400, "invalid_traits", "traits must be up to 50 names of letters, digits, '_', '.' or '-'")
    services = request.app.state.runtime.services
    return StreamingResponse(
        iter_profiles_csv(services, workspace_id=workspace_id, traits=names),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="profiles.csv"'},
    )
