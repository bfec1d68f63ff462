"""Which network addresses an outbound call may reach, and which URLs may name a destination.

A workspace chooses the URL its webhooks go to, so the platform must never be turned into a
client of its own network: loopback, private, link-local (where cloud metadata services
answer), carrier-grade NAT, multicast, reserved and documentation ranges are refused, as are
IPv6 forms that carry one of those IPv4 addresses inside (IPv4-mapped, IPv4-compatible,
6to4, NAT64). An operator may allow chosen networks explicitly, e.g. an on-premise target.

This module only judges addresses and URL text; resolving a host name and connecting to the
address that was judged is the adapter's job (``loopline.channels.webhook``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

MAX_URL_LENGTH = 2_000
DEFAULT_PORTS = {"http": 80, "https": 443}

# Checked in order; the first range holding the address names the reason.
_IPV4_BLOCKED: tuple[tuple[IPv4Network, str], ...] = tuple((IPv4Network(cidr), reason) for cidr, reason in (
    ("0.0.0.0/32", "the unspecified address"),  # reaches the local host on Linux
    ("0.0.0.0/8", "a reserved address"),  # "this network"
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),  # cloud metadata services answer at 169.254.169.254
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved address"),  # IETF protocol assignments
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved address"),  # the retired 6to4 relay anycast
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a reserved address"),  # benchmarking
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "a broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
))
_IPV6_BLOCKED: tuple[tuple[IPv6Network, str], ...] = tuple((IPv6Network(cidr), reason) for cidr, reason in (
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a private address"),  # NAT64 for local use (RFC 8215)
    ("100::/64", "a reserved address"),  # discard-only
    ("2001:db8::/32", "a documentation address"),
    ("2001::/23", "a reserved address"),  # IETF protocol assignments: Teredo, benchmarking, ORCHID
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a reserved address"),  # segment routing identifiers
    ("fc00::/7", "a private address"),  # unique local
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a private address"),  # the deprecated site-local range
    ("ff00::/8", "a multicast address"),
))
_IPV4_MAPPED = IPv6Network("::ffff:0:0/96")
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")

_HOST_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")
# What a URL parser or the C resolver reads as an IPv4 number: 2130706433, 0x7f, 0177, 127.1…
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class UnsafeUrl(ValueError):
    """A destination URL that is malformed or names an address the platform must not call."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: scheme, host as written (lower case), port, and the IP when the host is one."""

    scheme: str
    host: str
    port: int
    ip: IPAddress | None


def parse_networks(items: Iterable[str | Network]) -> tuple[Network, ...]:
    """Parse CIDRs an operator allows (``10.20.0.0/16``, ``127.0.0.1``, ``fd00::/8``); raise ValueError."""
    networks: list[Network] = []
    for item in items:
        if isinstance(item, IPv4Network | IPv6Network):
            networks.append(item)
            continue
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network; write it like 10.20.0.0/16 or fd00::/8") from None
    return tuple(networks)


def embedded_ipv4(ip: IPAddress) -> IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries (mapped, translated, compatible, 6to4, NAT64)."""
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _IPV4_TRANSLATED or ip in _IPV4_COMPATIBLE or ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def blocked_reason(ip: IPAddress, *, allowed: Sequence[Network] = ()) -> str | None:
    """Say why an outbound call must not reach this address (e.g. "a loopback address"), or None.

    The reason never contains the address itself, so it can be shown to whoever chose the URL.
    An address inside an allowed network (directly, or the IPv4 address it carries) passes.
    """
    inner = embedded_ipv4(ip)
    forms: list[IPAddress] = [ip] if inner is None else [ip, inner]
    if any(form.version == network.version and form in network for form in forms for network in allowed):
        return None
    for form in forms:
        reason = _reason(form)
        if reason is not None:
            return reason
    return None


def _reason(ip: IPAddress) -> str | None:
    table: Iterable[tuple[Network, str]] = _IPV4_BLOCKED if isinstance(ip, IPv4Address) else _IPV6_BLOCKED
    for network, reason in table:
        if ip in network:
            return reason
    if embedded_ipv4(ip) is not None:
        return None  # judged by the IPv4 address it carries, which the caller checks next
    # Whatever else the standard library knows to be special (its registry grows with Python releases).
    if not ip.is_global or ip.is_multicast:
        return "a non-public address"
    return None


def check_url(url: str, *, allowed: Sequence[Network] = ()) -> Target:
    """Check a destination URL's shape, and its host right away when it is an IP; raise UnsafeUrl.

    Only ``http`` and ``https``; no credentials in the URL; a host name of DNS labels or an IP
    (an IPv6 one in brackets); a port from 1 to 65535. Hosts a parser could read as a number
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``) are refused, because resolvers turn
    them into addresses that a dotted-quad check never saw. A host name still has to be resolved
    and every address it resolves to checked, at save time and again at each call.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        # Parsers disagree about blanks, control characters and backslashes; refusing them removes the doubt.
        raise UnsafeUrl("the URL contains a space, a control character or a backslash")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeUrl("the URL cannot be parsed (is a bracketed IPv6 address well formed?)") from None
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrl("the port must be a number from 1 to 65535") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl("the URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise UnsafeUrl("the URL must not carry a user name or password; requests are signed instead")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL has no host")
    if port == 0:
        raise UnsafeUrl("the port must be a number from 1 to 65535")
    port = port or DEFAULT_PORTS[scheme]
    ip = _literal_ip(host, bracketed="[" in parts.netloc)
    if ip is not None:
        reason = blocked_reason(ip, allowed=allowed)
        if reason is not None:
            raise UnsafeUrl(f"the host is {reason}, which webhooks may not call")
        return Target(scheme, host, port, ip)
    _check_host_name(host)
    return Target(scheme, host, port, None)


def _check_host_name(host: str) -> None:
    if not host.isascii():
        raise UnsafeUrl("write an international domain name in its ASCII (xn--) form")
    if len(host) > 253 or not _HOST_NAME.match(host):
        raise UnsafeUrl("the host is not a valid domain name")
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        raise UnsafeUrl("the host is written as a number; write an IP address as four decimal parts (or a name)")
    if host == "localhost" or host.endswith(".localhost"):
        # Resolvers answer these names themselves (RFC 6761), whatever DNS says.
        raise UnsafeUrl("the host is a loopback address, which webhooks may not call")


def _literal_ip(host: str, *, bracketed: bool) -> IPAddress | None:
    """Return the IP a host is, when it is one: four decimal parts, or IPv6 inside brackets."""
    if bracketed:
        try:
            return IPv6Address(host)
        except ValueError:
            raise UnsafeUrl("the host in brackets is not an IPv6 address") from None
    try:
        # The standard parser takes only four plain decimal parts, without leading zeros.
        return ip_address(host)
    except ValueError:
        return None
