"""SMS over HTTP to a local gateway speaking the Twilio and Kannel request shapes: the requests it
receives, and what each of its answers becomes in the ledger."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from loopline.channels.sms import SmsGatewayChannel, SmsGatewaySettings
from loopline.ports import Outbound

INVALID, BUSY, BROKEN = "+15005550001", "+15005550002", "+15005550003"


class Gateway(BaseHTTPRequestHandler):
    """Answers as the documented APIs do; keeps every request it got."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *_: Any) -> None:
        pass

    def _reply(self, status: int, body: str, kind: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        auth = base64.b64decode(self.headers["Authorization"].removeprefix("Basic ")).decode()
        self.seen.append({"path": self.path, "form": form, "auth": auth})
        if auth != "AC123:token":
            self._reply(401, json.dumps({"code": 20003, "message": "Authenticate", "status": 401}))
        elif form["To"] == INVALID:
            self._reply(400, json.dumps({"code": 21211, "message": "The 'To' number is not a valid phone number.",
                                         "status": 400}))
        elif form["To"] == BUSY:
            self._reply(429, json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}))
        else:
            self._reply(201, json.dumps({"sid": "SM" + "0" * 32, "status": "queued", "to": form["To"]}))

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        self.seen.append({"path": urlparse(self.path).path, "query": query})
        if query.get("password") != "secret":
            self._reply(403, "Authorization failed for sendsms", "text/plain")
        elif query["to"] == BROKEN:
            self._reply(503, "Queue full", "text/plain")
        elif query["to"] == INVALID:
            self._reply(400, "Invalid receiver number", "text/plain")
        else:
            self._reply(202, "0: Accepted for delivery", "text/plain")


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sms(key: str, to: str, body: str = "Your code: 1234") -> Outbound:
    return Outbound(key, "ws_a", "jny_1", "p_1", "sms", to, None, body)


def test_the_twilio_shape_sends_the_documented_form_and_maps_each_answer(gateway):
    channel = SmsGatewayChannel(SmsGatewaySettings("twilio", gateway, "+15017122661", "AC123", "token",
                                                   receipts_url="https://loopline.example/hooks/sms/dlr"))
    answers = channel.deliver([_sms("k1", "+491511234567", "Grüße 😀"), _sms("k2", INVALID), _sms("k3", BUSY),
                               _sms("k4", ""), _sms("k5", "+491511234568", "x" * 2_000)])
    assert [(a.send_key, a.accepted, a.permanent, a.reason, a.suppress) for a in answers] == [
        ("k1", True, True, "", ""),
        ("k2", False, True, "twilio_21211", "invalid_address"),  # not a phone number: for good, and listed
        ("k3", False, False, "twilio_20429", ""),  # rate limited: retried
        ("k4", False, True, "invalid_address", ""),
        ("k5", False, True, "too_long", ""),  # 14 segments: refused before it costs anything
    ]
    first = Gateway.seen[0]
    assert first["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert first["auth"] == "AC123:token"
    assert first["form"] == {"To": "+491511234567", "From": "+15017122661", "Body": "Grüße 😀",
                             "StatusCallback": "https://loopline.example/hooks/sms/dlr?send_key=k1"}
    assert len(Gateway.seen) == 3  # nothing was sent for the two refused up front


def test_the_kannel_shape_sends_unicode_with_a_receipt_address_and_maps_each_answer(gateway):
    channel = SmsGatewayChannel(SmsGatewaySettings("kannel", gateway, "SHOP", "loopline", "secret",
                                                   receipts_url="https://loopline.example/dlr?id=%F"))
    answers = channel.deliver([_sms("k1", "+491511234567", "Привет"), _sms("k2", BROKEN), _sms("k3", INVALID),
                               _sms("k4", "+491511234568", "plain text")])
    assert [(a.send_key, a.accepted, a.permanent, a.reason) for a in answers] == [
        ("k1", True, True, ""), ("k2", False, False, "sms_503"), ("k3", False, True, "sms_400"),
        ("k4", True, True, "")]
    unicode, _, _, plain = (request["query"] for request in Gateway.seen)
    assert (unicode["text"], unicode["coding"], unicode["charset"]) == ("Привет", "2", "UTF-8")
    assert (unicode["from"], unicode["to"], unicode["dlr-mask"]) == ("SHOP", "+491511234567", "31")
    # Each report names its send; Kannel fills in the status (%d) and the address's own %F.
    assert unicode["dlr-url"] == "https://loopline.example/dlr?id=%F&send_key=k1&status=%d"
    assert plain["coding"] == "0"


def test_wrong_credentials_are_refused_for_good_and_an_unreachable_gateway_is_retried(gateway):
    wrong = SmsGatewayChannel(SmsGatewaySettings("kannel", gateway, "SHOP", "loopline", "nope"))
    (refused,) = wrong.deliver([_sms("k1", "+491511234567")])
    assert (refused.accepted, refused.permanent, refused.reason) == (False, True, "sms_403")
    gone = SmsGatewayChannel(SmsGatewaySettings("twilio", "http://127.0.0.1:9", "+1", "AC123", "token",
                                                timeout_s=2))
    answers = gone.deliver([_sms("k1", "+491511234567"), _sms("k2", "+491511234568")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "sms_unavailable")] * 2
