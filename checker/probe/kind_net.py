"""What the tcp, tls and dns checks share: their phases, and name resolution and TCP
connects under the target policy.

A restricted check (a URL from the API) resolves with getaddrinfo, drops the addresses
the target policy refuses, and connects only to the rest; the socket factory judges each
address once more before a socket exists, so no packet reaches a refused address. What
they raise is classified in `checker.probe.error_classes`; `KindFailure` carries a class
a check decided itself (an NXDOMAIN answer is `dns`, a reset mid-handshake `tls`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import aiohappyeyeballs

from shared.netpolicy import TargetBlocked, TargetPolicy

# RFC 8305's connection attempt delay, as aiohttp uses it.
HAPPY_EYEBALLS_DELAY_S: Final = 0.25


@dataclass(slots=True)
class Phases:
    """What one tcp, tls or dns check measured (perf_counter seconds)."""

    started: float
    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    first_byte: float | None = None
    regex_matched: bool | None = None
    tls_version: str | None = None
    tls_expires_at: datetime | None = None


class KindFailure(Exception):
    """A failure whose class and detail the check itself decided."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


async def resolve(
    host: str,
    port: int,
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
    phases: Phases | None,
) -> list[tuple[Any, ...]]:
    """getaddrinfo's TCP addresses of `host` (an IP literal is not looked up), less those
    `policy` refuses; `TargetBlocked` when it refuses them all."""
    try:
        infos = socket.getaddrinfo(
            host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        )
    except socket.gaierror:
        started = time.perf_counter()
        infos = await asyncio.get_running_loop().run_in_executor(
            executor,
            socket.getaddrinfo,
            host,
            port,
            0,
            socket.SOCK_STREAM,
            0,
            socket.AI_ADDRCONFIG,
        )
        if phases is not None:
            phases.dns_s = time.perf_counter() - started
    infos = [i for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)]
    if policy is not None and infos:
        permitted = [i for i in infos if policy.permits(str(i[4][0]))]
        if not permitted:
            raise TargetBlocked(str(infos[0][4][0]))
        infos = permitted
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return infos


async def connect(
    infos: list[tuple[Any, ...]], policy: TargetPolicy | None, phases: Phases
) -> socket.socket:
    """A connected non-blocking socket to the first of `infos` that answers (happy
    eyeballs between families); `connect_s` is from the first attempt to the connect."""
    started: list[float] = []

    def open_socket(info: Any) -> socket.socket:
        if policy is not None:
            policy.check(str(info[4][0]))
        if not started:
            started.append(time.perf_counter())
        return socket.socket(info[0], info[1], info[2])

    sock = await aiohappyeyeballs.start_connection(
        infos,
        happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S if len(infos) > 1 else None,
        socket_factory=open_socket,
    )
    phases.connect_s = time.perf_counter() - started[0]
    return sock
