"""The FastAPI application: routes, error shape, CORS for browser SDKs, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from loopline import __version__
from loopline.api import exports, ingest, management
from loopline.api.errors import install_error_handlers
from loopline.bootstrap import Runtime


def create_app(runtime: Runtime, *, admin_token: str | None = None, manage_runtime: bool = True) -> FastAPI:
    """Build the application around a runtime; start and stop it with the server if asked."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            runtime.start()
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
    # Write keys are public by design (they ship in web pages), so any origin may ingest.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["POST", "OPTIONS"],
        allow_headers=["*"], max_age=86_400,
    )
    install_error_handlers(app)
    app.include_router(ingest.router)
    app.include_router(management.router)
    app.include_router(exports.router)

    @app.get("/health", tags=["operations"])
    def health(request: Request) -> dict[str, Any]:
        """Report whether ingest and the projection are healthy, and how far behind it is."""
        rt: Runtime = request.app.state.runtime
        error = rt.projector.last_error
        return {
            "status": "ok" if error is None else "degraded",
            "queued_events": rt.writer.queued_events,
            "projection_error": type(error).__name__ if error else None,
        }

    _declare_security(app)
    return app


def _declare_security(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update({
            "writeKeyBasic": {"type": "http", "scheme": "basic",
                              "description": "The write key as the user name, empty password."},
            "secretKey": {"type": "http", "scheme": "bearer"},
        })
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
