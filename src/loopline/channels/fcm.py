"""Native push through Firebase Cloud Messaging's HTTP v1 API (Android, and iOS through Firebase).

Each message is ``POST {base}/v1/projects/{project_id}/messages:send`` with ``{"message": …}``
(built by ``loopline.domain.push.fcm_message``) and an OAuth 2.0 access token of the project's
service account (scope ``firebase.messaging``). The token comes from google-auth — a JWT
signed with the service account's key, exchanged at its ``token_uri`` — and is shared by every
channel of the process using that account until shortly before it expires, since a channel is
built per hand-over batch. A batch goes concurrently over one HTTP/2 connection, each message
answered on its own: a token FCM no longer knows is listed as ``token_unregistered``, one that
is not a registration token at all as ``invalid_address``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account

from loopline.domain.push import encode_json, fcm_message
from loopline.domain.retries import parse_retry_after
from loopline.ports import Delivery, Outbound

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# Renew an access token this long before it expires, so no request in flight carries a dead one.
TOKEN_MARGIN_S = 300.0
RETRIED = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "UNSPECIFIED_ERROR"})
_SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


@dataclass(frozen=True, slots=True)
class FcmSettings:
    """A workspace's Firebase project: its id, the service account that may send for it, and how batches go."""

    project_id: str
    service_account_info: dict[str, Any] = field(repr=False)  # the service account's JSON key file, parsed
    base_url: str = "https://fcm.googleapis.com"
    concurrency: int = 50  # requests in flight at once, as streams of one HTTP/2 connection
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.project_id:
            raise ValueError("project_id is required")
        missing = [name for name in _SERVICE_ACCOUNT_FIELDS if not self.service_account_info.get(name)]
        if missing:
            raise ValueError(f"the service account JSON lacks {', '.join(missing)}")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if self.timeout_s <= 0 or self.concurrency < 1:
            raise ValueError("timeout_s must be positive and concurrency at least 1")


class _TimedRequest(GoogleRequest):
    """google-auth's transport with the channel's time limit (google-auth waits two minutes by default)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None,
                 **kwargs: Any) -> Any:
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=self._timeout_s, **kwargs)


def _fetch_token(info: dict[str, Any], *, timeout_s: float) -> tuple[str, float]:
    """Exchange a JWT signed with the service account's key for an access token; return it and its expiry."""
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        info, scopes=[FCM_SCOPE])
    request = _TimedRequest(timeout_s)
    try:
        credentials.refresh(request)
    finally:
        request.session.close()
    expiry = credentials.expiry  # naive UTC, as google-auth keeps it
    expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry is not None else time.time() + 3600
    return str(credentials.token), expires_at


class AccessTokens:
    """OAuth 2.0 access tokens per service account, shared by every FCM channel of the process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, settings: FcmSettings, *, stale: str | None = None) -> str:
        """Return a live access token for the settings' service account, fetching one when none is cached.

        ``stale`` is a token FCM refused: it is replaced, unless another caller replaced it already.
        """
        info = settings.service_account_info
        # The key's digest is part of the name, so a rotated key never reuses the old key's token.
        key = (str(info["client_email"]), str(info["token_uri"]),
               hashlib.sha256(str(info["private_key"]).encode()).hexdigest()[:16])
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per account at a time: concurrent batches wait for it and share the result
            cached = self._tokens.get(key)
            if cached is not None and cached[0] != stale and cached[1] - time.time() > TOKEN_MARGIN_S:
                return cached[0]
            token = _fetch_token(info, timeout_s=settings.timeout_s)
            self._tokens[key] = token
            return token[0]

    def clear(self) -> None:
        """Forget every cached token."""
        with self._guard:
            self._tokens.clear()


ACCESS_TOKENS = AccessTokens()
"""The process's access tokens; FCM channels use it unless given their own."""


def _describe(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:500]


def _error_of(response: httpx.Response) -> tuple[str, str, str, bool]:
    """Return the FcmError code, the status name, the message of an error answer, and whether it is about the token."""
    try:
        document = response.json()
    except ValueError:
        return "", "", response.text[:500], False
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return "", "", response.text[:500], False
    code, about_token = "", False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE:
            code = str(detail.get("errorCode", ""))
        elif detail.get("@type") == BAD_REQUEST_TYPE:
            about_token |= any(isinstance(v, dict) and v.get("field") == "message.token"
                               for v in detail.get("fieldViolations") or [])
    message = str(error.get("message", ""))
    about_token |= "registration token" in message.lower()
    return code, str(error.get("status", "")), message[:500], about_token


def answer_for(send_key: str, response: httpx.Response) -> Delivery:  # noqa: PLR0911 - one return per documented case
    """Map FCM's answer to the ledger's.

    2xx is accepted. UNREGISTERED refuses the token for good and lists it; INVALID_ARGUMENT fails
    for good, and lists the token when the complaint is about it; SENDER_ID_MISMATCH (a token of
    another project) fails for good. 401 and 403 without an FCM code mean this platform's
    credentials, not the message: retried as ``fcm_auth``. QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL,
    429 and 5xx are retried after Retry-After when given; any other 4xx fails for good.
    """
    status = response.status_code
    if 200 <= status < 300:
        try:
            name = response.json().get("name", "")
        except (ValueError, AttributeError):
            name = ""
        return Delivery(send_key, accepted=True, detail=str(name)[:500])
    code, status_name, message, about_token = _error_of(response)
    reason = f"fcm_{code or status_name or status}"
    if code == "UNREGISTERED":
        return Delivery(send_key, accepted=False, reason=reason, detail=message, suppress="token_unregistered")
    if code == "INVALID_ARGUMENT" or (not code and status_name == "INVALID_ARGUMENT"):
        return Delivery(send_key, accepted=False, reason=reason, detail=message,
                        suppress="invalid_address" if about_token else "")
    if code == "SENDER_ID_MISMATCH":
        return Delivery(send_key, accepted=False, reason=reason, detail=message)
    if code == "THIRD_PARTY_AUTH_ERROR":  # the project's APNs key or certificate at Firebase: fixable, then retried
        return Delivery(send_key, accepted=False, permanent=False, reason=reason, detail=message)
    if status in (401, 403):
        return Delivery(send_key, accepted=False, permanent=False, reason="fcm_auth",
                        detail=f"{status_name or status}: {message}"[:500])
    if code in RETRIED or status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        return Delivery(send_key, accepted=False, permanent=False, reason=reason, detail=message, retry_after_s=wait)
    return Delivery(send_key, accepted=False, reason=reason, detail=message)


class _Batch:
    """What the messages of one batch share: the access token in use, and whether FCM could be reached."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.unreachable = ""
        self._renewing = asyncio.Lock()

    async def renew(self, refused: str, settings: FcmSettings, tokens: AccessTokens) -> None:
        """Replace a token FCM refused; messages refused with it at the same time wait for one renewal."""
        async with self._renewing:
            if self.token == refused:
                self.token = await asyncio.to_thread(tokens.get, settings, stale=refused)


class FcmChannel:
    """The push channel over FCM for one Firebase project; each message is answered on its own."""

    def __init__(self, settings: FcmSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 tokens: AccessTokens | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._tokens = tokens or ACCESS_TOKENS
        self._url = f"{settings.base_url.rstrip('/')}/v1/projects/{settings.project_id}/messages:send"

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: FCM cannot be asked afterwards what it accepted (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message, up to ``concurrency`` at once over one connection; a refused token fails alone,
        and messages FCM could not be reached for are retried. A send key repeated in the batch is sent once."""
        answers: dict[str, Delivery] = {}
        ready: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        now_s = int(time.time())
        for message in messages:
            if message.send_key in seen:
                continue
            seen.add(message.send_key)
            prepared = self._prepare(message, now_s=now_s)
            if isinstance(prepared, Delivery):
                answers[message.send_key] = prepared
            else:
                ready.append((message.send_key, prepared))
        if ready:
            try:
                token = self._tokens.get(self.settings)
            except (GoogleAuthError, ValueError) as error:  # no token: not the messages' fault, so all wait
                answers.update((key, Delivery(key, accepted=False, permanent=False, reason="fcm_auth",
                                              detail=_describe(error))) for key, _ in ready)
            else:
                answers.update(asyncio.run(self._send_all(ready, token)))
        return [answers[message.send_key] for message in messages]

    def _prepare(self, message: Outbound, *, now_s: int) -> bytes | Delivery:
        """Return the request body of one message, or the answer when it cannot be sent."""
        if not message.address:
            return Delivery(message.send_key, accepted=False, reason="invalid_address",
                            detail="a push message needs a registration token")
        try:
            document = fcm_message(token=message.address, title=message.subject, body=message.body, url=message.url,
                                   options=message.options, send_key=message.send_key, now_s=now_s)
        except ValueError as error:
            return Delivery(message.send_key, accepted=False, reason="invalid_options", detail=str(error)[:500])
        return encode_json({"message": document})

    def _client(self) -> httpx.AsyncClient:
        # Over plain http (a local test server) HTTP/2 is spoken from the first byte (h2c "prior knowledge").
        plain = self.settings.base_url.startswith("http://")
        limits = httpx.Limits(max_connections=self.settings.concurrency,
                              max_keepalive_connections=self.settings.concurrency)
        return httpx.AsyncClient(http1=not plain, http2=True, timeout=self.settings.timeout_s, limits=limits,
                                 transport=self._transport)

    async def _send_all(self, ready: list[tuple[str, bytes]], token: str) -> dict[str, Delivery]:
        batch = _Batch(token)
        slots = asyncio.Semaphore(self.settings.concurrency)
        async with self._client() as client:

            async def send(item: tuple[str, bytes]) -> Delivery:
                async with slots:
                    return await self._send(client, batch, *item)

            answers = await asyncio.gather(*(send(item) for item in ready))
        return {answer.send_key: answer for answer in answers}

    async def _send(self, client: httpx.AsyncClient, batch: _Batch, send_key: str, body: bytes) -> Delivery:
        """Post one message; on a refused access token, renew it and post once more."""
        renewed = False
        while True:
            if batch.unreachable:  # one failed connection answers for the messages still waiting
                return Delivery(send_key, accepted=False, permanent=False, reason="fcm_unavailable",
                                detail=batch.unreachable)
            token = batch.token
            try:
                response = await client.post(self._url, content=body, headers={
                    "authorization": f"Bearer {token}", "content-type": "application/json; charset=utf-8"})
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                batch.unreachable = _describe(error)
                return Delivery(send_key, accepted=False, permanent=False, reason="fcm_unavailable",
                                detail=batch.unreachable)
            except httpx.HTTPError as error:  # a timeout or a dropped stream: this message only, worth another try
                return Delivery(send_key, accepted=False, permanent=False, reason="fcm_unavailable",
                                detail=_describe(error))
            if response.status_code == 401 and not renewed and _error_of(response)[0] != "THIRD_PARTY_AUTH_ERROR":
                renewed = True
                try:
                    await batch.renew(token, self.settings, self._tokens)
                except (GoogleAuthError, ValueError) as error:
                    return Delivery(send_key, accepted=False, permanent=False, reason="fcm_auth",
                                    detail=_describe(error))
                continue
            return answer_for(send_key, response)
