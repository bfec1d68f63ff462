"""The FastAPI application: routes, error shape, CORS for browser SDKs, lifecycle."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from loopline import __version__
from loopline.actions.projection import CURSOR as PROJECTION_CURSOR
from loopline.api import (
    browser_sdk,
    campaigns,
    customer_pages,
    demo_site,
    exports,
    hooks,
    in_app,
    ingest,
    journeys,
    landing_pages,
    management,
    media_buys,
    preferences,
    providers,
    reports,
    segments,
    suppression_list,
    topics,
    tracking,
    unsubscribe,
)
from loopline.api.auth import access_workspace, require_admin
from loopline.api.errors import ERROR_SCHEMA, install_error_handlers
from loopline.bootstrap import Runtime
from loopline.console import routes as console


def tune_interpreter() -> None:
    """Tune the interpreter for a server whose threads hand work to native code.

    The event writer spends its time in DuckDB, which releases the GIL around each call
    and must win it back afterwards; with the default 5 ms switch interval every
    hand-back waits behind the request and projector threads (measured: appends beside
    a busy thread ran at 10k events/s with 5 ms and 35k with 0.5 ms). Ingest also
    allocates many short-lived containers, so objects alive at start-up are frozen out
    of collections and the young generation is collected less often.
    """
    sys.setswitchinterval(0.0005)
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def create_app(runtime: Runtime, *, admin_token: str | None = None, manage_runtime: bool = True) -> FastAPI:
    """Build the application around a runtime; start and stop it with the server if asked."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.start()
        tune_interpreter()
        try:
            yield
        finally:
            if manage_runtime:
                runtime.stop()

    app = FastAPI(
        title="Loopline",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.admin_token = admin_token
    # Write keys are public by design (they ship in web pages), so any origin may ingest and
    # read its in-app messages (GET). No route reads cookies: a page can only use keys it holds.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"], max_age=86_400,
    )
    install_error_handlers(app)
    # Added last, so it runs before CORS, routing and dependency solving (see its docstring).
    app.add_middleware(ingest.IngestFastPath, fastapi_app=app)
    routers = (
        ingest.router, management.router, suppression_list.router, exports.router, segments.router, reports.router,
        campaigns.router, journeys.router, providers.router, hooks.router, unsubscribe.router, in_app.router,
        tracking.router, landing_pages.router, media_buys.router, browser_sdk.router, demo_site.router,
        topics.router, preferences.router, customer_pages.router,
    )
    for router in routers:
        app.include_router(router)
    app.mount(browser_sdk.BUNDLES_PATH, browser_sdk.bundles(), name="analytics-next")
    # The console's pages are for browsers; they are left out of the OpenAPI description.
    console.install(app)

    @app.get("/health", tags=["operations"])
    def health(request: Request) -> dict[str, Any]:
        """Report the ingest queue, the projection's health, and how many events it has yet to apply."""
        rt: Runtime = request.app.state.runtime
        error = rt.projector.last_error
        return {
            "status": "ok" if error is None else "degraded",
            "queued_events": rt.writer.queued_events,
            "projection_error": type(error).__name__ if error else None,
            "segments_error": type(rt.segments.last_error).__name__ if rt.segments.last_error else None,
            "scheduler_error": type(rt.scheduler.last_error).__name__ if rt.scheduler.last_error else None,
            "projection_lag_events": max(
                0, rt.services.events.last_seq() - rt.services.profiles.get_cursor(name=PROJECTION_CURSOR)
            ),
        }

    _complete_openapi(app, routers)
    return app


ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Errors every management route can answer, by how the route is authenticated.
WORKSPACE_ERRORS = {
    "400": "The request is malformed or its input is invalid.",
    "401": "The secret key is missing, unknown, revoked or of the wrong kind.",
    "404": "No such object in this workspace (for the administrator: no such workspace).",
    "422": "The request does not match the API.",
    "429": "Too many rejected keys from this address; see Retry-After.",
}
ADMIN_ERRORS = {
    "400": "The request body is malformed.",
    "401": "The route needs the instance administrator token.",
    "422": "The request does not match the API.",
    "429": "Too many rejected tokens from this address; see Retry-After.",
}


def _depends_on(route: APIRoute, dependency: Any) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is dependency:
            return True
        stack.extend(dependant.dependencies)
    return False


def _complete_openapi(app: FastAPI, routers: tuple[APIRouter, ...]) -> None:
    """Declare the security schemes and the errors each route answers, in the one error shape."""
    original = app.openapi
    documented: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        if _depends_on(route, access_workspace):
            auth = ("secretKey", WORKSPACE_ERRORS)
        elif _depends_on(route, require_admin):
            auth = ("adminToken", ADMIN_ERRORS)
        else:
            continue
        for method in route.methods or ():
            # The description names paths without converters ({address}, not {address:path}).
            documented[(route.path_format, method.lower())] = auth

    def openapi() -> dict[str, Any]:
        schema = original()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update({
            "writeKeyBasic": {"type": "http", "scheme": "basic",
                              "description": "The write key as the user name, empty password."},
            "secretKey": {"type": "http", "scheme": "bearer",
                          "description": "A workspace's secret key (lls_…)."},
            "adminToken": {"type": "http", "scheme": "bearer",
                           "description": "The instance administrator token from the server file."},
        })
        schemas = components.setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        # Segment bodies are validated by the segment language; publish its schema as theirs.
        definition = segments.definition_schema()
        schemas.update(definition.pop("$defs", {}))
        schemas["SegmentDefinition"] = definition
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.setdefault("responses", {})
                if (path, method) in documented:
                    scheme, errors = documented[(path, method)]
                    operation.setdefault("security", [{scheme: []}])
                    for status, description in errors.items():
                        responses.setdefault(status, {"description": description})
                for status, response in responses.items():
                    if status[:1] in ("4", "5"):
                        # FastAPI documents its own 422 body; ours is the error shape.
                        response["content"] = {"application/json": {"schema": ERROR_REF}}
                if "422" in responses:
                    responses["422"]["description"] = "The request does not match the API."
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
