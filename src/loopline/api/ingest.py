"""The Segment HTTP tracking API: identify, track, page, screen, group, alias, batch, import.

Mixed batches follow one rule (docs/api.md): valid messages are stored and acknowledged,
invalid ones are listed with their index and reason. The answer is 200 when every message
was stored, 207 when some were rejected, and 400 when none could be.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from loopline.actions.ingest import BatchRejected, RateLimited
from loopline.api.auth import authenticate_write_key, basic_user
from loopline.api.body import decompress, parse_json, read_limited
from loopline.api.errors import ApiError, JsonResponse, error_body, error_response
from loopline.api.schemas import ingest_openapi
from loopline.ingest.writer import Overloaded

router = APIRouter(prefix="/v1", tags=["ingest"])
RETRY_AFTER = {"Retry-After": "1"}
log = logging.getLogger(__name__)


def _key_in_body(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("writeKey"), str):
        return payload["writeKey"] or None
    return None


def _check_one_key(payload: Any, key: str) -> None:
    """Refuse a batch whose messages name another write key (whole batch, nothing stored)."""
    batch = payload.get("batch") if isinstance(payload, dict) else None
    for item in batch if isinstance(batch, list) else []:
        other = item.get("writeKey") if isinstance(item, dict) else None
        if other is not None and other != key:
            raise ApiError(401, "mixed_write_keys",
                           "a batch must carry one write key; messages name different keys")


async def _ingest(request: Request, kind: str | None) -> JsonResponse:
    runtime = request.app.state.runtime
    settings = runtime.services.settings
    raw = await read_limited(request, limit=settings.max_batch_bytes)
    body = decompress(raw, request.headers.get("content-encoding", ""), limit=settings.max_batch_bytes)
    payload = parse_json(body, request.headers.get("content-type", ""))
    header_key, body_key = basic_user(request), _key_in_body(payload)
    if header_key and body_key and header_key != body_key:
        raise ApiError(401, "mixed_write_keys", "the Basic auth key and the body's writeKey differ")
    key = header_key or body_key
    principal = authenticate_write_key(request, key)
    _check_one_key(payload, key or "")
    try:
        records, outcome = runtime.pipeline.prepare(
            workspace_id=principal.workspace_id, payload=payload, kind=kind,
            received_at=runtime.services.clock.now(),
            request_ip=request.client.host if request.client else None,
        )
    except BatchRejected as error:
        raise ApiError(error.status, error.code, error.message) from None
    except RateLimited as error:
        raise ApiError(429, "rate_limited", str(error),
                       headers={"Retry-After": str(int(error.retry_after))}) from None
    if not records and outcome.errors:
        return JsonResponse(
            error_body("invalid_events", "no message in the request is valid",
                       accepted=0, errors=[e.as_json() for e in outcome.errors]),
            status_code=400,
        )
    try:
        outcome = await runtime.pipeline.commit(records, outcome)
    except Overloaded:
        raise ApiError(503, "overloaded", "ingest is saturated; retry shortly",
                       headers=RETRY_AFTER) from None
    except Exception:
        log.exception("event store commit failed")
        raise ApiError(503, "store_unavailable",
                       "the event store could not commit; retry with the same messageIds",
                       headers=RETRY_AFTER) from None
    status = 207 if outcome.errors else 200
    return JsonResponse(outcome.as_json(), status_code=status)


def _route(path: str, kind: str | None, summary: str, *, documented: bool = True) -> None:
    async def endpoint(request: Request) -> JsonResponse:
        return await _ingest(request, kind)

    endpoint.__name__ = f"ingest_{path.strip('/').replace('/', '_')}"
    router.add_api_route(
        path, endpoint, methods=["POST"], summary=summary, include_in_schema=documented,
        openapi_extra=ingest_openapi(kind), response_class=JsonResponse,
    )


ROUTES: tuple[tuple[str, str | None, str], ...] = (
    ("/identify", "identify", "Identify a user and set traits"),
    ("/track", "track", "Record an event"),
    ("/page", "page", "Record a page view"),
    ("/screen", "screen", "Record a screen view"),
    ("/group", "group", "Associate a user with a group"),
    ("/alias", "alias", "Merge two identities"),
    ("/batch", None, "Send many messages at once"),
    ("/import", None, "Send many historical messages at once"),
)
# The one-letter paths Segment's browser library (analytics.js 2.0) posts to; the same calls
# as above, left out of the OpenAPI description so it documents each call once (docs/api.md).
SHORT_ROUTES: tuple[tuple[str, str | None, str], ...] = (
    ("/i", "identify", "identify"), ("/t", "track", "track"), ("/p", "page", "page"), ("/s", "screen", "screen"),
    ("/g", "group", "group"), ("/a", "alias", "alias"), ("/b", None, "batch"),
)
for _path, _kind, _summary in ROUTES:
    _route(_path, _kind, _summary)
for _path, _kind, _summary in SHORT_ROUTES:
    _route(_path, _kind, f"analytics.js's short path for {_summary}", documented=False)


FAST_KINDS = {f"{router.prefix}{path}": kind for path, kind, _ in (*ROUTES, *SHORT_ROUTES)}


class IngestFastPath:
    """Serve tracking POSTs straight from the outer middleware, past routing and dependency solving.

    The tracking API is the one hot path: at 100-event batches the framework's layers
    between the server and ``_ingest`` cost about 6 µs of interpreter time per event,
    over a tenth of all it did under load. The routes stay registered (OpenAPI, and any
    request this class passes on); answers are the same, including CORS for browsers,
    which may send tracking calls from any origin.
    """

    def __init__(self, app: ASGIApp, fastapi_app: object) -> None:
        self._app = app
        self._fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer POSTs to the tracking paths here; pass everything else on."""
        kind = FAST_KINDS.get(scope.get("path", ""), "") if scope["type"] == "http" else ""
        if kind == "" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        scope["app"] = self._fastapi_app
        request = Request(scope, receive)
        try:
            response = await _ingest(request, kind)
        except ApiError as error:
            response = error_response(error)
        if request.headers.get("origin"):
            response.headers["access-control-allow-origin"] = "*"
        await response(scope, receive, send)
