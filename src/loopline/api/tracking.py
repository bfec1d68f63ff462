"""Tracked links, open pixels, smart deep links and their settings over HTTP.

``/l/{token}`` and ``/o/{token}.gif`` take no key: the token is the credential, and a token
that is not a live link of this server answers 404 (an HTML page for a browser) and never
redirects. A click is sent to exactly the URL stored for its token when the message was
handed over, or, on a phone, to a small page that tries the app and falls back to the store
or the web page. The ``.well-known`` documents tell iOS and Android which apps may open
tracked links themselves. The app's own calls (``/v1/deep-links/…``) take the write key.
"""

from __future__ import annotations

import base64
from datetime import datetime
from hashlib import sha256
from html import escape
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from loopline.actions.apps import (
    LinkSettingsRejected,
    android_asset_links,
    apple_association,
    do_claim_deferred,
    do_set_link_settings,
    get_link_settings,
)
from loopline.actions.keys import Principal
from loopline.actions.tracking import (
    Followed,
    LinkNotFound,
    do_follow_link,
    do_open_in_app,
    do_record_open,
    list_tracked_links,
)
from loopline.api.auth import access_workspace, authenticate_write_key, basic_user
from loopline.api.body import parse_json, read_limited
from loopline.api.errors import ApiError
from loopline.domain.deep_links import LinkSettings
from loopline.services import Services

router = APIRouter(tags=["tracking"])
Workspace = Annotated[str, Depends(access_workspace)]
MAX_BODY_BYTES = 4 * 1024
# The smallest transparent GIF: 1×1, one colour, fully transparent.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;
padding:0 1rem;line-height:1.5}}a.button{{display:inline-block;padding:.7rem 1.3rem;border-radius:.4rem;
background:#111;color:#fff;text-decoration:none}}</style></head><body>{body}</body></html>"""
# The app page's only script: it reads its two addresses from data attributes, so it is the same
# text on every page and the Content-Security-Policy allows exactly it, by its hash.
_SCRIPT = ("var d=document.getElementById('go').dataset;if(d.app){window.location.href=d.app;}"
           "setTimeout(function(){if(!document.hidden){window.location.replace(d.fallback);}},d.app?1500:0);")
_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        f"script-src 'sha256-{base64.b64encode(sha256(_SCRIPT.encode()).digest()).decode()}'")
_SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}]
_LINK_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A phone that may have the app: a page that opens the app (its scheme) and otherwise "
                         "the store or the web page.", "content": {"text/html": {"schema": {"type": "string"}}}},
    302: {"description": "To exactly the URL stored for this link when the message was sent (a person's browser "
                         "or a machine; machines are recorded as such)."},
    404: {"description": "Not a live link of this server: altered, made up, malformed or expired "
                         "(`link_not_found`; an HTML page for a browser). Never a redirect."},
}
_SDK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON (`malformed_json`, `empty_body`) or does not match (`invalid_body`)."},
    401: {"description": "Missing, unknown, revoked or mixed write keys."},
    413: {"description": "The body is over 4 KB."},
    415: {"description": "The body is not JSON."},
    422: {"description": "The request does not match the API."},
    429: {"description": "This address presented too many rejected keys; see Retry-After."},
}


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(title: str, body: str, *, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status,
                        headers={**_NO_STORE, **(headers or {})})


def _not_found(request: Request, error: LinkNotFound) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return _page("This link does not work", f"<h1>This link does not work</h1><p>{escape(str(error))}.</p>",
                     status=404)
    raise ApiError(404, "link_not_found", str(error))


def _answer(followed: Followed) -> Response:
    route = followed.route
    if route.redirect:
        return RedirectResponse(route.url, status_code=302, headers=_NO_STORE)
    fallback = route.fallback_url or route.url
    opener = (f'<p><a class="button" href="{escape(route.app_url, quote=True)}">Open in the app</a></p>'
              if route.app_url else "")
    label = "Get the app" if route.to_store else "Continue to the website"
    body = (f'<main id="go" data-app="{escape(route.app_url or "", quote=True)}" '
            f'data-fallback="{escape(fallback, quote=True)}"><h1>Opening…</h1>{opener}'
            f'<p><a href="{escape(fallback, quote=True)}">{label}</a></p></main><script>{_SCRIPT}</script>')
    return _page("Opening…", body, headers={"Content-Security-Policy": _CSP})


async def _follow(request: Request, token: str, method: str) -> Response:
    runtime = request.app.state.runtime
    try:
        followed = await run_in_threadpool(
            do_follow_link, runtime.services, runtime.pipeline, token=token,
            user_agent=request.headers.get("user-agent", ""), method=method, address=_address(request))
    except LinkNotFound as error:
        return _not_found(request, error)
    return _answer(followed)


@router.get("/l/{token}", response_class=HTMLResponse, responses=_LINK_ANSWERS)
async def follow_link(request: Request, token: str) -> Response:
    """Follow a tracked link: record the click and go where the link was stored to go."""
    return await _follow(request, token, "GET")


@router.head("/l/{token}", response_class=HTMLResponse, responses=_LINK_ANSWERS)
async def check_link(request: Request, token: str) -> Response:
    """Answer a HEAD request like a GET (link checkers use it); the visit counts as a machine's."""
    return await _follow(request, token, "HEAD")


@router.get("/o/{token}.gif", response_class=Response, responses={
    200: {"description": "A transparent 1×1 GIF, whatever the token: a bad token only records nothing.",
          "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}},
})
async def open_pixel(request: Request, token: str) -> Response:
    """Serve the open pixel of an email and record the open (the first by a person is the send's one open)."""
    runtime = request.app.state.runtime
    await run_in_threadpool(do_record_open, runtime.services, runtime.pipeline, token=token,
                            user_agent=request.headers.get("user-agent", ""), method="GET")
    return Response(PIXEL, media_type="image/gif", headers={**_NO_STORE, "Cache-Control": "no-store, max-age=0"})


def _host(request: Request) -> str:
    return (request.url.hostname or "").lower()


@router.get("/.well-known/apple-app-site-association", response_class=JSONResponse, responses={
    200: {"description": "The iOS apps that may open this host's tracked links (`/l/*`) as universal links.",
          "content": {"application/json": {"schema": {"type": "object"}}}},
})
async def apple_app_site_association(request: Request) -> JSONResponse:
    """Serve Apple's association file for universal links (served without a file extension, as JSON)."""
    document = await run_in_threadpool(apple_association, _services(request), host=_host(request))
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/.well-known/assetlinks.json", response_class=JSONResponse, responses={
    200: {"description": "The Android apps that may handle this host's links (Digital Asset Links).",
          "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
})
async def assetlinks(request: Request) -> JSONResponse:
    """Serve the Digital Asset Links statements for Android app links."""
    document = await run_in_threadpool(android_asset_links, _services(request), host=_host(request))
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})


# --- The app's calls -------------------------------------------------------------------------------------------


class ClaimBody(BaseModel):
    """The app's first open after install: its platform and OS version, and Android's install referrer."""

    platform: Literal["ios", "android"]
    os_version: str | None = Field(default=None, max_length=32)
    referrer: str | None = Field(default=None, max_length=1_000)
    writeKey: str | None = Field(default=None, max_length=200)  # noqa: N815 - the SDKs' spelling


class ClaimRead(BaseModel):
    """The screen the app lands on, when a click matched."""

    matched: bool
    screen: str | None = None
    url: str | None = None
    match: Literal["referrer", "fingerprint"] | None = None


class OpenBody(BaseModel):
    """A tracked link the app opened itself (a universal link or an app link)."""

    link: str = Field(min_length=1, max_length=2_000)
    writeKey: str | None = Field(default=None, max_length=200)  # noqa: N815 - the SDKs' spelling


SdkBody = TypeVar("SdkBody", ClaimBody, OpenBody)


class OpenRead(BaseModel):
    """Where the app goes for a link: the screen, and the web page of the same link."""

    screen: str | None
    url: str


async def _sdk_body(request: Request, model: type[SdkBody]) -> tuple[SdkBody, Principal]:
    raw = parse_json(await read_limited(request, limit=MAX_BODY_BYTES), request.headers.get("content-type", ""))
    try:
        body = model.model_validate(raw)
    except ValidationError:
        raise ApiError(400, "invalid_body", f"the body must be a JSON object like {model.__name__}") from None
    found = {key for key in (basic_user(request), getattr(body, "writeKey", None)) if key}
    if len(found) > 1:
        raise ApiError(401, "mixed_write_keys", "the request carries different write keys")
    return body, authenticate_write_key(request, next(iter(found), None))


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}


@router.post("/v1/deep-links/claim", response_model=ClaimRead, responses=_SDK_ERRORS,
             openapi_extra={"security": _SECURITY, "requestBody": _schema(ClaimBody)})
async def claim_deferred_link(request: Request) -> ClaimRead:
    """Claim the click a first open after install comes from (deferred deep link), once, within the window.

    Matched by the click id in Android's install referrer, else by the device: its address,
    platform and OS version, when exactly one recent click fits.
    """
    body, principal = await _sdk_body(request, ClaimBody)
    found = await run_in_threadpool(
        do_claim_deferred, _services(request), workspace_id=principal.workspace_id, platform=body.platform,
        os_version=body.os_version, referrer=body.referrer, address=_address(request))
    if found is None:
        return ClaimRead(matched=False)
    return ClaimRead(matched=True, screen=found.screen, url=found.url, match=found.match)  # type: ignore[arg-type]


@router.post("/v1/deep-links/open", response_model=OpenRead, responses={
    **_SDK_ERRORS, 404: {"description": "Not a live tracked link of this workspace (`link_not_found`)."},
}, openapi_extra={"security": _SECURITY, "requestBody": _schema(OpenBody)})
async def open_link_in_app(request: Request) -> OpenRead:
    """Resolve a tracked link the app opened itself into its screen, and record the click."""
    body, principal = await _sdk_body(request, OpenBody)
    runtime = request.app.state.runtime
    try:
        link = await run_in_threadpool(do_open_in_app, runtime.services, runtime.pipeline,
                                       workspace_id=principal.workspace_id, link=body.link)
    except LinkNotFound as error:
        raise ApiError(404, "link_not_found", str(error)) from None
    return OpenRead(screen=link.screen, url=link.url)


# --- Management ------------------------------------------------------------------------------------------------


@router.get("/api/v1/link-settings", response_model=LinkSettings, tags=["tracking"])
def read_link_settings(request: Request, workspace_id: Workspace) -> LinkSettings:
    """Return the workspace's link settings (the defaults until some are set)."""
    return get_link_settings(_services(request), workspace_id=workspace_id)


@router.put("/api/v1/link-settings", response_model=LinkSettings, responses={
    409: {"description": "Another workspace writes its links on this `link_domain` (`link_domain_taken`)."},
})
def replace_link_settings(request: Request, body: LinkSettings, workspace_id: Workspace) -> LinkSettings:
    """Replace the link settings: tracking, UTM parameters, link domain, web domains and the apps."""
    try:
        return do_set_link_settings(_services(request), workspace_id=workspace_id, data=body.model_dump(mode="json"))
    except LinkSettingsRejected as error:
        status = 409 if error.code == "link_domain_taken" else 422
        raise ApiError(status, error.code, str(error), extra={"problems": error.problems}) from None


class TrackedLinkRead(BaseModel):
    """A tracked link (``kind`` link) or open pixel (``kind`` open) of a message, with its hits."""

    send_key: str
    position: int
    kind: Literal["link", "open"]
    label: str
    url: str | None
    screen: str | None
    created_at: datetime
    clicks: int
    bot_clicks: int
    first_click_at: datetime | None


class TrackedLinkList(BaseModel):
    """Tracked links, newest first."""

    items: list[TrackedLinkRead]


@router.get("/api/v1/tracked-links", response_model=TrackedLinkList)
def tracked_links(
    request: Request, workspace_id: Workspace,
    send_key: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TrackedLinkList:
    """Return the workspace's tracked links (one send's, with ``send_key``), with clicks by people and machines."""
    items = list_tracked_links(_services(request), workspace_id=workspace_id, send_key=send_key, limit=limit)
    return TrackedLinkList(items=[TrackedLinkRead(**item) for item in items])
