"""The target policy: which addresses webmon may connect to on behalf of an untrusted user.

A URL that arrives through the HTTP API (an on-demand check, a site, a webhook) must not
reach the operator's internal network. The policy is decided per address, at connect
time, so that a redirect or a name that resolves to an internal address is refused just
like a literal one (healthchecks.io refuses private addresses in its socket-open hook; the
same idea here, in aiohttp's resolver and socket factory).

An address is refused when it lies in a blocked network and in no allowed one. Addresses
that carry an IPv4 address inside an IPv6 one (IPv4-mapped `::ffff:a.b.c.d`, SIIT's
IPv4-translated `::ffff:0:a.b.c.d`, the deprecated IPv4-compatible `::a.b.c.d`, 6to4
`2002:…`, NAT64 `64:ff9b::/96`) are judged by the IPv4 address too, so `::ffff:127.0.0.1`
is loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every range that is not globally reachable (IANA's IPv4 and IPv6 special-purpose
# registries), plus multicast: "this network", private (RFC 1918), shared address space
# (CGNAT), loopback, link-local (cloud metadata at 169.254.169.254), the IETF and
# documentation ranges, benchmarking, multicast, reserved and broadcast; for IPv6
# unspecified, loopback, discard, ULA, link-local, site-local, multicast, NAT64's
# local-use prefix, the IETF protocol assignments, documentation (both prefixes) and SRv6
# SIDs.
DEFAULT_BLOCKED_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class TargetBlocked(OSError):
    """A connection to an address the target policy refuses. An OSError, so that HTTP
    clients treat it as a failed connect; `checker.probe` classifies it as `blocked`."""

    def __init__(self, address: str) -> None:
        super().__init__(f"{address} is in a blocked network (WEBMON_BLOCKED_NETWORKS)")
        self.address = address


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) to networks; ValueError names the one that is not."""
    networks = []
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"not a network: {text!r}") from None
    return tuple(networks)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if (
        address in _NAT64
        or address in _IPV4_TRANSLATED
        or (address in _IPV4_COMPATIBLE and int(address) > 1)
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class TargetPolicy:
    blocked: tuple[IPNetwork, ...]
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def default(cls) -> TargetPolicy:
        return cls(parse_networks(DEFAULT_BLOCKED_NETWORKS))

    @classmethod
    def from_settings(cls, blocked: Iterable[str], allowed: Iterable[str]) -> TargetPolicy:
        return cls(parse_networks(blocked), parse_networks(allowed))

    def permits(self, address: str | IPAddress) -> bool:
        """Whether a connection to `address` (an IP literal, with an optional `%zone`) may
        be made. Anything that is not an IP address is refused."""
        try:
            ip = (
                address
                if not isinstance(address, str)
                else ipaddress.ip_address(address.split("%", 1)[0])
            )
        except ValueError:
            return False
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                candidates.append(inner)
        return all(self._permits_one(candidate) for candidate in candidates)

    def _permits_one(self, ip: IPAddress) -> bool:
        if any(ip in network for network in self.allowed if network.version == ip.version):
            return True
        return not any(ip in network for network in self.blocked if network.version == ip.version)

    def check(self, address: str) -> None:
        """Raise `TargetBlocked` unless the policy permits `address`."""
        if not self.permits(address):
            raise TargetBlocked(address)

    def literal_refused(self, host: str) -> bool:
        """Whether `host` (a URL's host) is an IP literal the policy refuses: such a URL is
        refused when it is submitted, before any check. A name is judged at connect time."""
        try:
            ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return False
        return not self.permits(ip)
