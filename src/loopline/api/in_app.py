"""The in-app SDK API: the messages due on a device, a live stream of new ones, and the customer's interactions.

Authenticated like the tracking API, with a write key: as the Basic auth user, or as
``writeKey`` in the query (an ``EventSource`` cannot send headers) or in a POST's body. A
write key is public, so every answer is about the one customer the request names, within
the key's workspace (see ``actions/in_app.py``). Browsers call these routes from the shop's
own site: GETs with the key in the query and POSTs with a ``text/plain`` JSON body are
simple cross-origin requests, answered with ``Access-Control-Allow-Origin: *`` and no cookies.

The stream (Server-Sent Events) sends the messages due when it opens, then each new one as it
is stored. One poll per process (``InAppFeed``) finds which watched customers got a message,
so it works with several server processes sharing the store, and costs one query per poll
however many streams are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from loopline.actions.in_app import MessageNotFound, do_record_interaction, list_due_messages
from loopline.actions.keys import Principal
from loopline.api.auth import authenticate_write_key, basic_user
from loopline.api.body import parse_json, read_limited
from loopline.api.errors import ApiError
from loopline.domain.events import MAX_ID_LENGTH
from loopline.domain.in_app import DEFAULT_DUE, MAX_DUE, Identity, InAppRejected, message_json, parse_identity
from loopline.services import Services

router = APIRouter(tags=["in-app"])
log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024
HEARTBEAT_S = 15.0  # a comment this often keeps proxies from closing an idle stream
RETRY_MS = 3_000  # how long a browser waits before it reconnects a stream that ended
LOOKUP_UNKNOWN_S = 5.0  # a stream for someone not (yet) known looks them up again this often
LOOKUP_KNOWN_S = 60.0  # ... and for a known customer (their profile may be merged into another)
NEW_WINDOW = timedelta(seconds=30)  # covers commits that land late and other processes' clocks

_SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "No customer named (`missing_identity`), or a malformed id (`invalid_identity`)."},
    401: {"description": "Missing, unknown, revoked or mixed write keys."},
    422: {"description": "The request does not match the API."},
    429: {"description": "This address presented too many rejected keys; see Retry-After."},
}
UserId = Annotated[str | None, Query(alias="userId", max_length=MAX_ID_LENGTH, description="The customer's user id.")]
AnonymousId = Annotated[str | None, Query(alias="anonymousId", max_length=MAX_ID_LENGTH,
                                          description="The device's anonymous id (used when no userId is given).")]
Screen = Annotated[str | None, Query(max_length=200, description="The screen (or page) the device shows now.")]
WriteKey = Annotated[str | None, Query(alias="writeKey", max_length=200,
                                       description="The write key, when it cannot be sent as Basic auth.")]
Limit = Annotated[int, Query(ge=1, le=MAX_DUE, description="The most messages to return.")]


class InAppButtonRead(BaseModel):
    """A button of an in-app message."""

    id: str
    title: str
    url: str | None


class DisplayRules(BaseModel):
    """When a message shows: on this screen only, when this event happens, until this instant."""

    on_screen: str | None
    on_event: str | None
    until: str


class InAppMessageRead(BaseModel):
    """An in-app message as the SDK shows it; title and body are plain text, never markup."""

    send_key: str
    title: str | None
    body: str
    url: str | None
    layout: Literal["modal", "banner", "fullscreen"]
    image_url: str | None
    buttons: list[InAppButtonRead]
    dismissible: bool
    priority: int
    display: DisplayRules
    state: Literal["pending", "viewed"]
    created_at: str


class InAppMessageList(BaseModel):
    """The messages due for the customer on this screen, best first."""

    messages: list[InAppMessageRead]


class InteractionRead(BaseModel):
    """What an interaction report did: the message's state now."""

    send_key: str
    action: Literal["viewed", "clicked", "dismissed"]
    state: Literal["pending", "viewed", "clicked", "dismissed"]


def _services(request: Request) -> Services:
    return request.app.state.runtime.services  # type: ignore[no-any-return]


def _principal(request: Request, *keys: str | None) -> Principal:
    """Authenticate the one write key the request carries, wherever it carries it."""
    found = {key for key in (basic_user(request), *keys) if key}
    if len(found) > 1:
        raise ApiError(401, "mixed_write_keys", "the request carries different write keys")
    return authenticate_write_key(request, next(iter(found), None))


def _identity(user_id: Any, anonymous_id: Any) -> Identity:
    try:
        return parse_identity(user_id, anonymous_id)
    except InAppRejected as error:
        raise ApiError(400, error.code, error.message) from None


@router.get("/v1/in-app/messages", response_model=InAppMessageList, responses=_ERRORS,
            openapi_extra={"security": _SECURITY})
async def list_messages(request: Request, *, user_id: UserId = None, anonymous_id: AnonymousId = None,
                        screen: Screen = None, write_key: WriteKey = None, limit: Limit = DEFAULT_DUE) -> Any:
    """Return the in-app messages due for a customer on this screen, with their display rules.

    A customer nobody knows gets an empty list, like one with nothing due: a write key
    cannot tell who exists.
    """
    principal = _principal(request, write_key)
    identity = _identity(user_id, anonymous_id)
    due = await run_in_threadpool(list_due_messages, _services(request), workspace_id=principal.workspace_id,
                                  identity=identity, screen=screen, limit=limit)
    return {"messages": [message_json(message) for message in due.messages]}


_INTERACTION_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object",
    "properties": {
        "userId": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "anonymousId": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "writeKey": {"type": "string", "description": "The write key, when it cannot be sent as Basic auth."},
        "button": {"type": "string", "maxLength": 64, "description": "The id of the button clicked."},
    },
}}}}


@router.post("/v1/in-app/messages/{send_key}/{action}", response_model=InteractionRead, responses={
    **_ERRORS,
    400: {"description": "Malformed body, no customer named (`missing_identity`), a malformed id or a button the "
                         "message does not have (`unknown_button`)."},
    404: {"description": "The customer named has no such message (`message_not_found`)."},
    413: {"description": "The body is over 16 KB."},
    415: {"description": "The body is not JSON."},
}, openapi_extra={"security": _SECURITY, "requestBody": _INTERACTION_BODY})
async def record_interaction(
    request: Request,
    *,
    send_key: Annotated[str, Path(min_length=1, max_length=64)],
    action: Literal["viewed", "clicked", "dismissed"],
) -> Any:
    """Record that the customer viewed, clicked or dismissed a message: its state moves up, and the event
    ``In-App Message Viewed``/``Clicked``/``Dismissed`` goes on their timeline once, however often it is reported.

    The body names the customer (``userId`` or ``anonymousId``, as the SDK sent them) and, for
    a click on a button, its id (``button``). It may be sent as ``text/plain`` (a beacon).
    """
    body = parse_json(await read_limited(request, limit=MAX_BODY_BYTES), request.headers.get("content-type", ""))
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    key_in_body = body.get("writeKey")
    principal = _principal(request, key_in_body if isinstance(key_in_body, str) else None)
    identity = _identity(body.get("userId"), body.get("anonymousId"))
    button = body.get("button")
    if button is not None and not isinstance(button, str):
        raise ApiError(400, "unknown_button", "button must be the id of one of the message's buttons")
    runtime = request.app.state.runtime
    try:
        done = await run_in_threadpool(do_record_interaction, runtime.services, runtime.pipeline,
                                       workspace_id=principal.workspace_id, identity=identity, send_key=send_key,
                                       action=action, button=button)
    except MessageNotFound:
        raise ApiError(404, "message_not_found", "this customer has no such message") from None
    except InAppRejected as error:
        raise ApiError(400, error.code, error.message) from None
    return {"send_key": done.send_key, "action": done.action, "state": done.state}


class InAppFeed:
    """Wakes the open streams of customers who got a new in-app message, stored by this process or another.

    One poll per process asks the store which watched customers got messages in the last
    ``NEW_WINDOW``; each send key wakes its customer's streams once. The poll runs only while
    a stream is open.
    """

    def __init__(self, services: Services) -> None:
        self._services = services
        self._watchers: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self._announced: dict[str, datetime] = {}  # send key → when it was first seen
        self._task: asyncio.Task[None] | None = None

    @property
    def watching(self) -> int:
        """Return how many streams are watching (for tests and diagnostics)."""
        return sum(len(events) for events in self._watchers.values())

    def watch(self, key: tuple[str, str], wake: asyncio.Event) -> None:
        """Wake ``wake`` whenever a new message is stored for the customer ``key`` (workspace, profile)."""
        self._watchers[key].add(wake)
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.create_task(self._run(), name="in-app-feed")

    def unwatch(self, key: tuple[str, str], wake: asyncio.Event) -> None:
        """Stop waking ``wake`` for the customer ``key``."""
        events = self._watchers.get(key)
        if events is not None:
            events.discard(wake)
            if not events:
                del self._watchers[key]

    async def _run(self) -> None:
        while self._watchers:
            await asyncio.sleep(self._services.settings.in_app_stream_poll_s)
            try:
                await self.poll()
            except Exception:  # the store may be briefly unreachable; the next poll tries again
                log.exception("in-app feed poll failed")

    async def poll(self) -> None:
        """Ask the store once which watched customers got new messages, and wake their streams."""
        audience = list(self._watchers)
        if not audience:
            return
        now = self._services.clock.now()
        found = await run_in_threadpool(self._services.in_app.list_stored_since, since=now - NEW_WINDOW,
                                        audience=audience)
        for workspace_id, profile_id, send_key in found:
            if send_key in self._announced:
                continue
            self._announced[send_key] = now
            for wake in self._watchers.get((workspace_id, profile_id), ()):
                wake.set()
        for send_key in [key for key, at in self._announced.items() if at < now - 2 * NEW_WINDOW]:
            del self._announced[send_key]


def _feed(request: Request) -> InAppFeed:
    state = request.app.state
    if getattr(state, "in_app_feed", None) is None:
        state.in_app_feed = InAppFeed(_services(request))
    return state.in_app_feed  # type: ignore[no-any-return]


def _event(message: dict[str, Any]) -> bytes:
    # JSON has no raw line breaks, so the message is one data line.
    key = str(message["send_key"])
    return b"id: " + key.encode() + b"\ndata: " + orjson.dumps(message) + b"\n\n"


async def _events(services: Services, feed: InAppFeed, *, workspace_id: str, identity: Identity,
                  screen: str | None, limit: int) -> AsyncIterator[bytes]:
    """Yield the stream: the messages due now, then each new one, with heartbeats, until the lifetime ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + services.settings.in_app_stream_max_seconds
    beat = loop.time() + HEARTBEAT_S
    lookup = loop.time()
    wake = asyncio.Event()
    sent: set[str] = set()
    watched: tuple[str, str] | None = None
    yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
    try:
        while True:
            if wake.is_set() or loop.time() >= lookup:
                wake.clear()
                due = await run_in_threadpool(list_due_messages, services, workspace_id=workspace_id,
                                              identity=identity, screen=screen, limit=limit)
                key = (workspace_id, due.profile_id) if due.profile_id else None
                if key != watched:
                    if watched is not None:
                        feed.unwatch(watched, wake)
                    if key is not None:
                        feed.watch(key, wake)
                    watched = key
                    continue  # list again now that the feed watches: nothing stored in between is missed
                for message in due.messages:
                    if message.send_key not in sent:
                        sent.add(message.send_key)
                        yield _event(message_json(message))
                # The customer is looked up again now and then: a visitor becomes known, profiles merge.
                lookup = loop.time() + (LOOKUP_KNOWN_S if watched else LOOKUP_UNKNOWN_S)
            now = loop.time()
            if now >= deadline:
                return
            if now >= beat:
                beat = now + HEARTBEAT_S
                yield b": ping\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, min(deadline, beat, lookup) - now))
    finally:
        if watched is not None:
            feed.unwatch(watched, wake)


class EventStream(StreamingResponse):
    """A stream of Server-Sent Events whose generator is closed as soon as the response ends.

    A client that goes away cancels the response while the generator waits at a ``yield``;
    closing it there runs its ``finally`` at once, so the feed stops watching for it.
    """

    media_type = "text/event-stream"
    body_iterator: AsyncIterator[bytes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream, then close the generator whatever ended it."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


@router.get("/v1/in-app/stream", response_class=EventStream, responses={
    200: {"description": "Server-Sent Events: each message is one event (`id`: its send key, `data`: the message "
                         "as `GET /v1/in-app/messages` shows it); comments are heartbeats.",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **_ERRORS,
}, openapi_extra={"security": _SECURITY})
async def stream_messages(request: Request, *, user_id: UserId = None, anonymous_id: AnonymousId = None,
                          screen: Screen = None, write_key: WriteKey = None,
                          limit: Limit = DEFAULT_DUE) -> EventStream:
    """Stream a customer's in-app messages: those due now, then each new one as it is stored.

    The stream ends after ``in_app_stream_max_seconds`` (the browser reconnects by itself)
    or when the client goes away; a comment every 15 seconds keeps proxies from closing it.
    """
    principal = _principal(request, write_key)
    identity = _identity(user_id, anonymous_id)
    events = _events(_services(request), _feed(request), workspace_id=principal.workspace_id, identity=identity,
                     screen=screen, limit=limit)
    return EventStream(events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@cache
def _snippet() -> bytes:
    return bytes((resources.files("loopline.api") / "static" / "in_app.js").read_bytes())


@router.get("/sdk/in-app.js", response_class=Response, responses={
    200: {"description": "The reference in-app renderer for web pages (no dependencies).",
          "content": {"text/javascript": {"schema": {"type": "string"}}}},
})
async def in_app_snippet() -> Response:
    """Serve the reference JavaScript that shows a customer's in-app messages in a web page."""
    return Response(_snippet(), media_type="text/javascript; charset=utf-8", headers={
        "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
