"""The phase timing of one HTTP check: what its connections saw, over all its hops.

The check sets `TRACE` around its request (`checker.probe.http_check`); aiohttp resolves,
connects and builds the protocol in the check's own task, so the transport's hooks
(`checker.probe.http_transport`) find the running check's trace there:

* the resolver: name resolution (`dns_s`), asked for the site's `ip_version` (`family`);
* the socket factory: a TCP connect starts (`connecting`);
* the protocol's construction: the TCP connection is up (`connected`), TLS starts;
* the protocol's `connection_made`: the TLS handshake is done (`handshake_done`);
* the protocol's first `data_received`: the first byte (`first_byte`);
* the parser's response heads: the status, and redirects (`answered`).

Every hop of a redirect chain opens its own connection, so phase times are summed over
hops, and redirects are counted from the heads. The trace also follows the chain's URLs as
aiohttp does (each redirect's Location joined to the URL that sent it), so that a failure
names the hop it happened at (`hop_url`, and `redirects`: which redirect led there), and
keeps the chain's cookies (`checker.probe.cookies`). (aiohttp's TraceConfig would also
do, at ~10 signal sends per request whether anyone listens or not.)
"""

from __future__ import annotations

import contextvars
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import aiohttp
from aiohttp import hdrs
from yarl import URL

from checker.probe.certificates import not_after

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


@dataclass(slots=True)
class Trace:
    """What the connection layer saw during one check, over all its hops."""

    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    first_byte: float | None = None  # perf_counter() of the last response's first byte
    status: int | None = None  # of the last (non-interim) response head parsed
    redirects: int = 0  # redirect responses received
    tls_version: str | None = None
    tls_expires_at: datetime | None = None
    connect_started: float | None = None  # of the hop being connected
    cookies: aiohttp.CookieJar | None = None  # the chain's, made at its first Set-Cookie
    family: int = 0  # the site's ip_version as an address family; 0: any
    # The URL of the hop being requested (the check's own, then each redirect's target;
    # None once a Location could not be read), and of the hop that redirected there.
    hop_url: URL | None = None
    hop_from: URL | None = None

    def answered(self, status: int, headers: Any) -> None:
        """A response head arrived (aiohttp follows a redirect status with a Location)."""
        self.status = status
        if status in REDIRECT_STATUSES:
            location = headers.get(hdrs.LOCATION) or headers.get(hdrs.URI)
            if location is not None:
                self.redirects += 1
                self._redirected(location)

    def _redirected(self, location: str) -> None:
        self.hop_from, self.hop_url = self.hop_url, None
        if self.hop_from is not None:
            try:
                self.hop_url = self.hop_from.join(URL(location))
            except (ValueError, TypeError):  # aiohttp fails the check on it too
                pass

    def resolved(self, seconds: float) -> None:
        self.dns_s = seconds if self.dns_s is None else self.dns_s + seconds

    def connecting(self) -> None:
        """A socket is about to connect (happy eyeballs may open several: the first counts)."""
        if self.connect_started is None:
            self.connect_started = time.perf_counter()

    def connected(self) -> float:
        """The TCP connection is up; returns the moment."""
        now = time.perf_counter()
        if self.connect_started is not None:
            seconds = now - self.connect_started
            self.connect_s = seconds if self.connect_s is None else self.connect_s + seconds
            self.connect_started = None
        return now

    def handshake_done(self, tcp_up: float, ssl_object: ssl.SSLObject | None) -> None:
        if ssl_object is None:
            return
        seconds = time.perf_counter() - tcp_up
        self.tls_s = seconds if self.tls_s is None else self.tls_s + seconds
        if self.tls_version is None:
            self.tls_version = ssl_object.version()
            self.tls_expires_at = not_after(ssl_object)


# The running check's trace, for the transport's hooks. Set around the request in
# `HttpCheck.check`; None outside a check.
TRACE: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "webmon_probe_trace", default=None
)
