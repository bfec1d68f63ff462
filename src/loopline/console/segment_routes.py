"""The segments pages: the list, the visual builder with its live count and sample, membership over time.

Saving, refreshing and deleting go through the segment actions (the only writers), which check
everything; a definition they refuse re-shows the builder as it was, with the segment language's
own message (422, or 409 for a name taken or a built-in segment). Every change is audited.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from loopline.actions.accounts import audit
from loopline.actions.segments import (
    SegmentNotFound,
    SegmentRejected,
    do_create_segment,
    do_delete_segment,
    do_refresh_segment,
    do_update_segment,
)
from loopline.console.segments import (
    BUILTIN_REASON,
    builder_data,
    definition_of,
    estimate,
    segment_list,
    segment_view,
    stored_segment,
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
    render,
    runtime_of,
    wants_json,
)
from loopline.domain.accounts import Page, may_edit, may_view
from loopline.store.sql.segments import SegmentRow

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])
SEGMENTS = "/w/{workspace_id}/segments"
ONE = SEGMENTS + "/{segment_id}"
CONFLICTS = frozenset({"segment_name_taken", "builtin_segment", "segment_in_use"})
MAX_ESTIMATE_BYTES = 256 * 1024


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _audit(request: Request, access: Access, action: str, segment_id: str, detail: dict[str, Any]) -> None:
    audit(runtime_of(request).services, action=action, actor=access.viewer.user.email,
          user_id=access.viewer.user.id, workspace_id=access.workspace_id, target=segment_id, detail=detail,
          client=client_of(request))


async def _count_members(request: Request, workspace_id: str, segment_id: str) -> int | None:
    """Refresh a just-saved segment so its page shows who is in it; None when that has to wait.

    A refresh that runs past its time limit is no reason to lose the saved definition: the
    scheduled refresh (or the page's button) counts the members later.
    """
    runtime = runtime_of(request)
    try:
        report = await run_in_threadpool(do_refresh_segment, runtime.services, runtime.pipeline,
                                         workspace_id=workspace_id, segment_id=segment_id)
    except SegmentRejected:
        return None
    return report.members


def _without_customer_links(access: Access, people: list[dict[str, Any]]) -> None:
    """Drop the links to customer pages for a role that may not open them (analysts see names only)."""
    if not may_view(access.role, Page.CUSTOMERS):
        for person in people:
            person["href"] = None


def _builtin_refused(row: SegmentRow) -> ConsoleError:
    return ConsoleError(409, "builtin_segment", BUILTIN_REASON + f" ({row.name})")


@router.get(SEGMENTS)
def segments(request: Request, workspace_id: str) -> Response:
    """The workspace's segments with member counts, last refresh and a trend; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.SEGMENTS)
    data = segment_list(runtime_of(request).services, workspace_id=workspace_id)
    return page_response(request, access, "segments.html", data, Page.SEGMENTS,
                         can_edit=may_edit(access.role, Page.SEGMENTS))


def _builder(request: Request, access: Access, data: dict[str, Any], *, status: int = 200) -> Response:
    """Answer the builder: the page, or its data as JSON (the error's shape when refused)."""
    if status == 200:
        return page_response(request, access, "segment_builder.html", data, Page.SEGMENTS)
    first = data["problems"][0]
    if wants_json(request):
        message = "; ".join(problem["message"] for problem in data["problems"])
        return json_response({"success": False, "error": {"code": first["code"], "message": message},
                              "code": first["code"], "message": message, "problems": data["problems"]},
                             status=status)
    return render(request, "segment_builder.html", {
        "data": data, "viewer": access.viewer, "nav": access.nav(),
        "workspace": {"id": access.workspace_id, "name": access.workspace_name},
        "csrf": access.csrf, "current": Page.SEGMENTS.value}, status=status)


@router.get(SEGMENTS + "/new")
def new_segment(request: Request, workspace_id: str, copy: str | None = None) -> Response:
    """The builder for a new segment; ``copy`` starts from another segment's definition (a built-in one, say)."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    services = runtime_of(request).services
    name, description, condition = "", "", ""
    if copy:
        source = stored_segment(services, workspace_id=workspace_id, segment_id=copy)
        name, description = f"Copy of {source.name}", source.description
        condition = orjson.dumps(source.definition["condition"]).decode()
    data = builder_data(services, workspace_id=workspace_id, segment=None, name=name, description=description,
                        condition_text=condition)
    return _builder(request, access, data)


@router.get(ONE + "/edit")
def edit_segment(request: Request, workspace_id: str, segment_id: str) -> Response:
    """The builder for a saved segment; built-in segments answer 409 saying why."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    services = runtime_of(request).services
    row = stored_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    if row.builtin is not None:
        raise _builtin_refused(row)
    data = builder_data(services, workspace_id=workspace_id, segment=row, name=row.name,
                        description=row.description, condition_text=orjson.dumps(row.definition["condition"]).decode())
    return _builder(request, access, data)


async def _posted(request: Request) -> tuple[str, str, str]:
    form = await request.form()
    return str(form.get("name") or ""), str(form.get("description") or ""), str(form.get("condition") or "")


def _condition(text: str) -> Any:
    """Return the condition the builder posted, or a SegmentRejected saying why it is no JSON."""
    if not text.strip():
        raise SegmentRejected("invalid_segment", "the definition has no condition yet: add one")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise SegmentRejected("invalid_segment", f"the condition is not valid JSON: {error}") from None


def _refused(error: SegmentRejected) -> tuple[int, list[dict[str, str]]]:
    status = 409 if error.code in CONFLICTS else 422
    return status, [{"code": error.code, "path": problem.get("path", ""), "message": problem["message"]}
                    for problem in error.problems]


@router.post(SEGMENTS + "/new")
async def create_segment(request: Request, workspace_id: str) -> Response:
    """Save a new segment, count its members and go to its page; a refused definition re-shows the builder."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    services = runtime_of(request).services
    name, description, text = await _posted(request)
    try:
        data = definition_of(name, description, _condition(text))
        row = await run_in_threadpool(do_create_segment, services, workspace_id=workspace_id, data=data)
    except SegmentRejected as error:
        status, problems = _refused(error)
        page = builder_data(services, workspace_id=workspace_id, segment=None, name=name, description=description,
                            condition_text=text, problems=problems)
        return _builder(request, access, page, status=status)
    members = await _count_members(request, workspace_id, row.id)
    _audit(request, access, "segment.created", row.id, {"name": row.name, "members": members})
    return _redirect(f"/console/w/{workspace_id}/segments/{row.id}")


@router.post(ONE + "/edit")
async def update_segment(request: Request, workspace_id: str, segment_id: str) -> Response:
    """Save a changed definition (its version goes up), count its members again and go to its page."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    services = runtime_of(request).services
    row = stored_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    if row.builtin is not None:
        raise _builtin_refused(row)
    name, description, text = await _posted(request)
    try:
        data = definition_of(name, description, _condition(text))
        saved = await run_in_threadpool(do_update_segment, services, workspace_id=workspace_id,
                                        segment_id=segment_id, data=data)
    except SegmentNotFound:
        raise ConsoleError(404, "segment_not_found", "this workspace has no such segment") from None
    except SegmentRejected as error:
        status, problems = _refused(error)
        page = builder_data(services, workspace_id=workspace_id, segment=row, name=name, description=description,
                            condition_text=text, problems=problems)
        return _builder(request, access, page, status=status)
    members = await _count_members(request, workspace_id, saved.id)
    _audit(request, access, "segment.updated", saved.id,
           {"name": saved.name, "version": saved.version, "members": members})
    return _redirect(f"/console/w/{workspace_id}/segments/{saved.id}")


@router.post(SEGMENTS + "/estimate")
async def estimate_route(request: Request, workspace_id: str) -> Response:
    """Count who matches the builder's definition now, with a sample: JSON, 422 with the parser's message."""
    access = access_page(request, workspace_id, Page.SEGMENTS)
    body = await request.body()
    if len(body) > MAX_ESTIMATE_BYTES:
        raise ConsoleError(413, "too_large", f"a definition is at most {MAX_ESTIMATE_BYTES // 1024} KiB")
    try:
        posted = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ConsoleError(400, "invalid_json", "send the definition as a JSON object with a condition") from None
    if not isinstance(posted, dict):
        raise ConsoleError(400, "invalid_json", "send the definition as a JSON object with a condition")
    name = posted.get("name") if isinstance(posted.get("name"), str) else ""
    services = runtime_of(request).services
    try:
        found = await run_in_threadpool(estimate, services, workspace_id=workspace_id, name=str(name),
                                        condition=posted.get("condition"))
    except SegmentRejected as error:
        _, problems = _refused(error)
        return json_response({"success": False, "error": {"code": error.code, "message": error.message},
                              "code": error.code, "message": error.message, "problems": problems}, status=422)
    _without_customer_links(access, found["sample"])
    return json_response(found)


@router.get(ONE)
def segment(request: Request, workspace_id: str, segment_id: str) -> Response:
    """One segment: its definition in words, member count, members over time and a sample of members."""
    access = access_page(request, workspace_id, Page.SEGMENTS)
    data = segment_view(runtime_of(request).services, workspace_id=workspace_id, segment_id=segment_id)
    _without_customer_links(access, data["members"])
    return page_response(request, access, "segment.html", data, Page.SEGMENTS,
                         can_edit=may_edit(access.role, Page.SEGMENTS))


@router.post(ONE + "/refresh")
async def refresh_segment(request: Request, workspace_id: str, segment_id: str) -> Response:
    """Bring the members up to date now (writing Segment Entered / Exited events) and show the page again."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    runtime = runtime_of(request)
    try:
        report = await run_in_threadpool(do_refresh_segment, runtime.services, runtime.pipeline,
                                         workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise ConsoleError(404, "segment_not_found", "this workspace has no such segment") from None
    except SegmentRejected as error:
        raise ConsoleError(422, error.code, error.message) from None
    _audit(request, access, "segment.refreshed", segment_id,
           {"members": report.members, "entered": report.entered, "exited": report.exited})
    if wants_json(request):
        return json_response({"segment_id": report.segment_id, "members": report.members, "entered": report.entered,
                              "exited": report.exited, "full": report.full, "refreshed": report.refreshed})
    return _redirect(f"/console/w/{workspace_id}/segments/{segment_id}")


@router.post(ONE + "/delete")
async def delete_segment(request: Request, workspace_id: str, segment_id: str) -> Response:
    """Delete a segment once confirmed; refused (409) for built-in segments and segments others build on."""
    access = access_page(request, workspace_id, Page.SEGMENTS, edit=True)
    services = runtime_of(request).services
    row = stored_segment(services, workspace_id=workspace_id, segment_id=segment_id)
    if (await request.form()).get("confirm") != "yes":
        raise ConsoleError(400, "not_confirmed", "confirm the deletion with the button that names the segment")
    try:
        await run_in_threadpool(do_delete_segment, services, workspace_id=workspace_id, segment_id=segment_id)
    except SegmentNotFound:
        raise ConsoleError(404, "segment_not_found", "this workspace has no such segment") from None
    except SegmentRejected as error:
        raise ConsoleError(409, error.code, error.message) from None
    _audit(request, access, "segment.deleted", segment_id, {"name": row.name})
    return _redirect(f"/console/w/{workspace_id}/segments")
