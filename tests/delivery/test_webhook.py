"""Webhooks to a real local HTTP server: the signed postback it receives, what each answer becomes,
and every internal destination refused — when the URL is saved and again when it is called —
with the server receiving nothing."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loopline.channels.webhook import (
    BlockedDestination,
    GuardedTransport,
    WebhookChannel,
    WebhookSettings,
    check_destination,
    resolve_and_check,
)
from loopline.domain.network import parse_networks
from loopline.domain.webhooks import sign, verify_signature, webhook_body
from loopline.ports import Outbound
from tests.delivery.conftest import free_port

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0aW5nLW9ubHktMzItYnl0ZXM="
LOOPBACK = ("127.0.0.1/32",)  # the operator's allow-list that lets these tests reach their own server
PUBLIC = "93.184.216.34"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the server answers, and every request it got."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stall: bool = False
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _serve(receiver: Receiver, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.seen.append(Seen(self.command, self.path, dict(self.headers.items()), raw))
            if receiver.stall:
                receiver.release.wait(10)
            self.send_response(receiver.status)
            for name, value in receiver.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(receiver.body)))
            self.end_headers()
            self.wfile.write(receiver.body)

        do_POST = do_GET = _handle

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    server = Server((host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[Receiver, int]]]:
    started: list[tuple[Receiver, ThreadingHTTPServer]] = []

    def start(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, **answer: Any) -> tuple[Receiver, int]:
        receiver = Receiver(**answer)
        server = _serve(receiver, host, tls)
        started.append((receiver, server))
        return receiver, int(server.server_address[1])

    yield start
    for receiver, server in started:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def endpoint(serve: Callable[..., tuple[Receiver, int]]) -> tuple[Receiver, int]:
    return serve()


def _message(key: str = "sk_1", **changes: Any) -> Outbound:
    fields: dict[str, Any] = {"send_key": key, "workspace_id": "ws_a", "source_id": "cmp_spring", "profile_id": "p_1",
                              "channel": "webhook", "address": None, "subject": "Spring sale",
                              "body": '{"coupon": "SPRING", "percent": 20}', "url": "https://shop.example/spring",
                              "options": {"tier": "gold", "items": [1, 2]}}
    return Outbound(**(fields | changes))


def _channel(url: str, *, allowed: tuple[str, ...] = LOOPBACK, timeout_s: float = 5.0) -> WebhookChannel:
    return WebhookChannel(WebhookSettings(url, SECRET, timeout_s=timeout_s, allowed_networks=allowed))


@dataclass
class FakeDns:
    """Answers for names ending in .test: each lookup takes the next answer (the last one repeats)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: Counter[str] = field(default_factory=Counter)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake, real = FakeDns(), socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(".test"):
            return real(host, port, *args, **kwargs)
        if name not in fake.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        fake.lookups[name] += 1
        queue = fake.answers[name]
        addresses = queue[min(fake.lookups[name], len(queue)) - 1]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (a, int(port))) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


# -- the postback and its signature -------------------------------------------------------------


def test_the_postback_arrives_signed_and_the_raw_body_verifies(endpoint: tuple[Receiver, int]) -> None:
    receiver, port = endpoint
    message = _message()
    [answer] = _channel(f"http://127.0.0.1:{port}/hooks/loopline?source=crm").deliver([message])
    assert answer.accepted
    [seen] = receiver.seen
    assert (seen.method, seen.path) == ("POST", "/hooks/loopline?source=crm")
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "sk_1"
    assert headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert json.loads(seen.body) == {
        "type": "message", "send_key": "sk_1", "workspace_id": "ws_a", "source_id": "cmp_spring", "profile_id": "p_1",
        "subject": "Spring sale", "body": '{"coupon": "SPRING", "percent": 20}', "url": "https://shop.example/spring",
        "data": {"tier": "gold", "items": [1, 2]}}
    assert seen.body == webhook_body(send_key="sk_1", workspace_id="ws_a", source_id="cmp_spring", profile_id="p_1",
                                     subject="Spring sale", body=message.body, url=message.url, data=message.options)

    now = datetime.now(UTC)
    assert verify_signature(SECRET, seen.headers, seen.body, now)  # header names in any case
    tampered = bytearray(seen.body)
    tampered[10] ^= 0x01
    assert not verify_signature(SECRET, seen.headers, bytes(tampered), now)
    assert not verify_signature("whsec_" + "b3RoZXItc2VjcmV0LWZvci10ZXN0aW5nLW9ubHk=", seen.headers, seen.body, now)
    assert not verify_signature(SECRET, seen.headers, seen.body, now + timedelta(minutes=6))  # the stamp is 6 min old
    assert not verify_signature(SECRET, seen.headers, seen.body, now - timedelta(minutes=6))  # …or from the future
    reordered = json.dumps(dict(reversed(json.loads(seen.body).items())), separators=(",", ":")).encode()
    assert json.loads(reordered) == json.loads(seen.body)
    assert not verify_signature(SECRET, seen.headers, reordered, now)  # the raw bytes are signed, not the meaning
    assert not verify_signature(SECRET, {**seen.headers, "webhook-id": "sk_2"}, seen.body, now)


def test_the_signature_is_the_standard_webhooks_one() -> None:
    # The worked example of the Standard Webhooks specification.
    secret, body = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body) == expected
    headers = {"Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "Webhook-Timestamp": "1614265330",
               "Webhook-Signature": f"v1,bm90IHRoaXMgb25l {expected}"}  # while a secret is rotated, two are sent
    at = datetime.fromtimestamp(1614265330 + 299, UTC)
    assert verify_signature(secret, headers, body, at)
    assert not verify_signature(secret, headers, body, at + timedelta(seconds=2))
    assert not verify_signature(secret, headers | {"Webhook-Signature": expected.replace("v1,", "v2,")}, body, at)
    assert not verify_signature(secret, headers | {"Webhook-Timestamp": "1614265330.0"}, body, at)
    assert not verify_signature(secret, {"Webhook-Id": headers["Webhook-Id"]}, body, at)
    # A secret without the whsec_ prefix is used as its own bytes, on both sides.
    plain = sign("a plain shared secret of 24+", message_id="m", timestamp=1, body=b"{}")
    assert verify_signature("a plain shared secret of 24+", {"webhook-id": "m", "webhook-timestamp": "1",
                                                             "webhook-signature": plain}, b"{}",
                            datetime.fromtimestamp(1, UTC))


def test_options_that_are_not_json_refuse_only_their_message(endpoint: tuple[Receiver, int]) -> None:
    receiver, port = endpoint
    answers = _channel(f"http://127.0.0.1:{port}/").deliver([_message("sk_1", options={"when": object()}),
                                                             _message("sk_2")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, True, "invalid_payload"),
                                                                      (True, True, "")]
    assert [json.loads(s.body)["send_key"] for s in receiver.seen] == ["sk_2"]


def test_settings_keep_the_secret_out_of_their_repr_and_refuse_nonsense() -> None:
    assert SECRET not in repr(WebhookSettings("https://hooks.example.com/", SECRET))
    with pytest.raises(ValueError, match="signing secret"):
        WebhookSettings("https://hooks.example.com/", "")
    with pytest.raises(ValueError, match="not a network"):
        WebhookSettings("https://hooks.example.com/", SECRET, allowed_networks=("10.0.0.0/33",))
    assert _channel("https://hooks.example.com/").received(["sk_1"]) is None


# -- what each answer becomes ----------------------------------------------------------------------


def test_a_redirect_to_an_internal_address_is_not_followed(serve: Callable[..., tuple[Receiver, int]]) -> None:
    internal, internal_port = serve()
    outside, port = serve(status=302, headers={"Location": f"http://127.0.0.1:{internal_port}/admin"})
    [answer] = _channel(f"http://127.0.0.1:{port}/hook").deliver([_message()])
    assert (answer.accepted, answer.permanent, answer.reason) == (False, True, "webhook_redirect")
    assert "/admin" not in answer.detail
    assert len(outside.seen) == 1
    assert internal.seen == []


def test_a_timeout_is_retried_and_leaves_the_rest_of_the_batch_untried(
        serve: Callable[..., tuple[Receiver, int]]) -> None:
    receiver, port = serve(stall=True)
    answers = _channel(f"http://127.0.0.1:{port}/", timeout_s=0.5).deliver([_message("sk_1"), _message("sk_2")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "webhook_timeout")] * 2
    assert len(receiver.seen) == 1


def test_503_with_retry_after_is_retried_after_that_long(serve: Callable[..., tuple[Receiver, int]]) -> None:
    receiver, port = serve(status=503, headers={"Retry-After": "120"}, body=b"maintenance at db-7.internal")
    answers = _channel(f"http://127.0.0.1:{port}/").deliver([_message("sk_1"), _message("sk_2")])
    assert [(a.accepted, a.permanent, a.reason, a.retry_after_s) for a in answers] == [
        (False, False, "webhook_503", 120.0)] * 2
    assert "db-7" not in answers[0].detail  # the answer's body is never echoed
    assert len(receiver.seen) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_busy_and_broken_endpoints_are_retried(serve: Callable[..., tuple[Receiver, int]], status: int) -> None:
    _, port = serve(status=status)
    [answer] = _channel(f"http://127.0.0.1:{port}/").deliver([_message()])
    assert (answer.accepted, answer.permanent, answer.reason, answer.retry_after_s) == (
        False, False, f"webhook_{status}", None)


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_a_refusal_is_permanent_for_its_message_only(serve: Callable[..., tuple[Receiver, int]], status: int) -> None:
    receiver, port = serve(status=status, body=b"secret internal text")
    answers = _channel(f"http://127.0.0.1:{port}/").deliver([_message("sk_1"), _message("sk_2")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, True, f"webhook_{status}")] * 2
    assert "secret internal text" not in answers[0].detail
    assert len(receiver.seen) == 2


def test_nothing_listening_is_retried() -> None:
    answers = _channel(f"http://127.0.0.1:{free_port()}/").deliver([_message("sk_1"), _message("sk_2")])
    assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, False, "webhook_unavailable")] * 2

def _internal_urls(port: int) -> list[str]:
    return ["http://169.254.169.254/latest/meta-data/", f"http://localhost:{port}/", f"http://127.0.0.1:{port}/",
            f"http://[::1]:{port}/", f"http://[::ffff:127.0.0.1]:{port}/", f"http://2130706433:{port}/",
            f"http://0x7f.1:{port}/", f"http://0.0.0.0:{port}/"]


def test_internal_destinations_are_refused_when_called_and_receive_nothing(
        serve: Callable[..., tuple[Receiver, int]]) -> None:
    receiver, port = serve()
    try:
        v6, v6_port = serve("::1")
    except OSError:  # no IPv6 loopback here: the [::1] URL is still refused, just with no server behind it
        v6, v6_port = Receiver(), port
    for url in [*_internal_urls(port), f"http://[::1]:{v6_port}/"]:
        answers = _channel(url, allowed=()).deliver([_message("sk_1"), _message("sk_2")])
        assert [(a.accepted, a.permanent, a.reason) for a in answers] == [(False, True, "blocked_destination")] * 2
        assert "webhooks may not call" in answers[0].detail or "written as a number" in answers[0].detail
        for leaked in ("127.0.0.1", "169.254", "::1"):
            assert leaked not in answers[0].detail
    assert receiver.seen == []
    assert v6.seen == []


def test_the_connection_itself_refuses_internal_addresses(serve: Callable[..., tuple[Receiver, int]]) -> None:
    # Past the URL check: the transport resolves, checks, and refuses before any byte is sent.
    receiver, port = serve()
    with httpx.Client(transport=GuardedTransport(), timeout=2) as client:
        for url in _internal_urls(port):
            with pytest.raises(BlockedDestination, match="may not call"):
                client.post(url, content=b"{}")
    assert receiver.seen == []
    # The same server is reachable once an operator allows it, so the refusals above were the guard's doing.
    with httpx.Client(transport=GuardedTransport(parse_networks(LOOPBACK)), timeout=2) as client:
        assert client.post(f"http://localhost:{port}/", content=b"{}").status_code == 204
    assert len(receiver.seen) == 1


def test_a_rebinding_host_is_refused_at_call_time(
        endpoint: tuple[Receiver, int], dns: FakeDns) -> None:
    receiver, port = endpoint
    url = f"http://hooks.rebind.test:{port}/hook"
    dns.answers["hooks.rebind.test"] = [[PUBLIC], ["127.0.0.1"]]  # public when saved, loopback when called
    assert check_destination(url) is None
    answers = _channel(url, allowed=()).deliver([_message()])
    assert [(a.permanent, a.reason) for a in answers] == [(True, "blocked_destination")]
    assert answers[0].detail == "the host resolves to a loopback address, which webhooks may not call"
    assert receiver.seen == []


def test_one_private_answer_among_public_ones_refuses_the_host(dns: FakeDns) -> None:
    dns.answers["mixed.test"] = [[PUBLIC, "10.0.0.5"]]
    assert check_destination("https://mixed.test/hook") == (
        "the host resolves to a private address, which webhooks may not call")
    with pytest.raises(BlockedDestination):
        resolve_and_check("mixed.test", 443)
    dns.answers["metadata.test"] = [["fd00:ec2::254"]]
    assert check_destination("https://metadata.test/") == (
        "the host resolves to a private address, which webhooks may not call")


def test_the_call_connects_to_the_address_it_checked(
        endpoint: tuple[Receiver, int], dns: FakeDns) -> None:
    receiver, port = endpoint
    # Were the name looked up a second time when connecting, it would answer a documentation address.
    dns.answers["hooks.shop.test"] = [["127.0.0.1"], ["192.0.2.1"]]
    [answer] = _channel(f"http://hooks.shop.test:{port}/in").deliver([_message()])
    assert answer.accepted
    assert dns.lookups["hooks.shop.test"] == 1
    [seen] = receiver.seen
    assert seen.headers["Host"] == f"hooks.shop.test:{port}"  # the name, not the address, as virtual hosts need


@pytest.mark.parametrize(("url", "problem"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost:5432", "loopback"),
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://2130706433/", "written as a number"),
    ("http://0x7f.1/", "written as a number"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("ftp://hooks.example.com/", "http:// or https://"),
    ("https://user:pw@hooks.example.com/", "user name or password"),
    ("https://hooks.example.com:0/", "port"),
    ("https://nowhere.test/", "does not resolve"),
])
def test_a_bad_url_is_refused_when_saved(url: str, problem: str, dns: FakeDns) -> None:
    message = check_destination(url)
    assert message is not None
    assert problem in message


def test_a_good_url_is_accepted_when_saved(dns: FakeDns) -> None:
    dns.answers["hooks.shop.test"] = [[PUBLIC, "2606:4700::6810:84e5"]]
    assert check_destination("https://hooks.shop.test/loopline") is None
    assert check_destination(f"https://{PUBLIC}:8443/loopline") is None
    assert check_destination("http://10.20.0.7:8080/hook", ["10.20.0.0/16"]) is None  # allowed by the operator


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for one host name, and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_tls_checks_the_host_name_while_connecting_to_the_checked_address(
        serve: Callable[..., tuple[Receiver, int]], dns: FakeDns, tmp_path: Any) -> None:
    cert, key = _certificate("hooks.shop.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []

    def remember(_socket: Any, name: str | None, _context: Any) -> None:
        names.append(name)

    server_tls.sni_callback = remember
    receiver, port = serve(tls=server_tls)
    dns.answers["hooks.shop.test"] = [["127.0.0.1"]]
    dns.answers["other.shop.test"] = [["127.0.0.1"]]
    trust = ssl.create_default_context(cadata=cert.decode())
    with httpx.Client(transport=GuardedTransport(parse_networks(LOOPBACK), verify=trust), timeout=5) as client:
        assert client.post(f"https://hooks.shop.test:{port}/in", content=b"{}").status_code == 204
        # The same address under a name the certificate does not hold fails verification.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            client.post(f"https://other.shop.test:{port}/in", content=b"{}")
    assert names[0] == "hooks.shop.test"  # SNI carries the name, not the address connected to
    assert len(receiver.seen) == 1
    assert receiver.seen[0].headers["Host"] == f"hooks.shop.test:{port}"
