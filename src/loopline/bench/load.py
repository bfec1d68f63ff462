"""The load generator: pre-serialised Segment bodies and a lean keep-alive HTTP/1.1 client.

The client speaks HTTP/1.1 over raw asyncio streams instead of httpx because on a
2-core machine every microsecond the load process spends is taken from the server:
httpx costs several hundred microseconds of CPU per request, this client a few tens.
Bodies are serialised once per template; a request only swaps its number into the
messageId slots (``bytes.replace``), so every request carries new messageIds.
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# Eight characters that no generated value contains; each is replaced by the request
# number in hex, so a messageId is unique per (request, position in the body).
MARK = b"RRRRRRRR"
BASE_TIME = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
MAX_ATTEMPTS = 30
RETRYABLE = frozenset({429, 503})

_PRODUCTS = (
    ("Running Shoes", "Footwear", "Stride"), ("Rain Jacket", "Outerwear", "Northfold"),
    ("Linen Shirt", "Tops", "Atelier 9"), ("Slim Jeans", "Denim", "Indigo & Co"),
    ("Wool Scarf", "Accessories", "Highland"), ("Leather Belt", "Accessories", "Saddle"),
    ("Summer Dress", "Dresses", "Maris"), ("Hoodie", "Tops", "Stride"),
    ("Chelsea Boots", "Footwear", "Saddle"), ("Sun Hat", "Accessories", "Maris"),
)
_EVENTS = (
    ("Product Viewed", 40), ("Product List Viewed", 15), ("Product Added", 12),
    ("Products Searched", 10), ("Cart Viewed", 8), ("Checkout Started", 5),
    ("Order Completed", 3), ("Push Notification Opened", 4), ("Application Opened", 3),
)
_DEVICES = (
    ("Apple", "iPhone15,2", "iPhone", "ios", "iOS", ("17.4.1", "17.5", "18.0.1"), (3, 852, 393), "analytics-ios"),
    ("Apple", "iPhone13,2", "iPhone", "ios", "iOS", ("16.7.8", "17.4.1"), (3, 844, 390), "analytics-ios"),
    ("samsung", "SM-S911B", "Galaxy S23", "android", "Android", ("13", "14"), (3, 780, 360), "analytics-android"),
    ("Google", "Pixel 8", "Pixel 8", "android", "Android", ("14", "15"), (2.625, 915, 412), "analytics-android"),
    ("Xiaomi", "2201117TG", "Redmi Note 11", "android", "Android", ("12", "13"), (2.75, 873, 393), "analytics-android"),
)
_LOCALES = (
    ("en-GB", "Europe/London", "Vodafone UK"), ("de-DE", "Europe/Berlin", "Telekom.de"),
    ("fr-FR", "Europe/Paris", "Orange F"), ("es-ES", "Europe/Madrid", "Movistar"),
    ("en-US", "America/New_York", "Verizon"), ("nl-NL", "Europe/Amsterdam", "KPN"),
)


def basic_auth(write_key: str) -> bytes:
    """Return the Authorization header value Segment SDKs send: the write key as Basic user."""
    return b"Basic " + base64.b64encode(f"{write_key}:".encode())


def _uuid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"


def _user(rng: random.Random, number: int) -> dict[str, Any]:
    maker, model, name, kind, os_name, versions, screen, library = rng.choice(_DEVICES)
    locale, timezone, carrier = rng.choice(_LOCALES)
    wifi = rng.random() < 0.6
    return {
        "userId": f"user-{number:06d}",
        "anonymousId": _uuid(rng),
        "context": {
            "app": {"name": "Loopline Shop", "version": "4.12.1", "build": "41201",
                    "namespace": "com.loopline.shop"},
            "device": {"id": _uuid(rng), "advertisingId": _uuid(rng), "adTrackingEnabled": rng.random() < 0.3,
                       "manufacturer": maker, "model": model, "name": name, "type": kind},
            "os": {"name": os_name, "version": rng.choice(versions)},
            "locale": locale,
            "timezone": timezone,
            "network": {"bluetooth": False, "carrier": carrier, "cellular": not wifi, "wifi": wifi},
            "screen": {"density": screen[0], "height": screen[1], "width": screen[2]},
            "ip": f"198.51.100.{rng.randrange(1, 255)}",
            "library": {"name": library, "version": "4.1.8" if kind == "ios" else "4.11.3"},
        },
    }


def _properties(rng: random.Random, event: str) -> dict[str, Any]:
    title, category, brand = rng.choice(_PRODUCTS)
    sku = f"SKU-{rng.randrange(10_000, 99_999)}"
    price = round(rng.uniform(9.0, 189.0), 2)
    quantity = rng.randint(1, 3)
    base: dict[str, Any] = {
        "product_id": sku.lower(), "sku": sku, "name": title, "category": category, "brand": brand,
        "variant": rng.choice(("black", "navy", "olive", "sand")), "price": price,
        "currency": "EUR", "position": rng.randint(1, 24),
        "url": f"https://shop.example.com/p/{sku.lower()}",
    }
    if event == "Product Added":
        base.update(quantity=quantity, cart_id=_uuid(rng))
    elif event in {"Checkout Started", "Order Completed"}:
        base.update(order_id=f"o-{rng.randrange(10**8)}", revenue=round(price * quantity, 2),
                    shipping=4.95, tax=round(price * quantity * 0.19, 2), coupon=rng.choice(("", "SPRING10")))
    elif event == "Products Searched":
        base.update(query=rng.choice(("jacket", "linen", "boots sale", "running")), results=rng.randint(0, 80))
    elif event in {"Push Notification Opened", "Application Opened"}:
        base.update(campaign_id=f"c-{rng.randrange(1000)}", from_background=rng.random() < 0.7)
    return base


def _message(rng: random.Random, user: dict[str, Any], position: int, sent: datetime) -> dict[str, Any]:
    names, weights = zip(*_EVENTS, strict=True)
    event = rng.choices(names, weights)[0]
    # The messageId is UUID-shaped; its first group is the request number slot.
    message_id = f"{MARK.decode()}-{position:04x}-4{rng.getrandbits(12):03x}-b{rng.getrandbits(12):03x}-" + (
        f"{rng.getrandbits(48):012x}"
    )
    original = sent - timedelta(milliseconds=rng.randrange(50, 120_000))
    return {
        "type": "track", "event": event, "userId": user["userId"], "anonymousId": user["anonymousId"],
        "messageId": message_id, "originalTimestamp": original.isoformat(timespec="milliseconds"),
        "properties": _properties(rng, event), "context": user["context"], "integrations": {},
    }


@dataclass(frozen=True, slots=True)
class Payloads:
    """Serialised request bodies with messageId slots, reused round-robin."""

    templates: tuple[bytes, ...]
    events_per_body: int

    def body(self, number: int) -> bytes:
        """Return request ``number``'s body: a template with the number in every messageId."""
        return self.templates[number % len(self.templates)].replace(MARK, b"%08x" % number)


def make_payloads(*, seed: int, events_per_body: int, templates: int, users: int = 2_000) -> Payloads:
    """Build deterministic bodies: batches when ``events_per_body`` > 1, else single track messages."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    people = [_user(rng, number) for number in range(users)]
    bodies: list[bytes] = []
    for index in range(templates):
        sent = BASE_TIME + timedelta(seconds=index * 7)
        stamp = sent.isoformat(timespec="milliseconds")
        messages = [_message(rng, rng.choice(people), position, sent) for position in range(events_per_body)]
        if events_per_body == 1:
            payload: dict[str, Any] = {**messages[0], "sentAt": stamp}
            del payload["type"]
        else:
            payload = {"batch": messages, "sentAt": stamp}
        body = orjson.dumps(payload)
        assert body.count(MARK) == events_per_body, "the messageId mark must appear once per message"
        bodies.append(body)
    return Payloads(tuple(bodies), events_per_body)


class HttpError(ConnectionError):
    """The connection broke or the server answered something that is not HTTP/1.1."""


@dataclass(slots=True)
class Reply:
    """One HTTP response: status, the headers the bench reads, and the body."""

    status: int
    body: bytes
    retry_after: float = 1.0
    close: bool = False


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it are sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        """Drop the socket; the next request opens a new one."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, head: bytes, body: bytes) -> Reply:
        """Send one request whose ``head`` ends in ``Content-Length: `` and read the reply."""
        try:
            reader, writer = await self._open()
            writer.writelines((head, b"%d\r\n\r\n" % len(body), body))
            await writer.drain()
            reply = await _read_reply(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            self.close()
            raise HttpError(str(error) or type(error).__name__) from error
        if reply.close:
            self.close()
        return reply


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, reply = -1, False, Reply(status, b"")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"retry-after":
            reply.retry_after = float(value)
        elif name == b"connection":
            reply.close = value.strip().lower() == b"close"
    if length >= 0:
        reply.body = await reader.readexactly(length)
    elif chunked:
        reply.body = await _read_chunked(reader)
    else:
        raise ValueError("the reply has neither Content-Length nor chunked encoding")
    return reply


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    for _ in range(1_000_000):
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    raise ValueError("a chunked reply did not end")


def request_head(path: str, host: str, port: int, write_key: str) -> bytes:
    """Return the fixed part of a POST's head; the caller appends the body's length."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: loopline-bench/1\r\n"
        f"Content-Type: application/json\r\nAuthorization: "
    ).encode() + basic_auth(write_key) + b"\r\nContent-Length: "


@dataclass
class LoadResult:
    """What a load phase measured."""

    requests: int = 0
    acked: int = 0
    errors: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: LoadResult) -> None:
        """Fold another phase's counts in (latencies and time stay this phase's)."""
        self.requests += other.requests
        self.acked += other.acked
        self.errors += other.errors
        self.failed += other.failed


def accepted_count(body: bytes) -> int:
    """Return the number of messages a 2xx ingest reply says were accepted."""
    return int(orjson.loads(body).get("accepted", 0))


async def _send(conn: Connection, head: bytes, body: bytes, result: LoadResult) -> bool:
    """Send until acknowledged, retrying like an SDK: same body (same messageIds) after Retry-After."""
    for _ in range(MAX_ATTEMPTS):
        try:
            reply = await conn.request(head, body)
        except HttpError:
            result.errors += 1
            await asyncio.sleep(0.1)
            continue
        if 200 <= reply.status < 300:
            result.acked += accepted_count(reply.body)
            return True
        result.errors += 1
        if reply.status not in RETRYABLE:
            return False
        await asyncio.sleep(reply.retry_after)
    return False


async def closed_loop(
    *, host: str, port: int, head: bytes, bodies: Callable[[int], bytes], first: int, count: int,
    concurrency: int, progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Send requests ``first`` … ``first + count - 1`` over ``concurrency`` connections, each back to back."""
    result = LoadResult(requests=count)
    numbers = iter(range(first, first + count))

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            for number in numbers:
                body = bodies(number)
                started = time.perf_counter()
                if await _send(conn, head, body, result):
                    result.latencies.append(time.perf_counter() - started)
                else:
                    result.failed += 1
                if progress is not None:
                    progress(1)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def open_loop(
    *, host: str, port: int, head: bytes, bodies: Callable[[int], bytes], first: int, count: int,
    rate: float, connections: int, progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Start request i at ``i / rate`` seconds whether or not earlier ones are done.

    Latency runs from the scheduled start, so time spent waiting for a free connection
    counts: a slow server cannot hide its queueing by slowing the client down.
    """
    result = LoadResult(requests=count)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    async def one(number: int, due: float) -> None:
        conn = await idle.get()
        try:
            if await _send(conn, head, bodies(number), result):
                result.latencies.append(loop.time() - due)
            else:
                result.failed += 1
        finally:
            idle.put_nowait(conn)
            if progress is not None:
                progress(1)

    start = loop.time() + 0.05
    for index in range(count):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0.001:
            await asyncio.sleep(delay)
        task = loop.create_task(one(first + index, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    result.seconds = loop.time() - start
    for _ in range(connections):
        idle.get_nowait().close()
    return result


def percentile_ms(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of durations in seconds, in milliseconds."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[rank] * 1000, 2)


def run_async(coroutine: Any) -> Any:
    """Run a coroutine on uvloop when available (cheaper per request), else on asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
