"""Landing pages over HTTP: managing them (``/api/v1/landing-pages``) and the pages customers open (``/p/{token}``).

``/p/{token}`` takes no key: the token is the credential, written for one send of one
workspace when the message was handed over. Any token that is not a live PURL of this server
answers 404, the same for altered, made-up, expired and foreign ones. Pages are sent with a
Content-Security-Policy that allows no script at all, without a referrer (the token is in the
address), and never cached; they are framed in the workspace's theme (``api/customer_pages``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from loopline.actions.landing_pages import (
    LandingPageNotFound,
    LandingPageRejected,
    PageUnavailable,
    ProfileNotFound,
    ShownPage,
    SubmissionRefused,
    SubmissionsThrottled,
    SubmissionThrottle,
    definition_of,
    do_create_landing_page,
    do_delete_landing_page,
    do_submit_landing_page,
    do_update_landing_page,
    do_view_landing_page,
    get_landing_page,
)
from loopline.actions.landing_pages import preview_landing_page as preview_page
from loopline.actions.themes import theme_for_purl
from loopline.actions.tracking import LinkNotFound
from loopline.api.auth import access_workspace
from loopline.api.body import read_limited
from loopline.api.customer_pages import render_page
from loopline.api.errors import ApiError
from loopline.domain.landing_pages import FormField, LandingPageDefinition
from loopline.domain.themes import Theme
from loopline.services import Services
from loopline.store.sql.landing_pages import LandingPageRow

router = APIRouter(tags=["landing pages"])
Workspace = Annotated[str, Depends(access_workspace)]
PageId = Annotated[str, Path(max_length=40)]
PAGE = "/api/v1/landing-pages/{page_id}"
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200
FORM_TYPE = "application/x-www-form-urlencoded"
# No script of any kind; the customer pages' stylesheet (in the workspace's theme), the author's own styles and
# images over HTTPS; the form posts back here only.
_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src https: data:; font-src https:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex"}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_VISIT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The landing page, rendered for the customer the link was sent to.", "content": _HTML},
    404: {"description": "Not a live landing page link of this server: altered, made up, malformed, expired or "
                         "another workspace's (`link_not_found`), or its page was deleted or cannot be shown "
                         "(`landing_page_unavailable`). An HTML page for a browser.", "content": _HTML},
}
_SUBMIT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page's thank-you: the answers were written to the customer's traits.",
          "content": _HTML},
    400: {"description": "The form data cannot be read (`invalid_form`)."},
    404: _VISIT_ANSWERS[404],
    405: {"description": "The page has no form (`no_form`)."},
    409: {"description": "The link's customer has no timeline to write to (`profile_not_writable`)."},
    413: {"description": "The form data is over 64 KB."},
    415: {"description": f"The form data is not `{FORM_TYPE}`."},
    429: {"description": "The form was sent too often through this link or from this client "
                         "(`too_many_submissions`); `Retry-After` says when to try again. Nothing was written."},
    422: {"description": "Some answers are invalid: the page again, with a message per field; nothing changed.",
          "content": _HTML},
}


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


# --- Management ---------------------------------------------------------------------------------------------------


class LandingPageRead(BaseModel):
    """A landing page, and the link a message writes to open it (``purl``)."""

    id: str
    slug: str
    title: str
    body: str
    form: list[FormField] | None
    submit_label: str
    thank_you: str | None
    purl: str
    created_at: datetime
    updated_at: datetime


class LandingPageList(BaseModel):
    """The workspace's landing pages, by slug."""

    items: list[LandingPageRead]


def _read(row: LandingPageRow) -> LandingPageRead:
    definition = definition_of(row)
    return LandingPageRead(id=row.id, purl=f"purl:{row.slug}", created_at=row.created_at, updated_at=row.updated_at,
                           **definition.model_dump())


def _rejected(error: LandingPageRejected) -> ApiError:
    status = 409 if error.code == "slug_taken" else 422
    return ApiError(status, error.code, error.message, extra={"problems": error.problems})


def _not_found() -> ApiError:
    return ApiError(404, "landing_page_not_found", "no such landing page in this workspace")


_WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another landing page of the workspace has this slug (`slug_taken`)."},
    422: {"description": "The page is invalid: its fields (`invalid_request`), or a template that does not compile "
                         "(`template_syntax`, `template_unknown_name`…), lacks a fallback "
                         "(`template_missing_fallback`), or holds a script (`script_not_allowed`) or an unsafe "
                         "link (`unsafe_link`); `problems` names each part."},
}


@router.get("/api/v1/landing-pages", response_model=LandingPageList)
def list_landing_pages(request: Request, workspace_id: Workspace) -> LandingPageList:
    """List the workspace's landing pages."""
    rows = _services(request).landing_pages.list_pages(workspace_id=workspace_id)
    return LandingPageList(items=[_read(row) for row in rows])


@router.post("/api/v1/landing-pages", status_code=201, response_model=LandingPageRead, responses=_WRITE_ANSWERS)
async def create_landing_page(request: Request, body: LandingPageDefinition,
                              workspace_id: Workspace) -> LandingPageRead:
    """Save a landing page; its templates are checked in the sandbox now."""
    try:
        row = await run_in_threadpool(do_create_landing_page, _services(request), workspace_id=workspace_id,
                                      data=body.model_dump(mode="json"))
    except LandingPageRejected as error:
        raise _rejected(error) from None
    return _read(row)


@router.get(PAGE, response_model=LandingPageRead)
def read_landing_page(request: Request, page_id: PageId, workspace_id: Workspace) -> LandingPageRead:
    """Return one landing page."""
    try:
        return _read(get_landing_page(_services(request), workspace_id=workspace_id, page_id=page_id))
    except LandingPageNotFound:
        raise _not_found() from None


@router.put(PAGE, response_model=LandingPageRead, responses=_WRITE_ANSWERS)
async def update_landing_page(request: Request, page_id: PageId, body: LandingPageDefinition,
                              workspace_id: Workspace) -> LandingPageRead:
    """Replace a landing page; links already sent open the page by its slug."""
    try:
        row = await run_in_threadpool(do_update_landing_page, _services(request), workspace_id=workspace_id,
                                      page_id=page_id, data=body.model_dump(mode="json"))
    except LandingPageRejected as error:
        raise _rejected(error) from None
    except LandingPageNotFound:
        raise _not_found() from None
    return _read(row)


class PreviewChoice(BaseModel):
    """The customer to preview a page for: a profile id, userId, anonymousId, email or phone."""

    profile: str = Field(min_length=1, max_length=320)


class PreviewRead(BaseModel):
    """A page rendered for one customer (``html``), or the reason it cannot be (``error``, ``message``)."""

    profile_id: str
    title: str
    html: str | None
    error: str | None
    message: str | None


@router.post(PAGE + "/preview", response_model=PreviewRead, responses={
    404: {"description": "No such landing page (`landing_page_not_found`) or profile (`profile_not_found`) "
                         "in this workspace."}})
async def preview_landing_page(request: Request, page_id: PageId, body: PreviewChoice,
                               workspace_id: Workspace) -> PreviewRead:
    """Render a landing page for one customer, as their PURL would show it; nothing is recorded."""
    try:
        found = await run_in_threadpool(preview_page, _services(request), workspace_id=workspace_id,
                                        page_id=page_id, reference=body.profile)
    except LandingPageNotFound:
        raise _not_found() from None
    except ProfileNotFound:
        raise ApiError(404, "profile_not_found", "no profile in this workspace has that id or identifier") from None
    return PreviewRead(profile_id=found.profile_id, title=found.title, html=found.html, error=found.error,
                       message=found.message)


@router.delete(PAGE, status_code=204, response_model=None)
def delete_landing_page(request: Request, page_id: PageId, workspace_id: Workspace) -> None:
    """Delete a landing page; links already sent to it answer that it is not available."""
    try:
        do_delete_landing_page(_services(request), workspace_id=workspace_id, page_id=page_id)
    except LandingPageNotFound:
        raise _not_found() from None


# --- What customers open ------------------------------------------------------------------------------------------


def _shown(page: ShownPage, theme: Theme) -> HTMLResponse:
    # The author's HTML was rendered in the sandbox and checked when the page was saved.
    return render_page("landing.html", theme, status=page.status, headers=_HEADERS, title=page.title,
                       content=Markup(page.content))  # noqa: S704


def _refused(request: Request, status: int, code: str, message: str, *,
             headers: dict[str, str] | None = None) -> Response:
    headers = {**_HEADERS, **(headers or {})}
    if "text/html" in request.headers.get("accept", ""):
        return render_page("message.html", Theme(), status=status, headers=headers,
                           title="This page is not available", paragraphs=[f"{message}."])
    raise ApiError(status, code, message, headers=headers)


def _throttle(request: Request) -> SubmissionThrottle:
    throttle: SubmissionThrottle | None = getattr(request.app.state, "landing_page_throttle", None)
    if throttle is None:
        per_minute = request.app.state.runtime.services.settings.landing_page_submissions_per_minute
        throttle = request.app.state.landing_page_throttle = SubmissionThrottle(per_minute)
    return throttle


async def _visit(request: Request, token: str, method: str) -> Response:
    runtime = request.app.state.runtime
    try:
        page = await run_in_threadpool(do_view_landing_page, runtime.services, runtime.pipeline, token=token,
                                       host=request.url.hostname or "",
                                       user_agent=request.headers.get("user-agent", ""), method=method)
    except LinkNotFound:
        return _refused(request, 404, "link_not_found", "this link does not work")
    except PageUnavailable as error:
        return _refused(request, 404, "landing_page_unavailable", str(error))
    return _shown(page, await run_in_threadpool(theme_for_purl, runtime.services, token=token))


@router.get("/p/{token}", response_class=HTMLResponse, responses=_VISIT_ANSWERS)
async def open_landing_page(request: Request, token: str) -> Response:
    """Open a personalised URL: the landing page for the customer it was sent to; the visit is recorded."""
    return await _visit(request, token, "GET")


@router.head("/p/{token}", response_class=HTMLResponse, responses=_VISIT_ANSWERS)
async def check_landing_page(request: Request, token: str) -> Response:
    """Answer a HEAD like a GET (link checkers use it); the visit counts as a machine's."""
    return await _visit(request, token, "HEAD")


async def _form(request: Request) -> dict[str, list[str]]:
    raw = await read_limited(request, limit=MAX_FORM_BYTES)
    # An empty body is an empty form, whatever it says it is (a form of one unticked box sends nothing).
    if raw and request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise ApiError(415, "unsupported_media_type", f"send the form as {FORM_TYPE}")
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                        max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_form", "the form data cannot be read") from None


@router.post("/p/{token}", response_class=HTMLResponse, responses=_SUBMIT_ANSWERS, openapi_extra={
    "requestBody": {"required": True, "content": {FORM_TYPE: {"schema": {
        "type": "object", "additionalProperties": {"type": "string"},
        "description": "The form's fields by name; fields the page does not declare are ignored."}}}}})
async def submit_landing_page(request: Request, token: str) -> Response:
    """Submit a landing page's form: valid answers become the customer's traits; invalid ones show the errors."""
    runtime = request.app.state.runtime
    try:
        _throttle(request).take(token=token, client=request.client.host if request.client else "")
    except SubmissionsThrottled as error:
        return _refused(request, 429, "too_many_submissions", str(error),
                        headers={"Retry-After": str(math.ceil(error.retry_after))})
    submitted = await _form(request)
    try:
        page = await run_in_threadpool(do_submit_landing_page, runtime.services, runtime.pipeline, token=token,
                                       host=request.url.hostname or "", submitted=submitted)
    except LinkNotFound:
        return _refused(request, 404, "link_not_found", "this link does not work")
    except PageUnavailable as error:
        return _refused(request, 404, "landing_page_unavailable", str(error))
    except SubmissionRefused as error:
        return _refused(request, 405 if error.code == "no_form" else 409, error.code, error.message)
    return _shown(page, await run_in_threadpool(theme_for_purl, runtime.services, token=token))
