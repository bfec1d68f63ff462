"""Web push: notifications to browsers through their push services (RFC 8030), encrypted to each
subscription's keys (RFC 8291, ``aes128gcm``) and signed with the workspace's VAPID key (RFC 8292).

A message's address is the browser's subscription as JSON; its endpoint is the only URL this
channel posts to. Each request carries ``TTL`` (how long the push service keeps the message
for an offline browser), ``Urgency``, ``Topic`` (from the collapse key: a newer message replaces
a waiting one with the same topic) and ``Authorization: vapid t=<JWT>, k=<public key>``. A batch
is sent concurrently over one HTTP client, each message answered on its own: a subscription
the push service no longer knows (404, 410) is listed as ``token_unregistered``, one that is
not a subscription at all as ``invalid_address``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import httpx
from py_vapid import Vapid02  # type: ignore[import-untyped]

from loopline.domain.push import MAX_TTL_S
from loopline.domain.retries import parse_retry_after
from loopline.domain.web_push import (
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    URGENCIES,
    Subscription,
    SubscriptionInvalid,
    Urgency,
    application_server_key,
    check_subject,
    encode_payload,
    encrypted_size,
    load_vapid_key,
    notification,
    options_of,
    parse_subscription,
    topic_for,
)
from loopline.ports import Delivery, Outbound

# RFC 8292 §2 allows a token to live 24 hours; half that leaves room for a push service's clock skew.
VAPID_TOKEN_LIFETIME_S = 12 * 3600
GONE = (404, 410)  # RFC 8030 §7.3: the subscription expired or was removed; it never works again


@dataclass(frozen=True, slots=True)
class WebPushSettings:
    """A workspace's web push sender: its VAPID key and contact, and how its messages are sent."""

    vapid_private_key: str = field(repr=False)  # unencrypted PEM, or base64url of the raw 32-byte P-256 key
    vapid_subject: str  # mailto: or https: contact a push service can reach when something is wrong
    icon_url: str | None = None  # the site's notification icon, shown unless the browser has its own
    urgency: Urgency = "normal"
    default_ttl_s: int = 86_400  # for content without its own TTL: a day-old campaign is rarely still worth showing
    timeout_s: float = 10.0
    concurrency: int = 16  # requests in flight at once, across all push services
    allow_insecure_endpoints: bool = False  # admit http:// endpoints: for a local test push service only

    def __post_init__(self) -> None:
        check_subject(self.vapid_subject)
        load_vapid_key(self.vapid_private_key)
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
        if not 0 <= self.default_ttl_s <= MAX_TTL_S:
            raise ValueError(f"default_ttl_s must be between 0 and {MAX_TTL_S}")
        if self.timeout_s <= 0 or self.concurrency < 1:
            raise ValueError("timeout_s must be positive and concurrency at least 1")


@dataclass(frozen=True, slots=True)
class _Ready:
    """A message checked and encoded, waiting for its request."""

    send_key: str
    subscription: Subscription
    payload: bytes
    ttl_s: int
    topic: str | None


class WebPushChannel:
    """The web push channel for one workspace's VAPID identity; each message is answered on its own."""

    def __init__(self, settings: WebPushSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        key = load_vapid_key(settings.vapid_private_key)
        # The subject was checked by the settings (mailto: or any https URL); py_vapid's own check
        # would refuse an https URL with a path, which RFC 8292 allows.
        self._vapid = Vapid02(key, conf={"no-strict": True})
        self.application_server_key = application_server_key(key)
        """The public key a web page subscribes with (``applicationServerKey``)."""

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: a push service cannot be asked afterwards what it accepted (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message, up to ``concurrency`` at once; a refused or unreachable subscription fails alone.

        A send key repeated within the batch is sent once and answered alike.
        """
        answers: dict[str, Delivery] = {}
        ready: list[_Ready] = []
        seen: set[str] = set()
        for message in messages:
            if message.send_key in seen:
                continue
            seen.add(message.send_key)
            prepared = self._prepare(message)
            if isinstance(prepared, Delivery):
                answers[message.send_key] = prepared
            else:
                ready.append(prepared)
        if ready:
            # One token per push service serves the whole batch: it names the service, not the browser.
            authorization = {origin: self._authorization(origin) for origin in {r.subscription.origin for r in ready}}
            workers = min(self.settings.concurrency, len(ready))
            limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            with (httpx.Client(timeout=self.settings.timeout_s, transport=self._transport, limits=limits) as client,
                  ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web-push") as pool):
                sent = pool.map(partial(self._send, client, authorization), ready)
                answers.update(zip((r.send_key for r in ready), sent, strict=True))
        return [answers[message.send_key] for message in messages]

    def _prepare(self, message: Outbound) -> _Ready | Delivery:
        """Check the subscription and the options and encode the notification; refuse what cannot be sent."""
        try:
            subscription = parse_subscription(message.address,
                                              allow_insecure=self.settings.allow_insecure_endpoints)
        except SubscriptionInvalid as error:
            return Delivery(message.send_key, accepted=False, reason="invalid_address", detail=str(error),
                            suppress="invalid_address" if message.address else "")
        try:
            options = options_of(message.options)
        except ValueError as error:
            return Delivery(message.send_key, accepted=False, reason="invalid_options", detail=str(error)[:500])
        payload = encode_payload(notification(
            title=message.subject, body=message.body, url=message.url, send_key=message.send_key, options=options,
            icon_url=self.settings.icon_url))
        if encrypted_size(len(payload)) > MAX_MESSAGE_BYTES:
            return Delivery(message.send_key, accepted=False, reason="too_large", detail=(
                f"the notification takes {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES} fit in a push message"))
        ttl_s = options.ttl_s if options is not None and options.ttl_s is not None else self.settings.default_ttl_s
        topic = topic_for(options.collapse_key) if options is not None and options.collapse_key else None
        return _Ready(message.send_key, subscription, payload, ttl_s, topic)

    def _authorization(self, origin: str) -> str:
        """Return the VAPID Authorization header for one push service (``vapid t=<JWT>,k=<public key>``)."""
        claims = {"aud": origin, "exp": int(time.time()) + VAPID_TOKEN_LIFETIME_S, "sub": self.settings.vapid_subject}
        return str(self._vapid.sign(claims)["Authorization"])

    def _send(self, client: httpx.Client, authorization: dict[str, str], ready: _Ready) -> Delivery:
        """Encrypt one notification to its subscription and post it to the subscription's endpoint."""
        try:
            body = _encrypt(ready.subscription, ready.payload)
        except SubscriptionInvalid as error:
            return Delivery(ready.send_key, accepted=False, reason="invalid_address", detail=str(error),
                            suppress="invalid_address")
        if len(body) > MAX_MESSAGE_BYTES:  # the size was checked before; this guards the library's record layout
            return Delivery(ready.send_key, accepted=False, reason="too_large",
                            detail=f"the encrypted message takes {len(body)} bytes; at most {MAX_MESSAGE_BYTES}")
        headers = {"Authorization": authorization[ready.subscription.origin], "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream", "TTL": str(ready.ttl_s),
                   "Urgency": self.settings.urgency}
        if ready.topic:
            headers["Topic"] = ready.topic
        try:
            response = client.post(ready.subscription.endpoint, content=body, headers=headers)
        except httpx.InvalidURL as error:
            return Delivery(ready.send_key, accepted=False, reason="invalid_address", detail=str(error)[:500],
                            suppress="invalid_address")
        except httpx.HTTPError as error:  # no connection, a timeout, a dropped response: worth another try
            return Delivery(ready.send_key, accepted=False, permanent=False, reason="web_push_unavailable",
                            detail=(str(error) or type(error).__name__)[:500])
        return _answer(ready.send_key, response)


def _encrypt(subscription: Subscription, payload: bytes) -> bytes:
    """Return ``payload`` encrypted to the subscription (``aes128gcm``, a fresh sender key and salt each time)."""
    # Imported here: pywebpush loads aiohttp and requests (most of a second), which this channel never uses.
    from http_ece import ECEException  # type: ignore[import-untyped]
    from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

    try:
        encoded = WebPusher(subscription.info()).encode(payload, content_encoding="aes128gcm")
    except (WebPushException, ECEException, ValueError) as error:
        raise SubscriptionInvalid(f"cannot encrypt to this subscription: {error}") from None
    return bytes(encoded["body"])


def _answer(send_key: str, response: httpx.Response) -> Delivery:
    """Map a push service's answer: 2xx accepted; 404 and 410 refuse the subscription for good (and list it);
    408, 429 and 5xx are retried, after Retry-After when given; any other status (400, 403, 413…) fails for good."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivery(send_key, accepted=True)
    reason, detail = f"web_push_{status}", response.text[:500]
    if status in GONE:
        return Delivery(send_key, accepted=False, reason=reason, detail=detail, suppress="token_unregistered")
    if status in (408, 429) or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        return Delivery(send_key, accepted=False, permanent=False, reason=reason, detail=detail, retry_after_s=wait)
    return Delivery(send_key, accepted=False, reason=reason, detail=detail)
