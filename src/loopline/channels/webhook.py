"""Webhooks: each message posted as signed JSON to a URL the workspace chose.

Because the workspace chooses the URL, every call is guarded against reaching the platform's
own network: the URL is checked when it is saved (``check_destination``) and again at every
call, where the host is resolved, every address it resolves to is checked — one private answer
refuses the call, which defeats a DNS-rebinding host — and the connection goes to an address
that was checked, never through a second lookup. TLS still verifies the certificate against
the host name, and the Host header is the name, so virtual hosting works. Redirects are not
followed, and what the endpoint answers is never echoed back (only its status).

The body and its signature follow the Standard Webhooks spec (``loopline.domain.webhooks``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address

import httpcore
import httpx

from loopline.domain.network import (
    IPAddress,
    Network,
    UnsafeUrl,
    blocked_reason,
    check_url,
    parse_networks,
)
from loopline.domain.retries import parse_retry_after
from loopline.domain.webhooks import signed_headers, webhook_body
from loopline.ports import Delivery, Outbound

MAX_ADDRESSES_TRIED = 4  # a host answering with many addresses is not tried for each one's connect timeout
USER_AGENT = "Loopline-Webhooks/1"


class BlockedDestination(Exception):
    """The destination is, or resolves to, an address webhooks may not call; the message says which kind."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """A workspace's webhook: where it posts, the secret it signs with, and how long it waits.

    ``allowed_networks`` lists CIDRs the operator lets webhooks reach although they are not
    public (an on-premise receiver, say); it is an operator setting, never a workspace's.
    """

    url: str
    signing_secret: str = field(repr=False)
    timeout_s: float = 10.0
    allowed_networks: tuple[str, ...] = ()
    max_response_bytes: int = 64 * 1024  # read (and dropped) from an answer so the connection can be reused

    def __post_init__(self) -> None:
        if not self.signing_secret:
            raise ValueError("a webhook needs a signing secret")
        parse_networks(self.allowed_networks)  # refuse a malformed CIDR when the settings are made


def resolve_and_check(host: str, port: int, allowed: Iterable[str | Network] = ()) -> list[IPAddress]:
    """Resolve a host and return its addresses, all of them allowed; raise BlockedDestination or OSError.

    Every address must pass, not just the first: a host that answers with one public and one
    private address could be connected to the private one.
    """
    networks = parse_networks(allowed)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise socket.gaierror(f"{host} has no address")
    for address in addresses:
        reason = blocked_reason(address, allowed=networks)
        if reason is not None:
            raise BlockedDestination(f"the host resolves to {reason}, which webhooks may not call")
    return addresses


def check_destination(url: str, allowed: Iterable[str | Network] = ()) -> str | None:
    """Check a webhook URL when it is saved: its shape, then every address its host resolves to.

    Return None when it may be used, or a sentence saying why not, fit to show to whoever
    typed the URL (it names the kind of address, never the address a name resolved to).
    """
    try:
        networks = parse_networks(allowed)
        target = check_url(url, allowed=networks)
        if target.ip is None:
            resolve_and_check(target.host, target.port, networks)
    except (UnsafeUrl, BlockedDestination) as error:
        return str(error)
    except (OSError, UnicodeError):
        return "the host name does not resolve; check it, or save again once its DNS record exists"
    return None


class GuardedBackend(httpcore.NetworkBackend):
    """A network backend that resolves, checks each address, then connects to a checked address.

    httpcore hands ``connect_tcp`` the host name of the URL; TLS (``start_tls``) is then given the
    same name for SNI and certificate checks, so only the address lookup changes hands.
    """

    def __init__(self, allowed: Sequence[Network], inner: httpcore.NetworkBackend | None = None) -> None:
        self._allowed = tuple(allowed)
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host``, refuse it if any address is blocked, then connect to the first that answers."""
        try:
            addresses = resolve_and_check(host, port, self._allowed)
        except (OSError, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        last: Exception | None = None
        for address in addresses[:MAX_ADDRESSES_TRIED]:
            try:
                # A literal address: the resolver parses it and asks no name server.
                return self._inner.connect_tcp(str(address), port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        """Refuse: a webhook never reaches a local socket."""
        raise BlockedDestination("webhooks do not connect to local sockets")

    def sleep(self, seconds: float) -> None:
        """Wait between connection attempts, as the wrapped backend does."""
        self._inner.sleep(seconds)


# httpcore's errors and the httpx errors callers catch, the more specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)
_CORE_ERRORS = tuple(core for core, _ in _ERRORS)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except _CORE_ERRORS as error:
        mapped = next(public for core, public in _ERRORS if isinstance(error, core))
        raise mapped(str(error)) from error


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool that connects only through ``GuardedBackend``.

    It ignores proxy settings from the environment: a proxy would make the connection, and
    the addresses checked here would not be the ones reached.
    """

    def __init__(self, allowed: Sequence[Network] = (), *, verify: ssl.SSLContext | bool = True) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=4, keepalive_expiry=5.0, network_backend=GuardedBackend(allowed))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request through the pool; errors come out as httpx's (BlockedDestination as itself)."""
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            response = self._pool.handle_request(core)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(status_code=response.status, headers=response.headers, stream=_Body(response.stream),
                              extensions=response.extensions)

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()


class WebhookChannel:
    """The webhook channel: one signed POST per message, each answered on its own.

    A message the endpoint cannot take now (a timeout, a refused connection, 408, 429, 5xx)
    leaves the rest of the batch untried and retryable too, since they go to the same place.
    """

    def __init__(self, settings: WebhookSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        # A test may pass its own transport; the URL is still checked, but connecting is then up to it.
        self.settings = settings
        self._allowed = parse_networks(settings.allowed_networks)
        self._transport = transport

    def received(self, send_keys: Sequence[str]) -> set[str] | None:
        """Return None: an endpoint's acceptance is known only from its answer (see ``Channel.received``)."""
        return None

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Post each message; a blocked destination refuses all of them for good."""
        try:
            check_url(self.settings.url, allowed=self._allowed)
        except UnsafeUrl as error:
            return [_blocked(m.send_key, str(error)) for m in messages]
        answers: list[Delivery] = []
        transport = self._transport or GuardedTransport(self._allowed)
        with httpx.Client(transport=transport, timeout=self.settings.timeout_s, follow_redirects=False,
                          trust_env=False, headers={"user-agent": USER_AGENT}) as client:
            for index, message in enumerate(messages):
                try:
                    content = webhook_body(
                        send_key=message.send_key, workspace_id=message.workspace_id, source_id=message.source_id,
                        profile_id=message.profile_id, subject=message.subject, body=message.body, url=message.url,
                        data=message.options)
                except ValueError as error:
                    answers.append(Delivery(message.send_key, accepted=False, reason="invalid_payload",
                                            detail=str(error)[:500]))
                    continue
                try:
                    answer = self._post(client, message.send_key, content)
                except BlockedDestination as error:
                    answers.extend(_blocked(m.send_key, str(error)) for m in messages[index:])
                    return answers
                except httpx.TimeoutException:
                    answer = Delivery(message.send_key, accepted=False, permanent=False, reason="webhook_timeout",
                                      detail=f"no answer within {self.settings.timeout_s:g} s")
                except httpx.TransportError as error:
                    answer = Delivery(message.send_key, accepted=False, permanent=False, reason="webhook_unavailable",
                                      detail=str(error)[:500])
                answers.append(answer)
                if not answer.accepted and not answer.permanent:
                    answers.extend(Delivery(m.send_key, accepted=False, permanent=False, reason=answer.reason,
                                            detail="not sent: " + answer.detail, retry_after_s=answer.retry_after_s)
                                   for m in messages[index + 1:])
                    return answers
        return answers

    def _post(self, client: httpx.Client, send_key: str, content: bytes) -> Delivery:
        headers = signed_headers(self.settings.signing_secret, message_id=send_key, timestamp=int(time.time()),
                                 body=content)
        headers["content-type"] = "application/json"
        request = client.build_request("POST", self.settings.url, content=content, headers=headers)
        response = client.send(request, stream=True)
        try:
            self._drain(response)
        finally:
            response.close()
        return _answer(send_key, response)

    def _drain(self, response: httpx.Response) -> None:
        """Read a little of the answer so the connection can serve the next message; keep none of it."""
        read = 0
        with contextlib.suppress(httpx.HTTPError):  # the status is already known; the body changes nothing
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > self.settings.max_response_bytes:
                    break


def _blocked(send_key: str, detail: str) -> Delivery:
    return Delivery(send_key, accepted=False, reason="blocked_destination", detail=detail)


def _answer(send_key: str, response: httpx.Response) -> Delivery:
    """Map the endpoint's status: 2xx accepted; 408, 429 and 5xx retried; redirects and other 4xx refused.

    The detail gives the status only: echoing the body would let whoever chose the URL read
    what a server the platform can reach said.
    """
    status = response.status_code
    if 200 <= status < 300:
        return Delivery(send_key, accepted=True)
    if 300 <= status < 400:
        return Delivery(send_key, accepted=False, reason="webhook_redirect",
                        detail=f"the endpoint answered HTTP {status}; redirects are not followed, save the final URL")
    detail = f"the endpoint answered HTTP {status}"
    if status in (408, 429) or status >= 500:
        return Delivery(send_key, accepted=False, permanent=False, reason=f"webhook_{status}", detail=detail,
                        retry_after_s=parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC)))
    return Delivery(send_key, accepted=False, reason=f"webhook_{status}", detail=detail)
