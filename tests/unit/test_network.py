"""Which addresses an outbound call may reach, and which URLs may name a webhook destination."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopline.domain.network import UnsafeUrl, blocked_reason, check_url, embedded_ipv4, parse_networks

BLOCKED_V4 = {
    "0.0.0.0/8": "reserved", "10.0.0.0/8": "private", "100.64.0.0/10": "carrier-grade NAT",
    "127.0.0.0/8": "loopback", "169.254.0.0/16": "link-local", "172.16.0.0/12": "private",
    "192.0.0.0/24": "reserved", "192.0.2.0/24": "documentation", "192.168.0.0/16": "private",
    "198.18.0.0/15": "reserved", "198.51.100.0/24": "documentation", "203.0.113.0/24": "documentation",
    "224.0.0.0/4": "multicast", "240.0.0.0/4": "reserved",
}
BLOCKED_V6 = {
    "::1/128": "loopback", "::/128": "unspecified", "fc00::/7": "private", "fe80::/10": "link-local",
    "ff00::/8": "multicast", "2001:db8::/32": "documentation", "2001::/32": "reserved",  # Teredo
    "64:ff9b:1::/48": "private", "100::/64": "reserved", "fec0::/10": "private",
}
PUBLIC_V4 = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
             "192.167.255.255", "169.253.255.255", "223.255.255.255"]
PUBLIC_V6 = ["2606:4700::6810:84e5", "2a00:1450:4001:82a::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
             "2002:808:808::1"]


def _inside(cidr: str) -> st.SearchStrategy[IPv4Address | IPv6Address]:
    network = ip_network(cidr)
    first = int(network.network_address)
    return st.integers(first, first + network.num_addresses - 1).map(
        lambda n: IPv4Address(n) if network.version == 4 else IPv6Address(n))


def _kind(ip: IPv4Address | IPv6Address) -> str:
    """The word the reason for a blocked address must hold."""
    if ip in (IPv4Address("0.0.0.0"), IPv6Address("::")):
        return "unspecified"
    if ip == IPv4Address("255.255.255.255"):
        return "broadcast"
    table = BLOCKED_V4 if ip.version == 4 else BLOCKED_V6
    return next(kind for cidr, kind in table.items() if ip in ip_network(cidr))


@pytest.mark.parametrize(("cidr", "kind"), [*BLOCKED_V4.items(), *BLOCKED_V6.items()])
def test_each_blocked_range_names_its_kind_at_both_ends(cidr: str, kind: str) -> None:
    network = ip_network(cidr)
    for ip in (network.network_address, network.broadcast_address):
        reason = blocked_reason(ip)
        assert reason is not None
        assert _kind(ip) in reason
        assert kind == _kind(ip) or ip in (IPv4Address("0.0.0.0"), IPv4Address("255.255.255.255"))
        assert str(ip) not in reason  # a reason never repeats the address
    assert blocked_reason(IPv4Address("255.255.255.255")) == "a broadcast address"
    assert blocked_reason(IPv4Address("169.254.169.254")) == "a link-local address"


@pytest.mark.parametrize("text", PUBLIC_V4 + PUBLIC_V6)
def test_public_addresses_pass(text: str) -> None:
    assert blocked_reason(ip_address(text)) is None


@given(st.sampled_from(sorted(BLOCKED_V4)).flatmap(_inside))
def test_every_address_of_a_blocked_ipv4_range_is_blocked_in_every_ipv6_disguise(ip: IPv4Address) -> None:
    kind = _kind(ip)
    n = int(ip)
    disguises = [
        IPv6Address((0xFFFF << 32) | n),  # IPv4-mapped ::ffff:a.b.c.d
        IPv6Address((0xFFFF << 48) | n),  # IPv4-translated ::ffff:0:a.b.c.d
        IPv6Address(n),  # IPv4-compatible ::a.b.c.d
        IPv6Address((0x0064FF9B << 96) | n),  # NAT64 64:ff9b::a.b.c.d
        IPv6Address((0x2002 << 112) | (n << 80) | 1),  # 6to4 2002:AABB:CCDD::1
    ]
    assert kind in (blocked_reason(ip) or "")
    for disguise in disguises:
        if disguise in (IPv6Address("::"), IPv6Address("::1")):
            continue  # the IPv6 unspecified and loopback addresses, blocked in their own right
        assert embedded_ipv4(disguise) == ip
        assert kind in (blocked_reason(disguise) or ""), disguise


@given(st.sampled_from(sorted(BLOCKED_V6)).flatmap(_inside))
def test_every_address_of_a_blocked_ipv6_range_is_blocked(ip: IPv6Address) -> None:
    assert blocked_reason(ip) is not None


@given(st.sampled_from(sorted(BLOCKED_V4)).flatmap(_inside))
def test_an_allowed_network_lets_its_addresses_through_in_any_form(ip: IPv4Address) -> None:
    allowed = parse_networks([f"{ip}/32"])
    assert blocked_reason(ip, allowed=allowed) is None
    assert blocked_reason(IPv6Address((0xFFFF << 32) | int(ip)), allowed=allowed) is None
    # …and nothing next to them.
    neighbour = IPv4Address(int(ip) ^ 1)
    if blocked_reason(neighbour) is not None:
        assert blocked_reason(neighbour, allowed=allowed) is not None


def test_parse_networks_reads_cidrs_and_single_addresses() -> None:
    assert [str(n) for n in parse_networks(["10.20.0.0/16", " 127.0.0.1 ", "fd00::/8", "10.1.2.3/8"])] == [
        "10.20.0.0/16", "127.0.0.1/32", "fd00::/8", "10.0.0.0/8"]
    with pytest.raises(ValueError, match="not a network"):
        parse_networks(["localhost"])


@given(st.integers(0, 2**32 - 1))
def test_a_host_written_as_one_number_is_refused(n: int) -> None:
    for host in (str(n), hex(n), f"0{n:o}"):
        with pytest.raises(UnsafeUrl, match="written as a number"):
            check_url(f"http://{host}/")


@pytest.mark.parametrize("host", ["0x7f.1", "127.1", "0177.0.0.1", "127.0.0.01", "0x7f.0x0.0x0.0x1", "1.2.3.4.5",
                                  "foo.123", "hooks.0x10"])
def test_numbers_that_resolvers_read_as_addresses_are_refused(host: str) -> None:
    with pytest.raises(UnsafeUrl, match="written as a number"):
        check_url(f"http://{host}/")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost:5432", "loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://LOCALHOST./", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ("http://[2002:c0a8:101::1]/", "private"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[not-v6]/", "IPv6"),
    ("http://[127.0.0.1]/", "IPv6"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://hooks.example.com/", "http:// or https://"),
    ("//hooks.example.com/", "http:// or https://"),
    ("https://user:pw@hooks.example.com/", "user name or password"),
    ("https://user@hooks.example.com/", "user name or password"),
    ("https://@hooks.example.com/", "user name or password"),
    ("https://hooks.example.com\\@127.0.0.1/", "backslash"),
    ("https://hooks.example.com /", "space"),
    ("https://hooks.example.com/\n", "control character"),
    ("https:///path", "no host"),
    ("https://hooks.example.com:0/", "port"),
    ("https://hooks.example.com:65536/", "port"),
    ("https://hooks.example.com:http/", "port"),
    ("https://hooks_-.example.com/", "not a valid domain name"),
    ("https://%31%32%37.0.0.1/", "not a valid domain name"),
    ("https://münchen.example/", "xn--"),
    ("https://hooks.example.com/" + "a" * 2_000, "longer than"),
])
def test_bad_urls_are_refused_with_a_reason(url: str, problem: str) -> None:
    with pytest.raises(UnsafeUrl, match=problem):
        check_url(url)


@pytest.mark.parametrize(("url", "host", "port", "ip"), [
    ("https://hooks.example.com/loopline?x=1", "hooks.example.com", 443, None),
    ("HTTP://Hooks.Example.COM:8080/in", "hooks.example.com", 8080, None),
    ("https://xn--mnchen-3ya.example/", "xn--mnchen-3ya.example", 443, None),
    ("http://93.184.216.34/", "93.184.216.34", 80, "93.184.216.34"),
    ("https://[2606:4700::6810:84e5]:8443/", "2606:4700::6810:84e5", 8443, "2606:4700::6810:84e5"),
    ("https://hooks.example.com./", "hooks.example.com", 443, None),
])
def test_good_urls_give_their_parts(url: str, host: str, port: int, ip: str | None) -> None:
    target = check_url(url)
    assert (target.host, target.port, target.ip) == (host, port, ip_address(ip) if ip else None)


def test_an_operator_allowed_network_admits_a_literal_address() -> None:
    with pytest.raises(UnsafeUrl):
        check_url("http://10.20.0.7:8080/hook")
    assert check_url("http://10.20.0.7:8080/hook", allowed=parse_networks(["10.20.0.0/16"])).port == 8080
