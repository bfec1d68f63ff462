"""Local stand-ins for APNs and FCM that speak their documented protocols, served by hypercorn.

Each fake is an ASGI app on a free local port in a background thread; it accepts HTTP/1.1 and
HTTP/2 from the first byte (h2c), checks each request the way the real service documents it
(and records what it refused and why), keeps what it accepted, and can be told to refuse
given tokens as the real service would: gone, malformed, busy, unavailable.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from tests.delivery.conftest import free_port

Headers = dict[str, str]
Answer = tuple[int, Headers, Any]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth signs as the assertion's aud
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{32,}")


class _App:
    """The ASGI plumbing both fakes share: lifespan, reading the body, writing a JSON answer."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s  # how long each accepted request is held, to observe concurrency
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections: set[tuple[str, int]] = set()  # the client address of each connection sending messages

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status, answer_headers, document = await self.handle(scope, headers, body)
        data = b"" if document is None else json.dumps(document).encode()
        raw = [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in answer_headers.items())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})

    async def handle(self, scope: dict[str, Any], headers: Headers, body: bytes) -> Answer:
        raise NotImplementedError

    async def hold(self) -> None:
        """Keep a request in flight for ``delay_s``, counting how many are in flight at once."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1


@dataclass
class Notification:
    """One notification the fake APNs accepted."""

    token: str
    headers: Headers
    payload: dict[str, Any]
    jwt: str


class FakeApns(_App):
    """APNs' provider API (``POST /3/device/{token}``) over HTTP/2 with token-based authentication."""

    def __init__(self, *, team_id: str, key_id: str, public_key: ec.EllipticCurvePublicKey, topic: str,
                 clock: Callable[[], float] = time.time, delay_s: float = 0.0) -> None:
        super().__init__(delay_s=delay_s)
        self.team_id, self.key_id, self.public_key, self.topic, self.clock = team_id, key_id, public_key, topic, clock
        self.notifications: list[Notification] = []
        self.refused: list[tuple[str, int, str]] = []  # (device token, status, reason)
        self.jwts: list[str] = []  # every distinct provider token, in the order first seen
        self.expired_jwts: set[str] = set()  # tokens to call expired, whatever their age
        self.gone: set[str] = set()
        self.busy: dict[str, int] = {}  # device token → Retry-After seconds of a 429
        self.unavailable: dict[str, int] = {}  # device token → Retry-After seconds of a 503

    def _refuse(self, token: str, status: int, reason: str, headers: Headers | None = None,
                **extra: Any) -> Answer:
        self.refused.append((token, status, reason))
        return status, headers or {}, {"reason": reason, **extra}

    def _check_jwt(self, authorization: str | None) -> str | None:
        """Return the reason a provider token is refused, or None when it is good."""
        if not authorization or not authorization.startswith("bearer "):
            return "MissingProviderToken"
        token = authorization.removeprefix("bearer ")
        if token not in self.jwts:
            self.jwts.append(token)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"],
                                options={"require": ["iss", "iat"], "verify_iat": False})
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        # Apple documents exactly these header fields and claims.
        if header != {"alg": "ES256", "kid": self.key_id} or set(claims) != {"iss", "iat"}:
            return "InvalidProviderToken"
        if claims["iss"] != self.team_id or not isinstance(claims["iat"], int):
            return "InvalidProviderToken"
        if token in self.expired_jwts or self.clock() - claims["iat"] > 3600:
            return "ExpiredProviderToken"
        return None

    async def handle(self, scope: dict[str, Any], headers: Headers, body: bytes) -> Answer:
        path = scope["path"]
        token = path.removeprefix("/3/device/") if path.startswith("/3/device/") else ""
        if scope["http_version"] != "2":  # APNs speaks HTTP/2 only
            return self._refuse(token, 505, "HTTP/2 required")
        self.connections.add(tuple(scope["client"]))
        if scope["method"] != "POST":
            return self._refuse(token, 405, "MethodNotAllowed")
        if not token:
            return self._refuse(token, 404, "BadPath")
        if (problem := self._check_jwt(headers.get("authorization"))) is not None:
            return self._refuse(token, 403, problem)
        checks = [
            ("apns-topic" not in headers, "MissingTopic"),
            (headers.get("apns-topic") not in (None, self.topic), "TopicDisallowed"),
            (headers.get("apns-push-type") != "alert", "InvalidPushType"),
            (headers.get("apns-priority", "10") not in ("5", "10"), "BadPriority"),
            ("apns-id" in headers and not _UUID.fullmatch(headers["apns-id"]), "BadMessageId"),
            (not re.fullmatch(r"[0-9]+", headers.get("apns-expiration", "0")), "BadExpirationDate"),
            (len(headers.get("apns-collapse-id", "").encode()) > 64, "BadCollapseId"),
            (not body, "PayloadEmpty"),
        ]
        for failed, reason in checks:
            if failed:
                return self._refuse(token, 400, reason)
        if len(body) > 4096:
            return self._refuse(token, 413, "PayloadTooLarge")
        try:
            payload = json.loads(body)
        except ValueError:
            return self._refuse(token, 400, "BadPayload")
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return self._refuse(token, 400, "BadPayload")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", token):
            return self._refuse(token, 400, "BadDeviceToken")
        if token in self.gone:
            return self._refuse(token, 410, "Unregistered", timestamp=int(self.clock() * 1000) - 86_400_000)
        if token in self.busy:
            return self._refuse(token, 429, "TooManyRequests", {"retry-after": str(self.busy[token])})
        if token in self.unavailable:
            return self._refuse(token, 503, "ServiceUnavailable", {"retry-after": str(self.unavailable[token])})
        await self.hold()
        self.notifications.append(Notification(token, headers, payload, headers["authorization"][7:]))
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        return 200, {"apns-id": apns_id, "apns-unique-id": str(uuid.uuid4())}, None


def fcm_error(status: int, status_name: str, message: str, code: str | None = None,
              details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return an FCM v1 error document, as ``google.rpc.Status`` with an ``FcmError`` detail."""
    listed = ([{"@type": FCM_ERROR, "errorCode": code}] if code else []) + (details or [])
    error: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    if listed:
        error["details"] = listed
    return {"error": error}


_MESSAGE_FIELDS = {"name", "token", "topic", "condition", "data", "notification", "android", "webpush", "apns",
                   "fcm_options"}
_ANDROID_FIELDS = {"collapse_key", "priority", "ttl", "restricted_package_name", "data", "notification",
                   "fcm_options", "direct_boot_ok"}
_ANDROID_NOTIFICATION_FIELDS = {"title", "body", "icon", "color", "sound", "tag", "click_action", "body_loc_key",
                                "body_loc_args", "title_loc_key", "title_loc_args", "channel_id", "ticker",
                                "sticky", "event_time", "local_only", "notification_priority", "default_sound",
                                "default_vibrate_timings", "default_light_settings", "vibrate_timings",
                                "visibility", "notification_count", "light_settings", "image",
                                "bypass_proxy_notification"}


def _message_problems(message: Any) -> list[tuple[str, str]]:
    """Return the (field, description) pairs FCM's API would refuse in a ``message`` object."""
    if not isinstance(message, dict):
        return [("message", "not an object")]
    problems = [(f"message.{name}", "Cannot find field.") for name in message if name not in _MESSAGE_FIELDS]
    if sum(name in message for name in ("token", "topic", "condition")) != 1:
        problems.append(("message", "exactly one of token, topic or condition is required"))
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        problems.append(("message.data", "data values must be strings"))
    elif any(k in ("from", "notification", "message_type") or k.startswith(("google", "gcm")) for k in data):
        problems.append(("message.data", "a data key is reserved"))
    if not set(message.get("notification", {})) <= {"title", "body", "image"}:
        problems.append(("message.notification", "Cannot find field."))
    android = message.get("android", {})
    problems += [(f"message.android.{name}", "Cannot find field.") for name in android if name not in _ANDROID_FIELDS]
    if "ttl" in android and not re.fullmatch(r"[0-9]+(\.[0-9]{1,9})?s", str(android["ttl"])):
        problems.append(("message.android.ttl", "Invalid duration"))
    if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH"):
        problems.append(("message.android.priority", "Invalid value"))
    shown = android.get("notification", {})
    problems += [(f"message.android.notification.{name}", "Cannot find field.")
                 for name in shown if name not in _ANDROID_NOTIFICATION_FIELDS]
    if "notification_count" in shown and not isinstance(shown["notification_count"], int):
        problems.append(("message.android.notification.notification_count", "Invalid value"))
    apns = message.get("apns", {})
    if not all(isinstance(v, str) for v in apns.get("headers", {}).values()):
        problems.append(("message.apns.headers", "header values must be strings"))
    if "payload" in apns and not isinstance(apns["payload"].get("aps", {}), dict):
        problems.append(("message.apns.payload", "aps must be a dictionary"))
    return problems


class FakeFcm(_App):
    """Google's OAuth 2.0 token endpoint (JWT bearer grant) and FCM's ``messages:send`` (HTTP v1)."""

    def __init__(self, *, project_id: str, client_email: str, key_id: str, public_key: rsa.RSAPublicKey,
                 delay_s: float = 0.0) -> None:
        super().__init__(delay_s=delay_s)
        self.project_id, self.client_email, self.key_id, self.public_key = project_id, client_email, key_id, public_key
        self.token_requests: list[dict[str, Any]] = []  # the verified claims of each assertion
        self.access_tokens: set[str] = set()  # tokens messages:send accepts
        self.messages: list[dict[str, Any]] = []  # accepted message objects
        self.requests: list[tuple[str, str]] = []  # (registration token, bearer token) of every send request
        self.refused: list[tuple[str, int, str]] = []  # (registration token, status, status name or code)
        self.gone: set[str] = set()
        self.mismatched: set[str] = set()
        self.too_big: set[str] = set()
        self.unavailable: dict[str, int] = {}  # registration token → Retry-After seconds of a 503
        self.quota: dict[str, int] = {}  # registration token → Retry-After seconds of a 429

    def revoke(self) -> None:
        """Stop accepting every access token handed out so far, as after an expiry or a key rotation."""
        self.access_tokens.clear()

    async def handle(self, scope: dict[str, Any], headers: Headers, body: bytes) -> Answer:
        if scope["method"] == "POST" and scope["path"] == "/token":
            return self._token(headers, body)
        if scope["method"] == "POST" and scope["path"] == f"/v1/projects/{self.project_id}/messages:send":
            return await self._send(scope, headers, body)
        return 404, {}, fcm_error(404, "NOT_FOUND", "Requested entity was not found.")

    def _token(self, headers: Headers, body: bytes) -> Answer:
        """The token endpoint: verify the signed assertion and hand out an access token for an hour."""
        if headers.get("content-type") != "application/x-www-form-urlencoded":
            return 400, {}, {"error": "invalid_request", "error_description": "form encoding expected"}
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        try:
            header = jwt.get_unverified_header(form.get("assertion", ""))
            claims = jwt.decode(form.get("assertion", ""), self.public_key, algorithms=["RS256"],
                                audience=GOOGLE_TOKEN_AUDIENCE, options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.PyJWTError as error:
            return 400, {}, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature: {error}"}
        if header.get("kid") != self.key_id or claims["iss"] != self.client_email:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT: unknown key or issuer"}
        if FCM_SCOPE not in str(claims.get("scope", "")).split() or claims["exp"] - claims["iat"] > 3600:
            return 400, {}, {"error": "invalid_scope", "error_description": "Invalid OAuth scope or lifetime"}
        self.token_requests.append(claims)
        token = f"ya29.fake-{uuid.uuid4().hex}"
        self.access_tokens.add(token)
        return 200, {}, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _refuse(self, token: str, status: int, name: str, document: dict[str, Any],
                headers: Headers | None = None) -> Answer:
        self.refused.append((token, status, name))
        return status, headers or {}, document

    async def _send(self, scope: dict[str, Any], headers: Headers, body: bytes) -> Answer:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        token = message.get("token", "") if isinstance(message, dict) else ""
        self.requests.append((token, bearer))
        if scope["http_version"] != "2":  # FCM takes HTTP/1.1 too, but the channel promises one multiplexed connection
            return self._refuse(token, 505, "HTTP/2 required", fcm_error(505, "UNKNOWN", "HTTP/2 expected"))
        self.connections.add(tuple(scope["client"]))
        if bearer not in self.access_tokens:
            return self._refuse(token, 401, "UNAUTHENTICATED", fcm_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential."))
        if not headers.get("content-type", "").startswith("application/json"):
            return self._refuse(token, 400, "INVALID_ARGUMENT", fcm_error(400, "INVALID_ARGUMENT", "JSON expected"))
        problems = _message_problems(message)
        if problems or set(json.loads(body)) != {"message"}:
            violations = [{"field": name, "description": text} for name, text in problems]
            return self._refuse(token, 400, "INVALID_ARGUMENT", fcm_error(
                400, "INVALID_ARGUMENT", "Invalid JSON payload received.", None,
                [{"@type": BAD_REQUEST, "fieldViolations": violations}]))
        if not _FCM_TOKEN.fullmatch(token):
            return self._refuse(token, 400, "INVALID_ARGUMENT", fcm_error(
                400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
                [{"@type": BAD_REQUEST, "fieldViolations": [{"field": "message.token",
                                                              "description": "Invalid registration token"}]}]))
        if token in self.too_big:
            return self._refuse(token, 400, "INVALID_ARGUMENT", fcm_error(
                400, "INVALID_ARGUMENT", "Android message is too big", "INVALID_ARGUMENT"))
        if token in self.gone:
            return self._refuse(token, 404, "UNREGISTERED", fcm_error(
                404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"))
        if token in self.mismatched:
            return self._refuse(token, 403, "SENDER_ID_MISMATCH", fcm_error(
                403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"))
        if token in self.unavailable:
            return self._refuse(token, 503, "UNAVAILABLE", fcm_error(
                503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
                {"retry-after": str(self.unavailable[token])})
        if token in self.quota:
            return self._refuse(token, 429, "QUOTA_EXCEEDED", fcm_error(
                429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Messages'.", "QUOTA_EXCEEDED"),
                {"retry-after": str(self.quota[token])})
        await self.hold()
        self.messages.append(message)
        return 200, {}, {"name": f"projects/{self.project_id}/messages/{uuid.uuid4().int % 10**16}"}


@contextmanager
def serving(app: _App) -> Iterator[str]:
    """Serve ``app`` with hypercorn on a free local port for the block; yield its base URL."""
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.errorlog = None
    config.graceful_timeout = 1.0
    started = threading.Event()
    state: dict[str, Any] = {}

    async def run() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await hypercorn_serve(app, config, shutdown_trigger=state["stop"].wait, mode="asgi")  # type: ignore[arg-type]

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:  # surfaced when the block ends
            state["error"] = error
            started.set()

    thread = threading.Thread(target=main, name=f"fake-{type(app).__name__}", daemon=True)
    thread.start()
    started.wait(10)
    _wait_for_port(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        with suppress(RuntimeError):  # the loop may have ended already
            state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)
        if "error" in state:
            raise state["error"]


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port}")
        time.sleep(0.02)
