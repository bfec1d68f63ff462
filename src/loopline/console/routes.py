"""The console's routes: sign in and out, the workspace picker, the overview, customers, campaigns, the outbox."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from loopline.actions.accounts import LoginRefused, LoginThrottle, LoginThrottled, do_login, do_logout
from loopline.console import (
    analytics_routes,
    branding_routes,
    campaign_builder_routes,
    journey_routes,
    segment_routes,
    settings_routes,
)
from loopline.console.campaigns import campaign_list, campaign_report
from loopline.console.customers import customer_search, customer_view
from loopline.console.outbox import OUTBOX_PAGE, outbox_page
from loopline.console.overview import build_overview, running_now, share_text
from loopline.console.web import (
    HERE,
    LOGIN_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Access,
    ConsoleError,
    access_page,
    check_csrf,
    clear_cookie,
    client_of,
    csrf_for,
    error_response,
    json_response,
    new_login_token,
    page_response,
    render,
    runtime_of,
    set_cookie,
    viewer_of,
    wants_json,
)
from loopline.domain.accounts import Page

_THROTTLE_LOCK = threading.Lock()
router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(check_csrf)])


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _throttle(request: Request) -> LoginThrottle:
    # Made on first use: the application may be built without a runtime (for its OpenAPI text).
    with _THROTTLE_LOCK:
        throttle: LoginThrottle | None = getattr(request.app.state, "console_login_throttle", None)
        if throttle is None:
            per_minute = runtime_of(request).services.settings.console_login_attempts_per_minute
            throttle = request.app.state.console_login_throttle = LoginThrottle(per_minute)
    return throttle


def _login_page(request: Request, *, email: str = "", message: str = "", status: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    response = render(request, "login.html", {"login_csrf": token, "email": email, "message": message},
                      status=status, headers=headers)
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    """Send a signed-in person to their workspace (or the picker), anyone else to sign in."""
    try:
        viewer = viewer_of(request)
    except ConsoleError:
        return _redirect("/console/login")
    if len(viewer.memberships) == 1:
        return _redirect(f"/console/w/{viewer.memberships[0].workspace_id}/")
    return _redirect("/console/workspaces")


@router.get("/login")
def login_form(request: Request) -> Response:
    """Show the sign-in form."""
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the e-mail address and password; open a session and go to the console."""
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    services = runtime_of(request).services
    try:
        signed = do_login(services, _throttle(request), email=email, password=password, client=client_of(request),
                          user_agent=request.headers.get("user-agent", ""))
    except LoginThrottled as error:
        wait = str(int(error.retry_after + 0.999))
        return _login_page(request, email=email, status=429, headers={"Retry-After": wait},
                           message=f"Too many sign-in attempts. Wait {wait} seconds, then try again.")
    except LoginRefused:
        return _login_page(request, email=email, status=401, message="Wrong e-mail address or password.")
    response = _redirect("/console/")
    max_age = int(services.settings.console_session_hours * 3600)
    set_cookie(request, response, SESSION_COOKIE, signed.token, max_age=max_age)
    clear_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session and go back to the sign-in page."""
    viewer = viewer_of(request)
    do_logout(runtime_of(request).services, viewer=viewer, client=client_of(request))
    response = _redirect("/console/login")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/workspaces")
def workspaces(request: Request) -> Response:
    """List the workspaces the person belongs to, with their role in each."""
    viewer = viewer_of(request)
    items = [{"id": m.workspace_id, "name": m.workspace_name, "role": m.role, "href": f"/console/w/{m.workspace_id}/"}
             for m in viewer.memberships]
    if wants_json(request):
        return json_response({"user": {"email": viewer.user.email, "name": viewer.user.name}, "workspaces": items})
    csrf = csrf_for(request.cookies[SESSION_COOKIE])
    return render(request, "workspaces.html", {"viewer": viewer, "items": items, "csrf": csrf})


def _overview(request: Request, workspace_id: str) -> tuple[dict[str, Any], Access]:
    access = access_page(request, workspace_id, Page.OVERVIEW)
    data = build_overview(runtime_of(request).services, workspace_id=workspace_id,
                          workspace_name=access.workspace_name, role=access.role.value)
    return data, access


@router.get("/w/{workspace_id}/")
def overview(request: Request, workspace_id: str) -> Response:
    """The overview page; its data as JSON with ``Accept: application/json``."""
    data, access = _overview(request, workspace_id)
    if wants_json(request):
        return json_response(data)
    return render(request, "overview.html", {"data": data, "viewer": access.viewer, "workspace": data["workspace"],
                                             "share_text": share_text,
                                             "nav": access.nav(), "csrf": access.csrf, "current": Page.OVERVIEW.value})


@router.get("/w/{workspace_id}/overview.json")
def overview_json(request: Request, workspace_id: str) -> Response:
    """The overview's data as JSON."""
    data, _ = _overview(request, workspace_id)
    return json_response(data)


@router.get("/w/{workspace_id}/_running")
def running(request: Request, workspace_id: str) -> Response:
    """The running campaigns and active journeys panel, for the overview to refresh in place."""
    access_page(request, workspace_id, Page.OVERVIEW)
    data = running_now(runtime_of(request).services, workspace_id=workspace_id)
    return render(request, "_running.html", {"data": data, "workspace_id": workspace_id})


@router.get("/w/{workspace_id}/customers")
def customers(request: Request, workspace_id: str, q: str | None = None) -> Response:
    """Find customers by any identifier (id, user id, anonymous id, email, phone); JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.CUSTOMERS)
    data = customer_search(runtime_of(request).services, workspace_id=workspace_id, query=q)
    return page_response(request, access, "customers.html", data, Page.CUSTOMERS)


@router.get("/w/{workspace_id}/customers/{reference}")
def customer(request: Request, workspace_id: str, reference: str) -> Response:
    """One customer's 360° view: who they are, what they did, what was sent to them and why (not)."""
    access = access_page(request, workspace_id, Page.CUSTOMERS)
    data = customer_view(runtime_of(request).services, workspace_id=workspace_id, reference=reference)
    return page_response(request, access, "customer.html", data, Page.CUSTOMERS)


@router.get("/w/{workspace_id}/campaigns")
def campaigns(request: Request, workspace_id: str) -> Response:
    """The workspace's campaigns with status and progress; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.CAMPAIGNS)
    data = campaign_list(runtime_of(request).services, workspace_id=workspace_id)
    return page_response(request, access, "campaigns.html", data, Page.CAMPAIGNS)


@router.get("/w/{workspace_id}/campaigns/{campaign_id}")
def campaign(request: Request, workspace_id: str, campaign_id: str, attribution: str = "last_touch") -> Response:
    """One campaign's report: the funnel per arm and its uplift over the control group, with intervals."""
    access = access_page(request, workspace_id, Page.CAMPAIGNS)
    data = campaign_report(runtime_of(request).services, workspace_id=workspace_id, campaign_id=campaign_id,
                           attribution=attribution)
    return page_response(request, access, "campaign.html", data, Page.CAMPAIGNS)


@router.get("/w/{workspace_id}/outbox")
def outbox(request: Request, workspace_id: str, source_id: str | None = None) -> Response:
    """The sandbox outbox: messages as the customer would see them, newest first; JSON with ``Accept``."""
    access = access_page(request, workspace_id, Page.OUTBOX)
    data = outbox_page(runtime_of(request).services, workspace_id=workspace_id, source_id=source_id)
    return page_response(request, access, "outbox.html", data, Page.OUTBOX, page_size=OUTBOX_PAGE)


# Included before this module's own routes: their fixed paths (``campaigns/new``) must win
# over the report's ``campaigns/{campaign_id}``.
PAGE_ROUTERS = (campaign_builder_routes, segment_routes, analytics_routes, journey_routes, branding_routes,
                settings_routes)


def install(app: FastAPI) -> None:
    """Mount the console on the application: its routes, static files and error pages."""
    for pages in PAGE_ROUTERS:
        app.include_router(pages.router)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, error: ConsoleError) -> Response:
        return error_response(request, error)
