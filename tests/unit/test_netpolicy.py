"""`shared.netpolicy.TargetPolicy`: decisions only, no traffic."""

from __future__ import annotations

import ipaddress

import pytest

from shared.netpolicy import (
    DEFAULT_BLOCKED_NETWORKS,
    TargetBlocked,
    TargetPolicy,
    embedded_ipv4,
    parse_networks,
)

DEFAULT = TargetPolicy.default()


@pytest.mark.parametrize(
    "address",
    [
        # loopback, "this network", unspecified
        "127.0.0.1", "127.0.0.2", "127.255.255.254", "0.0.0.0", "0.1.2.3", "::1", "::",
        # RFC 1918, shared address space (CGNAT)
        "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1",
        "192.168.255.255", "100.64.0.1", "100.127.255.254",
        # link-local, cloud metadata
        "169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%2", "febf::1",
        # IETF, documentation, benchmarking, 6to4 relay, reserved, broadcast
        "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.7", "198.18.0.1", "192.88.99.1",
        "240.0.0.1", "255.255.255.255", "2001:db8::1", "3fff::1", "2001::1", "100::1",
        # multicast
        "224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3",
        # unique local, site-local, SRv6 SIDs, NAT64 local use
        "fc00::1", "fd12:3456::1", "fec0::1", "5f00::1", "64:ff9b:1::a00:1",
    ],
)  # fmt: skip
def test_defaults_refuse(address: str) -> None:
    assert not DEFAULT.permits(address)
    assert not DEFAULT.permits(ipaddress.ip_address(address.split("%")[0]))
    with pytest.raises(TargetBlocked) as caught:
        DEFAULT.check(address)
    assert caught.value.address == address
    assert str(caught.value) == f"{address} is in a blocked network (WEBMON_BLOCKED_NETWORKS)"


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:7f00:2", "127.0.0.2"),  # the same, in hex
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::ffff:0:7f00:1", "127.0.0.1"),  # IPv4-translated (SIIT)
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible (deprecated)
        ("::192.168.1.1", "192.168.1.1"),
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64 well-known prefix
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b::c0a8:101", "192.168.1.1"),
        ("2002:7f00:1::1", "127.0.0.1"),  # 6to4
        ("2002:a9fe:a9fe::1", "169.254.169.254"),
        ("2002:ac10:1::", "172.16.0.1"),
    ],
)
def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_address(address: str, inner: str) -> None:
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == ipaddress.IPv4Address(inner)
    assert not DEFAULT.permits(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34", "1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "169.255.0.1",
        "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822", "2002:5db8:d822::1",
    ],
)  # fmt: skip
def test_defaults_permit_public_addresses(address: str) -> None:
    assert DEFAULT.permits(address)
    DEFAULT.check(address)  # no exception


def test_anything_but_an_ip_address_is_refused() -> None:
    for value in ("example.com", "", "127.1", "0x7f.0.0.1", "2130706433", "[::1]", "1.2.3.4/32"):
        assert not DEFAULT.permits(value), value


def test_allowed_networks_carve_exceptions() -> None:
    policy = TargetPolicy.from_settings(DEFAULT_BLOCKED_NETWORKS, ["127.0.0.1/32", "10.1.0.0/16"])
    assert policy.permits("127.0.0.1")
    assert policy.permits("::ffff:127.0.0.1")  # the mapped form of an allowed address too
    assert policy.permits("10.1.2.3")
    assert not policy.permits("127.0.0.2")
    assert not policy.permits("::ffff:127.0.0.2")
    assert not policy.permits("10.2.0.1")
    assert not policy.permits("::1")  # an IPv4 exception says nothing about IPv6
    assert policy.permits("93.184.216.34")


def test_an_allowed_ipv6_network() -> None:
    policy = TargetPolicy.from_settings(DEFAULT_BLOCKED_NETWORKS, ["fd00:1::/64"])
    assert policy.permits("fd00:1::5")
    assert not policy.permits("fd00:2::5")


def test_settings_replace_the_blocked_networks() -> None:
    policy = TargetPolicy.from_settings(["10.0.0.0/8"], [])
    assert not policy.permits("10.0.0.1")
    assert not policy.permits("::ffff:10.0.0.1")
    assert policy.permits("127.0.0.1")  # no longer blocked
    assert TargetPolicy.from_settings([], []).permits("169.254.169.254")


def test_default_is_the_documented_list() -> None:
    assert DEFAULT == TargetPolicy.from_settings(DEFAULT_BLOCKED_NETWORKS, [])
    assert DEFAULT.allowed == ()


def test_parse_networks() -> None:
    assert parse_networks([" 10.0.0.0/8 ", "", "192.168.1.7", "fe80::/10", "10.1.2.3/8"]) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("fe80::/10"),
        ipaddress.ip_network("10.0.0.0/8"),  # host bits are dropped, not refused
    )


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.com", "10.0.0", "fe80::/129", "*"])
def test_parse_networks_names_the_bad_entry(bad: str) -> None:
    with pytest.raises(ValueError, match="not a network: ") as caught:
        parse_networks(["10.0.0.0/8", bad])
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("127.0.0.2", True),
        ("127.0.0.1", True),
        ("169.254.169.254", True),
        ("[::1]", True),
        ("::1", True),
        ("[::ffff:127.0.0.2]", True),
        ("[fe80::1%25eth0]", True),
        ("93.184.216.34", False),
        ("[2606:4700::1111]", False),
        ("example.com", False),  # a name is judged at connect time, by its addresses
        ("localhost", False),
        ("internal.test", False),
    ],
)
def test_literal_refused(host: str, refused: bool) -> None:
    assert DEFAULT.literal_refused(host) is refused


def test_target_blocked_is_an_os_error() -> None:
    # So that HTTP clients treat it as a failed connect (aiohttp wraps OSErrors).
    assert issubclass(TargetBlocked, OSError)
    assert TargetBlocked("10.0.0.1").errno is None
