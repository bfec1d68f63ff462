"""Native push to Apple devices over the APNs HTTP/2 API, signed with a token-based provider key (.p8).

Each message is ``POST {base}/3/device/{device token}`` with the JSON payload built by
``loopline.domain.push.apns_payload`` and the headers ``authorization: bearer <provider token>``,
``apns-topic`` (the app's bundle id), ``apns-push-type: alert``, ``apns-priority: 10``,
``apns-id`` (derived from the send key), and ``apns-expiration`` and ``apns-collapse-id`` when the
content sets a time to live or a collapse key. APNs speaks HTTP/2 only; a batch goes
concurrently as streams of one connection, each message answered on its own.

The provider token is a JWT signed ES256 with the team's key (header ``alg``, ``kid``; claims
``iss`` = team id, ``iat``). APNs refuses a token older than an hour, and answers
``TooManyProviderTokenUpdates`` to a sender that changes tokens more often than every 20
minutes, so one token is shared by every channel of the process for 50 minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loopline.domain.push import (
    APNS_MAX_PAYLOAD_BYTES,
    apns_headers,
    apns_id,
    apns_payload,
    encode_json,
    push_options,
)
from loopline.domain.retries import parse_retry_after
from loopline.ports import Delivery, Outbound

TOKEN_REUSE_S = 50 * 60  # younger than APNs' one-hour limit, older than its 20-minute floor between renewals
_DEVICE_TOKEN = re.compile(r"[0-9A-Fa-f]{1,200}")  # hexadecimal; Apple asks senders not to rely on its length
GONE = frozenset({"Unregistered", "ExpiredToken"})  # 410: the app left the device, or the token expired


@dataclass(frozen=True, slots=True)
class ApnsSettings:
    """A workspace's Apple push identity: team, key, app, and how batches go."""

    team_id: str
    key_id: str
    private_key_pem: str = field(repr=False)  # the .p8 file's text: a P-256 key in PKCS#8 PEM
    topic: str  # the app's bundle id
    base_url: str = "https://api.push.apple.com"  # https://api.sandbox.push.apple.com for development builds
    concurrency: int = 50  # requests in flight at once, as streams of one HTTP/2 connection
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not (self.team_id and self.key_id and self.topic):
            raise ValueError("team_id, key_id and topic are required")
        load_key(self.private_key_pem)
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if self.timeout_s <= 0 or self.concurrency < 1:
            raise ValueError("timeout_s must be positive and concurrency at least 1")


def load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """Return the provider key of a .p8 file; raise ValueError when it is not an unencrypted P-256 key."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the APNs key is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the APNs key must be a P-256 (ES256) key, as Apple's .p8 files are")
    return key


class ProviderTokens:
    """Provider tokens per team and key, shared by every APNs channel of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, settings: ApnsSettings, *, now: float, stale: str | None = None) -> str:
        """Return the token to sign requests with at ``now``, signing a new one when none is young enough.

        ``stale`` is a token APNs called expired: it is replaced, unless another caller replaced it already.
        """
        # The key's digest is part of the name, so a replaced key never reuses the old key's token.
        key = (settings.team_id, settings.key_id, hashlib.sha256(settings.private_key_pem.encode()).hexdigest()[:16])
        with self._lock:  # signing is quick; holding the lock keeps two batches from renewing at once
            cached = self._tokens.get(key)
            if cached is not None and cached[0] != stale and 0 <= now - cached[1] < TOKEN_REUSE_S:
                return cached[0]
            token = jwt.encode({"iss": settings.team_id, "iat": int(now)}, load_key(settings.private_key_pem),
                               algorithm="ES256", headers={"kid": settings.key_id, "typ": None})
            self._tokens[key] = (token, now)
            return token

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._tokens.clear()


PROVIDER_TOKENS = ProviderTokens()
"""The process's provider tokens; APNs channels use it unless given their own."""


def _describe(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:500]


def _reason_of(response: httpx.Response) -> str:
    """Return the ``reason`` of an APNs error answer (``{"reason": "BadDeviceToken"}``), or ``""``."""
    try:
        document = response.json()
    except ValueError:
        return ""
    return str(document.get("reason", "")) if isinstance(document, dict) else ""


def answer_for(send_key: str, response: httpx.Response) -> Delivery:
    """Map APNs' answer to the ledger's.

    200 is accepted. 410 (``Unregistered``, ``ExpiredToken``) refuses the token for good and lists
    it; 400 ``BadDeviceToken`` lists it as ``invalid_address``; any other 400, 404, 405 and 413
    fail for good with Apple's reason. 403 means this platform's key or token, not the message:
    retried as ``apns_auth``. 429 and 5xx are retried, after Retry-After when given.
    """
    status = response.status_code
    if status == 200:
        return Delivery(send_key, accepted=True, detail=response.headers.get("apns-unique-id", ""))
    name = _reason_of(response)
    reason, detail = f"apns_{name or status}", (name or response.text)[:500]
    if status == 410 or name in GONE:
        return Delivery(send_key, accepted=False, reason=reason, detail=detail, suppress="token_unregistered")
    if name == "BadDeviceToken":
        return Delivery(send_key, accepted=False, reason=reason, detail=detail, suppress="invalid_address")
    if status == 403:
        return Delivery(send_key, accepted=False, permanent=False, reason="apns_auth", detail=detail)
    if status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        return Delivery(send_key, accepted=False, permanent=False, reason=reason, detail=detail, retry_after_s=wait)
    return Delivery(send_key, accepted=False, reason=reason, detail=detail)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A message checked and encoded, waiting for its request."""

    send_key: str
    url: str
    headers: dict[str, str]
    payload: bytes


class _Batch:
    """What the messages of one batch share: the provider token in use, and whether APNs could be reached."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.unreachable = ""


class ApnsChannel:
    """The push channel over APNs for one app (topic); each message is answered on its own."""

    def __init__(self, settings: ApnsSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 tokens: ProviderTokens | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._transport = transport
        self._tokens = tokens or PROVIDER_TOKENS
        self._clock = clock  # seconds since the epoch: the tokens' ``iat`` and the expiry headers

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: APNs cannot be asked afterwards what it accepted (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message, up to ``concurrency`` at once over one connection; a refused token fails alone,
        and messages APNs could not be reached for are retried. A send key repeated in the batch is sent once."""
        answers: dict[str, Delivery] = {}
        ready: list[_Ready] = []
        seen: set[str] = set()
        now = self._clock()
        for message in messages:
            if message.send_key in seen:
                continue
            seen.add(message.send_key)
            prepared = self._prepare(message, now_s=int(now))
            if isinstance(prepared, Delivery):
                answers[message.send_key] = prepared
            else:
                ready.append(prepared)
        if ready:
            try:
                token = self._tokens.get(self.settings, now=now)
            except (jwt.PyJWTError, ValueError, TypeError) as error:  # no token: not the messages' fault
                answers.update((r.send_key, Delivery(r.send_key, accepted=False, permanent=False, reason="apns_auth",
                                                     detail=_describe(error))) for r in ready)
            else:
                answers.update(asyncio.run(self._send_all(ready, token)))
        return [answers[message.send_key] for message in messages]

    def _prepare(self, message: Outbound, *, now_s: int) -> _Ready | Delivery:
        """Check the device token and the options and encode the payload; refuse what cannot be sent."""
        if not message.address:
            return Delivery(message.send_key, accepted=False, reason="invalid_address",
                            detail="a push message needs a device token")
        if not _DEVICE_TOKEN.fullmatch(message.address):  # it would also be a path of its own in the URL
            return Delivery(message.send_key, accepted=False, reason="invalid_address", suppress="invalid_address",
                            detail="an APNs device token is hexadecimal")
        try:
            options = push_options(message.options)
        except ValueError as error:
            return Delivery(message.send_key, accepted=False, reason="invalid_options", detail=str(error)[:500])
        payload = encode_json(apns_payload(title=message.subject, body=message.body, url=message.url,
                                           options=options, send_key=message.send_key))
        if len(payload) > APNS_MAX_PAYLOAD_BYTES:
            return Delivery(message.send_key, accepted=False, reason="too_large", detail=(
                f"the payload takes {len(payload)} bytes; APNs takes at most {APNS_MAX_PAYLOAD_BYTES}"))
        headers = {"apns-topic": self.settings.topic, "apns-id": apns_id(message.send_key),
                   "content-type": "application/json", **apns_headers(options, now_s=now_s)}
        url = f"{self.settings.base_url.rstrip('/')}/3/device/{message.address}"
        return _Ready(message.send_key, url, headers, payload)

    def _client(self) -> httpx.AsyncClient:
        # HTTP/2 only: over https it is the only protocol offered (ALPN), over plain http (a local
        # test server) it is spoken from the first byte (h2c "prior knowledge").
        limits = httpx.Limits(max_connections=self.settings.concurrency,
                              max_keepalive_connections=self.settings.concurrency)
        return httpx.AsyncClient(http1=False, http2=True, timeout=self.settings.timeout_s, limits=limits,
                                 transport=self._transport)

    async def _send_all(self, ready: list[_Ready], token: str) -> dict[str, Delivery]:
        batch = _Batch(token)
        slots = asyncio.Semaphore(self.settings.concurrency)
        async with self._client() as client:

            async def send(item: _Ready) -> Delivery:
                async with slots:
                    return await self._send(client, batch, item)

            answers = await asyncio.gather(*(send(item) for item in ready))
        return {answer.send_key: answer for answer in answers}

    async def _send(self, client: httpx.AsyncClient, batch: _Batch, item: _Ready) -> Delivery:
        """Post one notification; when APNs calls the provider token expired, sign a new one and post once more."""
        renewed = False
        while True:
            if batch.unreachable:  # one failed connection answers for the messages still waiting
                return Delivery(item.send_key, accepted=False, permanent=False, reason="apns_unavailable",
                                detail=batch.unreachable)
            token = batch.token
            try:
                response = await client.post(item.url, content=item.payload,
                                             headers={"authorization": f"bearer {token}", **item.headers})
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                batch.unreachable = _describe(error)
                return Delivery(item.send_key, accepted=False, permanent=False, reason="apns_unavailable",
                                detail=batch.unreachable)
            except httpx.HTTPError as error:  # a timeout or a dropped stream: this message only, worth another try
                return Delivery(item.send_key, accepted=False, permanent=False, reason="apns_unavailable",
                                detail=_describe(error))
            if response.status_code == 403 and not renewed and _reason_of(response) == "ExpiredProviderToken":
                renewed = True
                # The first message refused renews it; the others take the new one. Nothing is awaited
                # between the check and the change, so no other message can come between them.
                if batch.token == token:
                    try:
                        batch.token = self._tokens.get(self.settings, now=self._clock(), stale=token)
                    except (jwt.PyJWTError, ValueError, TypeError) as error:
                        return Delivery(item.send_key, accepted=False, permanent=False, reason="apns_auth",
                                        detail=_describe(error))
                continue
            return answer_for(item.send_key, response)
