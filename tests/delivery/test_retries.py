"""F3: a provider that times out, fails with 5xx or asks to slow down (429 + Retry-After) is retried
with exponential backoff and jitter, never before it asked, and the message is delivered once; after
the last attempt the send fails with the reason, and nothing else waits behind it."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from loopline.actions.delivery import MAX_ATTEMPTS, do_deliver_due
from loopline.domain.retries import FIRST_WAIT_S, LONGEST_WAIT_S, parse_retry_after, retry_delay
from loopline.store.sql.tables import sends
from tests.engagement.conftest import NOW, person

SLOW, DOWN, FINE = "+4915100000001", "+4915100000002", "+4915100000003"


class FlakyGateway(BaseHTTPRequestHandler):
    """A Twilio-shaped gateway: SLOW gets 429 with Retry-After twice, DOWN always 503, FINE is accepted."""

    seen: ClassVar[list[str]] = []
    callbacks: ClassVar[list[str]] = []  # where each request asked for its delivery report

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        to = form["To"]
        self.seen.append(to)
        self.callbacks.append(form.get("StatusCallback", ""))
        headers: dict[str, str] = {}
        if to == SLOW and self.seen.count(SLOW) <= 2:
            status, body, headers = 429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "600"}
        elif to == DOWN:
            status, body = 503, {"code": 20500, "message": "Service Unavailable"}
        else:
            status, body = 201, {"sid": "SM" + "1" * 32, "status": "queued"}
        self._reply(status, json.dumps(body).encode(), headers)

    def do_GET(self) -> None:
        """The Kannel shape: ``/cgi-bin/sendsms`` with everything in the query."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.seen.append(query["to"])
        self.callbacks.append(query.get("dlr-url", ""))
        self._reply(202, b"0: Accepted for delivery", {})

    def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def flaky() -> Iterator[str]:
    FlakyGateway.seen = []
    FlakyGateway.callbacks = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _row(shop, user: str) -> Any:
    (row,) = list(shop.sends(user))
    with shop.runtime.services.engine.connect() as conn:
        return conn.execute(sa.select(sends).where(sends.c.send_key == row["send_key"])).one()


def _at(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_retry_after_is_a_floor_and_backoff_grows_until_the_last_attempt_fails(shop, flaky):
    shop.ingest([person("u-slow", phone=SLOW), person("u-down", phone=DOWN), person("u-fine", phone=FINE)])
    shop.policy(opt_in_channels=[])
    put = shop.client.put("/api/v1/channels/providers", headers=shop.headers, json={"channel": "sms", "provider": {
        "kind": "sms_gateway", "shape": "twilio", "base_url": flaky, "sender": "+15017122661", "account": "AC1",
        "secret": "token"}})
    assert put.status_code == 200, put.text
    campaign = shop.campaign(shop.segment(), channels=["sms"], variants=[
        {"name": "A", "split": 100, "content": {"sms": {"body": "Sale starts now"}}}])
    shop.move(campaign["id"], "schedule")
    shop.tick()
    services = shop.runtime.services
    assert FlakyGateway.seen.count(FINE) == 1
    slow = _row(shop, "u-slow")
    assert (slow.state, slow.reason) == ("queued", "twilio_20429")
    assert _at(slow.not_before) >= NOW + timedelta(seconds=600)  # the gateway's Retry-After is honoured
    # Before the gateway's time nothing is tried again, however often the worker looks.
    for minutes in (1, 5, 9):
        do_deliver_due(services, now=NOW + timedelta(minutes=minutes))
    assert FlakyGateway.seen.count(SLOW) == 1

    waits = []
    now = NOW
    for _ in range(MAX_ATTEMPTS + 2):
        down = _row(shop, "u-down")
        if down.state != "queued":
            break
        waits.append((_at(down.not_before) - now).total_seconds())
        now = _at(down.not_before)
        do_deliver_due(services, now=now)
    down = _row(shop, "u-down")
    assert (down.state, down.reason) == ("failed", "twilio_20500")
    assert FlakyGateway.seen.count(DOWN) == MAX_ATTEMPTS
    assert all(later > earlier for earlier, later in itertools.pairwise(waits)), waits
    # The slow one went through once its wait was over; the fine one was never sent twice.
    do_deliver_due(services, now=now + timedelta(hours=1))
    assert (_row(shop, "u-slow").state, FlakyGateway.seen.count(SLOW)) == ("sent", 3)
    assert FlakyGateway.seen.count(FINE) == 1


def test_backoff_doubles_with_jitter_is_capped_and_never_undercuts_retry_after():
    rng = Random(7)
    for attempt in range(1, 12):
        step = min(LONGEST_WAIT_S, FIRST_WAIT_S * 2 ** (attempt - 1))
        draws = [retry_delay(attempt, retry_after_s=None, jitter=rng.random()).total_seconds() for _ in range(200)]
        assert step / 2 <= min(draws)
        assert max(draws) <= step
        assert len({round(d, 3) for d in draws}) > 100  # jittered, not one fixed wait
    assert retry_delay(1, retry_after_s=900, jitter=rng.random()) >= timedelta(seconds=900)
    assert retry_delay(1, retry_after_s=10 ** 9, jitter=rng.random()) <= timedelta(days=1)


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after("Tue, 24 Nov 2026 08:02:00 GMT", now=now) == 120
    assert parse_retry_after("Tue, 24 Nov 2026 07:00:00 GMT", now=now) == 0
    assert parse_retry_after("9999999", now=now) == 86_400  # a day at most
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
