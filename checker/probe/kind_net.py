"""What the tcp, tls and dns checks share: their phases, name resolution and TCP connects
under the target policy, and their error classes.

A restricted check (a URL from the API) resolves with getaddrinfo, drops the addresses
the target policy refuses, and connects only to the rest; the socket factory judges each
address once more before a socket exists, so no packet reaches a refused address. The
error classes are README's ("Error classes"); `KindFailure` carries one a check decided
itself (an NXDOMAIN answer is `dns`, a reset after the connect `protocol`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import aiohappyeyeballs
import dns.exception

from shared.netpolicy import TargetBlocked, TargetPolicy

# RFC 8305's connection attempt delay, as aiohttp uses it.
HAPPY_EYEBALLS_DELAY_S: Final = 0.25
_LOCAL_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


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


def blocked_detail(exc: TargetBlocked) -> str:
    return f"refused by the target policy: {exc}"


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


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def reason(exc: BaseException) -> str:
    """A short reason: OpenSSL's verify message, an errno's text, or the exception's."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and not isinstance(exc, socket.gaierror | TargetBlocked):
        if isinstance(exc.errno, int) and exc.errno > 0:
            return os.strerror(exc.errno)
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def classify(exc: BaseException, connected: bool) -> tuple[str, BaseException]:
    """The error class of a tcp, tls or dns check's exception, and the link that decided.

    `connected`: the TCP connection was up (a reset then is `protocol`, not `connect`).
    """
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, OSError) and link.errno in _LOCAL_ERRNOS:
            return "internal", link
    for link in reversed(chain):
        if isinstance(link, TargetBlocked):
            return "blocked", link
    for link in reversed(chain):
        if isinstance(link, TimeoutError | dns.exception.Timeout):
            return "timeout", link
        if isinstance(link, socket.gaierror):
            return "dns", link
        if isinstance(link, ssl.SSLError | ssl.CertificateError):
            return "tls", link
        if isinstance(link, dns.exception.DNSException):
            return "protocol", link  # a malformed or mismatched answer
        if isinstance(link, OSError):
            return ("protocol" if connected else "connect"), link
    return "internal", exc
