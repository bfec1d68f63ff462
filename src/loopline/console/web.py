"""The console's web plumbing: templates, security headers, cookies, CSRF, sign-in and access checks.

Tenant isolation and roles are enforced here and nowhere else: every workspace page asks
``access_page``, which answers 404 for a workspace the person is not a member of (as for one
that does not exist) and 403 for a page their role may not open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from loopline.actions.accounts import Viewer, do_resume_session
from loopline.bootstrap import Runtime
from loopline.domain.accounts import Page, Role, cookie_is_secure, may_edit, may_view

HERE = Path(__file__).parent
SESSION_COOKIE = "loopline_session"
LOGIN_COOKIE = "loopline_login"  # the sign-in form's CSRF token, before there is a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Pages that exist, in navigation order; a page is linked only once it is listed here.
BUILT_PAGES: tuple[tuple[Page, str, str], ...] = (
    (Page.OVERVIEW, "Overview", ""), (Page.ANALYTICS, "Analytics", "analytics"),
    (Page.SEGMENTS, "Segments", "segments"), (Page.CUSTOMERS, "Customers", "customers"),
    (Page.CAMPAIGNS, "Campaigns", "campaigns"), (Page.JOURNEYS, "Journeys", "journeys"),
    (Page.OUTBOX, "Outbox", "outbox"), (Page.SETTINGS, "Settings", "settings"),
)
# Scripts only from this server, as files (no inline code, no eval: Alpine.js's CSP build).
# Inline styles are allowed because ECharts writes its tooltips as HTML with style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class ConsoleError(Exception):
    """An error answered as a page for browsers and as the API's error shape for JSON clients."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def instant_text(value: object) -> str | None:
    """Return a stored instant as ISO 8601 UTC text ending in ``Z`` (None when there is none).

    SQLite hands back naive datetimes; they are UTC, as the store writes only UTC.
    """
    if not isinstance(value, datetime):
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def wants_json(request: Request) -> bool:
    """Return whether the client asked for JSON (an ``Accept`` header or a ``.json`` path)."""
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Return a JSON response with the console's security headers."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=SECURITY_HEADERS | (headers or {}))


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a template with the values every page uses."""
    base: dict[str, Any] = {"request": request, "static": "/console/static", "viewer": None, "workspace": None,
                            "nav": [], "csrf": "", "current": ""}
    html = templates.get_template(template).render(base | context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS | (headers or {}))


def error_response(request: Request, error: ConsoleError) -> Response:
    """Answer an error: a redirect to the sign-in page, a page, or JSON."""
    if wants_json(request):
        body = {"success": False, "error": {"code": error.code, "message": error.message},
                "code": error.code, "message": error.message}
        return json_response(body, status=error.status, headers=error.headers)
    if error.status == 401:
        return RedirectResponse("/console/login", status_code=303, headers=SECURITY_HEADERS)
    return render(request, "error.html", {"status": error.status, "code": error.code, "message": error.message},
                  status=error.status, headers=error.headers)


def runtime_of(request: Request) -> Runtime:
    """Return the runtime the application serves."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_of(request: Request) -> str:
    """Return the client's address (as the server sees it)."""
    return request.client.host if request.client else "unknown"


def csrf_for(session_token: str) -> str:
    """Return the CSRF token of a session: derived from its secret token, so nothing more is stored."""
    return hmac.new(session_token.encode(), b"loopline console csrf", hashlib.sha256).hexdigest()


def new_login_token() -> str:
    """Return a fresh token for the sign-in form."""
    return secrets.token_urlsafe(32)


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None) -> None:
    """Set a console cookie: HttpOnly, SameSite=Lax, Secure when the public URL is https."""
    secure = cookie_is_secure(runtime_of(request).services.settings.resolved_public_url)
    response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True, samesite="lax", secure=secure)


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Delete a console cookie."""
    secure = cookie_is_secure(runtime_of(request).services.settings.resolved_public_url)
    response.delete_cookie(name, path="/console", httponly=True, samesite="lax", secure=secure)


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request without the right CSRF token (form field or ``X-CSRF-Token``) with 403."""
    if request.method not in UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        # Read (and keep) the body first: the form is then parsed from it, and a route that
        # reads the body itself still can.
        await request.body()
        value = (await request.form()).get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if request.url.path == "/console/login":
        expected = request.cookies.get(LOGIN_COOKIE, "")
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        expected = csrf_for(token) if token else ""
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ConsoleError(403, "csrf_failed", "this form has expired or did not come from this console; "
                                               "reload the page and try again")


def viewer_of(request: Request) -> Viewer:
    """Return who is signed in, or answer 401 (browsers go to the sign-in page)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    viewer = do_resume_session(runtime_of(request).services, token=token) if token else None
    if viewer is None:
        raise ConsoleError(401, "not_signed_in", "sign in to the console first")
    return viewer


@dataclass(frozen=True, slots=True)
class Access:
    """A signed-in person in one of their workspaces."""

    viewer: Viewer
    workspace_id: str
    workspace_name: str
    role: Role
    csrf: str

    def nav(self) -> list[dict[str, str]]:
        """Return the navigation: the built pages this role may open."""
        return [{"page": page.value, "label": label, "href": f"/console/w/{self.workspace_id}/{suffix}"}
                for page, label, suffix in BUILT_PAGES if may_view(self.role, page)]


def access_page(request: Request, workspace_id: str, page: Page, *, edit: bool = False) -> Access:
    """Return the viewer's access to a workspace's page: 404 when not a member, 403 when the role forbids it.

    ``edit`` asks for the right to change what the page shows, not only to see it.
    """
    viewer = viewer_of(request)
    role = viewer.role_in(workspace_id)
    if role is None:
        raise ConsoleError(404, "workspace_not_found", "no such workspace")
    if not may_view(role, page):
        raise ConsoleError(403, "forbidden", f"your role ({role.value}) may not open this page")
    if edit and not may_edit(role, page):
        raise ConsoleError(403, "forbidden", f"your role ({role.value}) may look at this page but not change it")
    name = next(m.workspace_name for m in viewer.memberships if m.workspace_id == workspace_id)
    return Access(viewer, workspace_id, name, role, csrf_for(request.cookies[SESSION_COOKIE]))


def page_response(request: Request, access: Access, template: str, data: dict[str, Any], page: Page,
                  **extra: Any) -> Response:
    """Answer a workspace page: its data as JSON when asked for, else the template in the console's frame."""
    if wants_json(request):
        return json_response(data)
    return render(request, template, {"data": data, "viewer": access.viewer, "nav": access.nav(),
                                      "workspace": {"id": access.workspace_id, "name": access.workspace_name},
                                      "csrf": access.csrf, "current": page.value, **extra})
