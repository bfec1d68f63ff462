"""One error shape for every 4xx/5xx: a machine-readable code and a sentence for people."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse


class JsonResponse(JSONResponse):
    """A JSON response serialised with orjson (fast, strict UTF-8, ISO datetimes)."""

    def render(self, content: Any) -> bytes:
        """Serialise the body."""
        return orjson.dumps(content, default=str)


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra or {}


# The one error shape, as the OpenAPI description publishes it for every 4xx and 5xx.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error", "code", "message"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
        "code": {"type": "string", "description": "The same as error.code."},
        "message": {"type": "string", "description": "The same as error.message."},
    },
    "additionalProperties": True,
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return the JSON body of an error response.

    ``code`` and ``message`` are repeated at the top level because that is where the
    Segment and RudderStack SDKs read them: without them the RudderStack SDK fails with
    ``KeyError('code')`` and retries a refused batch (a 400 or 401) as if the network had
    failed, instead of giving up and reporting the status to its error callback.
    """
    return {"success": False, "error": {"code": code, "message": message},
            "code": code, "message": message, **extra}


def error_response(error: ApiError) -> JsonResponse:
    """Return the response for an ApiError."""
    return JsonResponse(
        error_body(error.code, error.message, **error.extra),
        status_code=error.status,
        headers=error.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the one shape, never with a traceback."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JsonResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JsonResponse:
        details = [
            {"location": ".".join(str(p) for p in item.get("loc", ())), "message": item.get("msg")}
            for item in error.errors()
        ]
        return JsonResponse(
            error_body("invalid_request", "the request does not match the API", details=details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JsonResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JsonResponse(
            error_body(code, str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )
