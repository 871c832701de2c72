"""Outgoing connections under the target policy, for processes other than the probe.

The same rule as the probe's (`shared.netpolicy`, guarded at connect time, the
healthchecks.io way): the resolver drops the addresses the policy refuses, and the socket
factory refuses the rest before a socket exists, so an IP-literal URL (which aiohttp does
not resolve), a name that resolves to an internal address and every redirect are judged by
the address actually connected to. Pooled connections are reused: each was judged when it
was opened. `guarded_socket` does the same for a plain TCP client (SMTP).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.netpolicy import TargetBlocked, TargetPolicy

AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]


def resolve_results(host: str, infos: list[AddrInfo]) -> list[ResolveResult]:
    """getaddrinfo's answers for `host` as aiohttp's ResolveResults: IPv4 and IPv6 only,
    an IPv6 address with its zone (`fe80::1%2`) when it has one."""
    flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
    results: list[ResolveResult] = []
    for fam, _, proto, _, address in infos:
        if fam == socket.AF_INET6:
            if len(address) < 4:
                continue  # a Python built without IPv6
            ip = str(address[0]) if not address[3] else f"{address[0]}%{address[3]}"
        elif fam == socket.AF_INET:
            ip = str(address[0])
        else:
            continue
        results.append(
            ResolveResult(
                hostname=host, host=ip, port=int(address[1]), family=fam, proto=proto,
                flags=flags,
            )
        )  # fmt: skip
    return results


class PolicyResolver(AbstractResolver):
    """getaddrinfo in a thread, then only the addresses the policy permits."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM
        )
        results: list[ResolveResult] = []
        refused: str | None = None
        for result in resolve_results(host, infos):
            if self._policy.permits(result["host"]):
                results.append(result)
            else:
                refused = refused or result["host"]
        if not results and refused is not None:
            raise TargetBlocked(refused)
        return results

    async def close(self) -> None:
        pass


def _socket_factory(policy: TargetPolicy) -> Any:
    def open_socket(addr_info: Any) -> socket.socket:
        family, type_, proto, _, address = addr_info
        policy.check(str(address[0]))
        return socket.socket(family=family, type=type_, proto=proto)

    return open_socket


def policy_connector(policy: TargetPolicy, **kwargs: Any) -> aiohttp.TCPConnector:
    """A TCP connector that connects only where `policy` permits."""
    return aiohttp.TCPConnector(
        resolver=PolicyResolver(policy), socket_factory=_socket_factory(policy), **kwargs
    )


def guarded_socket(
    host: str, port: int, timeout: float | None, policy: TargetPolicy
) -> socket.socket:
    """`socket.create_connection` to a permitted address of `host`; TargetBlocked when
    every address is refused (then no connection was attempted)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    permitted = [i for i in infos if policy.permits(str(i[4][0]))]
    if not permitted:
        raise TargetBlocked(str(infos[0][4][0]) if infos else host)
    error: OSError | None = None
    for family, type_, proto, _, address in permitted:
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    assert error is not None
    raise error
