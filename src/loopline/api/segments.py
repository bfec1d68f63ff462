"""Segments over the management API: definitions, live estimates, members, exports, counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from loopline.actions.segments import (
    SegmentNotFound,
    SegmentRejected,
    do_create_segment,
    do_delete_segment,
    do_refresh_segment,
    do_update_segment,
    estimate_segment,
    get_segment,
    iter_members,
    members_page,
)
from loopline.api.auth import access_workspace
from loopline.api.body import parse_json, read_limited
from loopline.api.errors import ApiError
from loopline.domain.segments.definition import SegmentDefinition
from loopline.services import Services
from loopline.store.sql.segments import SegmentRow

router = APIRouter(prefix="/api/v1", tags=["segments"])
Workspace = Annotated[str, Depends(access_workspace)]
MAX_DEFINITION_BYTES = 256 * 1024
SEGMENT = "/segments/{segment_id}"
# The body is read and validated by the segment language itself, so every problem comes
# back with its path; the published schema is the language's own.
DEFINITION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SegmentDefinition"}}},
    }
}
FIELD_NAME = r"^[^,]{1,200}$"


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _rejected(error: SegmentRejected) -> ApiError:
    return ApiError(422, error.code, error.message, extra={"problems": error.problems})


def _not_found() -> ApiError:
    return ApiError(404, "segment_not_found", "no such segment in this workspace")


class SegmentRead(BaseModel):
    """A segment: its definition, version, and its size at the last refresh."""

    id: str
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    builtin: str | None
    member_count: int | None
    refreshed_at: datetime | None
    refreshed_version: int | None
    created_at: datetime
    updated_at: datetime


class SegmentList(BaseModel):
    """The workspace's segments by name."""

    items: list[SegmentRead]


class EstimateRead(BaseModel):
    """How many profiles match now, a sample of them, and names the workspace has never seen.

    On a large workspace the count is scaled up from ``sample_percent`` of the profiles:
    ``exact`` is false and ``count_low``–``count_high`` is its 95 % interval.
    """

    count: int
    count_low: int
    count_high: int
    exact: bool
    sample_percent: int | None
    sample: list[dict[str, Any]]
    warnings: list[dict[str, str]]
    took_ms: float


class RefreshRead(BaseModel):
    """What a refresh changed; ``refreshed`` lists this segment and those it builds on, in order."""

    segment_id: str
    members: int
    entered: int
    exited: int
    full: bool
    refreshed: list[str]


class MemberPage(BaseModel):
    """A page of members (profile id, traits, identifiers) and the cursor of the next page."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class CountPoint(BaseModel):
    """Membership after one refresh."""

    at: datetime
    members: int
    entered: int
    exited: int
    full: bool


class CountSeries(BaseModel):
    """Membership over time, oldest first."""

    items: list[CountPoint]


def _read(row: SegmentRow) -> SegmentRead:
    return SegmentRead(**{name: getattr(row, name) for name in SegmentRead.model_fields})


async def _definition(request: Request) -> Any:
    body = await read_limited(request, limit=MAX_DEFINITION_BYTES)
    return parse_json(body, request.headers.get("content-type", "application/json"))


@router.get("/segments", response_model=SegmentList)
def list_segments(request: Request, workspace_id: Workspace) -> SegmentList:
    """List the workspace's segments."""
    rows = _services(request).segments.in_workspace(workspace_id=workspace_id)
    return SegmentList(items=[_read(row) for row in rows])


@router.post("/segments", status_code=201, response_model=SegmentRead, openapi_extra=DEFINITION_BODY,
             responses={422: {"description": "The definition is invalid; `problems` says where and why."}})
async def create_segment(request: Request, workspace_id: Workspace) -> SegmentRead:
    """Save a new segment definition; members follow on its first refresh."""
    data = await _definition(request)
    try:
        row = await run_in_threadpool(do_create_segment, _services(request), workspace_id=workspace_id, data=data)
    except SegmentRejected as error:
        raise _rejected(error) from None
    return _read(row)


@router.post("/segments/estimate", response_model=EstimateRead, openapi_extra=DEFINITION_BODY,
             responses={422: {"description": "The definition is invalid, or its query ran past the time limit."}})
async def estimate(request: Request, workspace_id: Workspace) -> EstimateRead:
    """Count who matches a definition now (saved or not), with sample profiles: the console's live preview."""
    data = await _definition(request)
    try:
        found = await run_in_threadpool(estimate_segment, _services(request), workspace_id=workspace_id, data=data)
    except SegmentRejected as error:
        raise _rejected(error) from None
    return EstimateRead(count=found.count, count_low=found.low, count_high=found.high,
                        exact=found.sample_percent is None, sample_percent=found.sample_percent,
                        sample=found.sample, warnings=found.warnings, took_ms=found.took_ms)


@router.get(SEGMENT, response_model=SegmentRead)
def read_segment(request: Request, segment_id: str, workspace_id: Workspace) -> SegmentRead:
    """Return one segment."""
    try:
        return _read(get_segment(_services(request), workspace_id=workspace_id, segment_id=segment_id))
    except SegmentNotFound:
        raise _not_found() from None


@router.put(SEGMENT, response_model=SegmentRead, openapi_extra=DEFINITION_BODY,
            responses={409: {"description": "Built-in segments cannot be changed."}})
async def update_segment(request: Request, segment_id: str, workspace_id: Workspace) -> SegmentRead:
    """Replace a segment's definition; the version goes up and the next refresh evaluates everyone."""
    services = _services(request)
    try:
        get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
        data = await _definition(request)
        row = await run_in_threadpool(
            do_update_segment, services, workspace_id=workspace_id, segment_id=segment_id, data=data
        )
    except SegmentNotFound:
        raise _not_found() from None
    except SegmentRejected as error:
        if error.code == "builtin_segment":
            raise ApiError(409, error.code, error.message) from None
        raise _rejected(error) from None
    return _read(row)


@router.delete(SEGMENT, status_code=204, response_model=None,
               responses={409: {"description": "Another segment builds on this one, or it is built in."}})
def delete_segment(request: Request, segment_id: str, workspace_id: Workspace) -> None:
    """Delete a segment and its members; refused while another segment uses it."""
    try:
        do_delete_segment(_services(request), workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise _not_found() from None
    except SegmentRejected as error:
        raise ApiError(409, error.code, error.message) from None


@router.post(SEGMENT + "/refresh", response_model=RefreshRead)
async def refresh(
    request: Request, segment_id: str, workspace_id: Workspace,
    full: Annotated[bool, Query(description="evaluate everyone (true) or only profiles changed since the last refresh")]
    = True,
) -> RefreshRead:
    """Bring the segment's members up to date now, writing Segment Entered / Exited events."""
    runtime = request.app.state.runtime
    try:
        report = await run_in_threadpool(
            do_refresh_segment, runtime.services, runtime.pipeline, workspace_id=workspace_id,
            segment_id=segment_id, full=full,
        )
    except SegmentNotFound:
        raise _not_found() from None
    except SegmentRejected as error:
        raise _rejected(error) from None
    return RefreshRead(segment_id=report.segment_id, members=report.members, entered=report.entered,
                       exited=report.exited, full=report.full, refreshed=report.refreshed)


@router.get(SEGMENT + "/members", response_model=MemberPage)
def members(
    request: Request, segment_id: str, workspace_id: Workspace,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> MemberPage:
    """Page through the members as of the last refresh, in profile id order."""
    try:
        items, next_cursor = members_page(
            _services(request), workspace_id=workspace_id, segment_id=segment_id, after=cursor, limit=limit
        )
    except SegmentNotFound:
        raise _not_found() from None
    except SegmentRejected as error:
        raise _rejected(error) from None
    return MemberPage(items=items, next_cursor=next_cursor)


def _stream_or_404(services: Services, workspace_id: str, segment_id: str) -> Iterator[list[dict[str, Any]]]:
    try:
        get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise _not_found() from None
    return iter_members(services, workspace_id=workspace_id, segment_id=segment_id)


@router.get(SEGMENT + "/members.ndjson", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}})
def stream_members(request: Request, segment_id: str, workspace_id: Workspace) -> StreamingResponse:
    """Stream every member as one JSON object per line, without paging."""
    chunks = _stream_or_404(_services(request), workspace_id, segment_id)

    def lines() -> Iterator[bytes]:
        for chunk in chunks:
            yield b"".join(orjson.dumps(item) + b"\n" for item in chunk)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(SEGMENT + "/export.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def export_members(
    request: Request, segment_id: str, workspace_id: Workspace,
    traits: Annotated[str, Query(max_length=2_000, description="comma-separated trait names to add as columns")] = "",
) -> StreamingResponse:
    """Export the members as CSV: profile id, user id, email, phone, and the traits asked for."""
    chunks = _stream_or_404(_services(request), workspace_id, segment_id)
    wanted = [name.strip() for name in traits.split(",") if name.strip()][:50]

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["profile_id", "user_id", "email", "phone", *wanted])
        for chunk in chunks:
            for item in chunk:
                ids, values = item["identifiers"], item["traits"]
                writer.writerow([
                    item["profile_id"], *(";".join(ids.get(kind, [])) for kind in ("user_id", "email", "phone")),
                    *(_cell(values.get(name)) for name in wanted),
                ])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{segment_id}.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(SEGMENT + "/counts", response_model=CountSeries)
def counts(
    request: Request, segment_id: str, workspace_id: Workspace, since: datetime | None = None,
) -> CountSeries:
    """Return membership over time: one point per refresh."""
    services = _services(request)
    try:
        get_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise _not_found() from None
    rows = services.segments.counts(workspace_id=workspace_id, segment_id=segment_id, since=since)
    return CountSeries(items=[CountPoint(at=r.at, members=r.members, entered=r.entered, exited=r.exited,
                                         full=r.full) for r in rows])


def definition_schema() -> dict[str, Any]:
    """Return the JSON schema of a segment definition and the models it uses, for OpenAPI."""
    return SegmentDefinition.model_json_schema(ref_template="#/components/schemas/{model}")
