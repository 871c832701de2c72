"""One HTTP check of one site: `Prober.check(task) -> CheckResult`.

Engine: aiohttp, not httpx. `bench/http_engines.py`, one run on the 2-core dev machine
(fresh connection per request, concurrency 256, 2 KB page, best of 2 rounds, checks/s):

    engine                     plain   TLS      (uvloop: plain   TLS)
    httpx 0.28, keepalive 0      493   299                678   311
    aiohttp, force_close        2177   629               2431   551
    Prober.check (aiohttp)      2139   522               2271   510

httpx cannot reach 1,000/s plain or 500/s TLS; aiohttp reaches both, with little to
spare over TLS: a client-side TLS handshake costs ~0.7-0.9 ms of CPU in OpenSSL 3.0
alone, and rounds of the same run differed by up to 35 %. Only this module knows the
engine: the rest of the checker sees `Prober` and the `CheckTask`/`CheckResult` models.

What a result means (the public contract, see docs/design.md):

* `checked_at`: wall-clock UTC when the request started.
* `response_time_ms`: monotonic time from the start of the request (DNS, connect, TLS,
  redirects included) to the end of the body, or to the moment `max_body_bytes` had been
  read. A GET always reads the body, with or without a regex, so the figure means the
  same for every site; a HEAD has none, and its figure ends with the headers. Null when
  no complete response arrived (any `error` but `invalid_regex`, which is decided before
  any request and also leaves it null).
* `status_code`: the final status after redirects, whenever response headers arrived,
  even if the body then timed out or broke (`error` says so).
* `regex_matched`: null when the site has no regex or no body was read (HEAD).
* `error`: null when a response arrived, even a 500. Otherwise one class from `_ERRORS`.
* `up`: a response arrived within the deadline, its final status is in the task's
  `expected_status` (default 200-399) and the regex, if any, matched.
* `dns_ms`, `connect_ms`, `tls_ms`: how long name resolution, the TCP connect and the TLS
  handshake took, summed over redirect hops; null when the phase did not happen (an IP
  address needs no DNS, http no TLS) or never completed (a refused connect, a failed
  handshake, the deadline).
* `ttfb_ms`: from the start of the check to the first byte of the last response received
  (the final one, after redirects); null when no byte arrived.
* `redirects`: redirect responses received (a 301/302/303/307/308 with a Location), at
  most the check's `max_redirects` (the one beyond the limit is not followed and not
  counted); a redirect to a URL that cannot be followed (`ftp://`) counts. Null when no
  HTTP response arrived at all.
* `tls_version`, `tls_expires_at`: protocol version and certificate `notAfter` of the
  check's first TLS connection (the site's own server for an https URL); null without one.

One check is one attempt: aiohttp's retry of an idempotent request after a disconnect
(meant for a reused keep-alive connection, made even on a fresh one) is off, so a server
that closes without a byte is one connection and one `protocol` result. Cookies a
response sets go back on the next hops of the same chain, never to another check
(`checker.probe.cookies`). A response head (status line and header lines) may have
`max_header_field_bytes` per line, `_MAX_HEADERS` lines and `max_header_bytes` in all;
aiohttp's parser bounds the first two, `_TimedHandler` the total. It also feeds a head to
the parser apart from the bytes after it, so a body that breaks in the same read as the
head still leaves the status behind.

How the phases are seen: aiohttp's connector calls our resolver (DNS), our socket factory
(the TCP connect starts), and builds our protocol once the TCP connection is up (connect
ends, TLS starts); the protocol's `connection_made` comes after the handshake, its first
`data_received` is the first byte. The check's `_Trace` reaches them through a context
variable set around the request (aiohttp runs all of it in the check's task). Every hop
of a redirect chain opens its own connection (`force_close`); redirects are counted from
the response heads the protocol parses. (aiohttp's TraceConfig would also do, at ~10
signal sends per request whether anyone listens or not.)

The target policy (`shared.netpolicy`, an SSRF guard) applies to restricted tasks only (a
URL an untrusted API user submitted): a second context variable carries the check's
policy, the resolver drops the addresses it refuses and the socket factory refuses the
rest before a socket exists, so an IP-literal URL, a name that resolves to an internal
address and every redirect hop are judged by the address actually connected to. (The idea
of guarding the socket open comes from healthchecks.io.) This depends on `force_close`: a
pooled connection would be reused without a new socket. Unrestricted checks pay one
context-variable read per hook.

A site's HTTP options (body, auth, proxy, TLS files and settings, ip_version, require_tls,
header and keyword-absent checks; `checker.probe.options`) are looked at only when the task
carries one: a plain task skips them with one set test. `ip_version` rides on the trace:
the resolver asks getaddrinfo for that family only, and the socket factory refuses an
IP literal of the other, for every connection of the check (a proxy's too).

The deadline `task.timeout_s` covers DNS, connect, TLS, every redirect hop, headers and
body together. The regex search runs after it (RE2, linear time, on at most
`max_body_bytes`) and, for large bodies, in a worker thread so that a hostile pattern
costs CPU but does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import errno
import functools
import logging
import os
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, cast

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp import hdrs
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError
from aiohttp.http_parser import RawResponseMessage
from aiohttp.streams import StreamReader
from cryptography import x509
from yarl import URL

from checker.probe.cookies import ChainCookies
from checker.probe.kind_urls import HTTP, kind_of
from checker.probe.kinds import KindProber, system_resolvers
from checker.probe.options import (
    OptionError,
    Prepared,
    TlsContexts,
    header_problem,
    prepare,
    restricted_problem,
)
from checker.probe.regex import RegexError, compile_regex, search_body
from shared.messages import DEFAULT_EXPECTED_STATUS, CheckResult, CheckTask
from shared.netpolicy import TargetBlocked, TargetPolicy
from shared.policy_http import resolve_results
from shared.sealing import SecretBox
from shared.version import version

logger = logging.getLogger(__name__)


DEFAULT_USER_AGENT: Final = f"webmon/{version()} (+https://github.com/webmon)"

# Bodies larger than this are decoded and searched in a worker thread (RE2 releases the
# GIL); smaller ones inline, where a thread hop would cost more than the search.
_INLINE_SEARCH_BYTES: Final = 32 * 1024
# getaddrinfo() blocks, so it runs in threads. The loop's default executor has
# min(32, cpus + 4) threads, which caps a check rate at threads / DNS latency (6 threads
# and 20 ms lookups: 300 checks/s). The probe has its own, larger pool.
_DNS_THREADS: Final = 64
_DETAIL_MAX: Final = 200
# Response heads: aiohttp's defaults (8 KiB a line) reject real sites with long CSP or
# cookie headers; browsers take ~256 KiB in all. The count bounds a head of many short
# lines, whose parsed form costs far more memory than its bytes.
DEFAULT_MAX_HEADER_FIELD_BYTES: Final = 64 * 1024
DEFAULT_MAX_HEADER_BYTES: Final = 256 * 1024
_MAX_HEADERS: Final = 256
DEFAULT_MAX_REDIRECTS: Final = 10
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Local resource exhaustion (file descriptors, kernel memory) anywhere in an exception's
# chain is this process's trouble, not the site's: `internal`, not `connect`. (Not
# EADDRNOTAVAIL: a site's unroutable address raises it too, not only port exhaustion.)
_LOCAL_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

# Engine exception -> error class, first match wins. Each row is tried against the
# exception and everything in its __cause__/__context__ chain, so a root cause (a
# socket.gaierror or an ssl.SSLError wrapped in aiohttp's connector errors) decides
# before the generic wrapper does.
_ERRORS: Final[tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...]] = (
    # The target policy refused the address: first, because aiohttp wraps the refusal in
    # ClientConnectorDNSError (from the resolver) or ClientConnectorError (from the socket
    # factory), which would read as `dns` or `connect`.
    (TargetBlocked, "blocked"),
    (TimeoutError, "timeout"),  # our deadline (asyncio.timeout), or the kernel's connect
    ((socket.gaierror, aiohttp.ClientConnectorDNSError), "dns"),
    ((ssl.SSLError, ssl.CertificateError, aiohttp.ClientSSLError), "tls"),
    (aiohttp.TooManyRedirects, "too_many_redirects"),  # more hops than allowed, or a loop
    (aiohttp.RedirectClientError, "protocol"),  # a Location that is not an http(s) URL
    ((aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError), "invalid_url"),
    (aiohttp.ClientConnectorError, "connect"),  # refused, unreachable, reset on connect
    (
        (
            aiohttp.ClientPayloadError,  # closed mid-body, bad chunking, bad gzip
            aiohttp.ClientResponseError,  # garbage instead of a status line or headers
            aiohttp.ClientConnectionError,  # server disconnected, reset after connect
            HttpProcessingError,
            ConnectionError,
        ),
        "protocol",
    ),
)


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def classify(exc: BaseException) -> tuple[str, BaseException]:
    """The error class of an exception from a check, and the link of its chain that decided.

    The one place where engine exceptions become `CheckResult.error` classes; anything not
    in `_ERRORS` is `internal`.
    """
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, OSError) and link.errno in _LOCAL_ERRNOS:
            return "internal", link
    for types, error in _ERRORS:
        for link in reversed(chain):  # the root cause first: it has the useful details
            if isinstance(link, types):
                return error, link
    return "internal", exc


def _reason(exc: BaseException) -> str:
    """A short reason from one exception, without aiohttp's long reprs where avoidable."""
    if isinstance(exc, aiohttp.ClientConnectorError):  # before ssl: it subclasses SSLError
        return _reason(exc.os_error)
    verify_message = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLCertVerificationError) and verify_message:
        return f"certificate verify failed: {verify_message}"
    ssl_reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) and ssl_reason:
        return str(ssl_reason).replace("_", " ").lower()
    if isinstance(exc, OSError):
        if not isinstance(exc, socket.gaierror) and isinstance(exc.errno, int) and exc.errno > 0:
            return os.strerror(exc.errno)  # asyncio's own text repeats the address
        if exc.strerror:
            return str(exc.strerror)
    message = getattr(exc, "message", None)
    if isinstance(exc, (aiohttp.ClientResponseError, HttpProcessingError)) and message:
        return str(message)
    text = str(exc)
    return text if text else type(exc).__name__


def _scrub(text: str, url: URL | None) -> str:
    """`text` cut to `_DETAIL_MAX`, without the URL's user name or password."""
    if url is not None:
        for secret in (url.raw_password, url.password, url.raw_user, url.user):
            if secret:
                text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def _detail(
    error: str,
    link: BaseException,
    task: CheckTask,
    url: URL,
    status: int | None,
    max_redirects: int,
) -> str:
    where = f"{url.host}:{url.port}" if url.host else "the site"
    if error == "blocked":
        return f"refused by the target policy: {_reason(link)}"
    if error == "timeout":
        if status is not None:
            return f"no complete body within {task.timeout_s:g} s (status {status} arrived)"
        return f"no response within {task.timeout_s:g} s"
    if error == "dns":
        return f"cannot resolve {url.host}: {_reason(link)}"
    if error == "connect":
        return f"cannot connect to {where}: {_reason(link)}"
    if error == "tls":
        return f"TLS failure with {where}: {_reason(link)}"
    if error == "too_many_redirects":
        return f"more than {max_redirects} redirects, or a redirect loop"
    if error == "invalid_url":
        return f"invalid URL: {_reason(link)}"
    if error == "protocol" and isinstance(link, aiohttp.RedirectClientError):
        return f"redirect from {where} to a URL that is not http(s): {_reason(link)}"
    if error == "protocol":
        return f"invalid or incomplete response from {where}: {_reason(link)}"
    return f"internal error: {type(link).__name__}: {_reason(link)}"


def _option_failure(
    task: CheckTask, options: Prepared, final_url: URL, headers: Any
) -> tuple[str | None, str | None]:
    """The error class and detail of a response that fails the site's option checks."""
    if task.require_tls and final_url.scheme != "https":
        where = "the URL" if final_url == URL(task.url) else "the final URL, after redirects,"
        return (
            "tls_required",
            f"{where} is not https (require_tls): {final_url.scheme}://{final_url.host}",
        )
    if options.header_regex is not None:
        problem = header_problem(task, options.header_regex, headers)
        if problem is not None:
            return "header_check", _scrub(problem, None)
    return None, None


def _url_problem(raw: str) -> tuple[URL | None, str | None]:
    """The parsed URL, or why it is not a URL this probe can check."""
    try:
        url = URL(raw)
        if url.scheme not in ("http", "https"):
            return url, "scheme must be http or https"
        host = url.raw_host  # yarl has already IDNA-encoded a non-ASCII name
        if not host:
            return url, "no host"
        host.encode("idna")  # what getaddrinfo() will do: rejects empty or long labels
        url.host  # noqa: B018 - decodes punycode; raises on a bad "xn--" label
        url.port  # noqa: B018 - raises ValueError on a port out of range
    except (ValueError, TypeError, UnicodeError) as exc:
        return None, str(exc) or type(exc).__name__
    return url, None


@dataclass(slots=True)
class _Trace:
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

    def answered(self, status: int, headers: Any) -> None:
        """A response head arrived (aiohttp follows a redirect status with a Location)."""
        self.status = status
        if status in _REDIRECT_STATUSES and (hdrs.LOCATION in headers or hdrs.URI in headers):
            self.redirects += 1

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
            self.tls_expires_at = _not_after(ssl_object)


_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _not_after(ssl_object: ssl.SSLObject) -> datetime | None:
    """The peer certificate's expiry.

    Python decodes only a verified peer's certificate; an unverified one (a site with
    `tls_verify` off) is parsed from its DER form, as blackbox_exporter still reports the
    expiry with `insecure_skip_verify`.
    """
    try:
        decoded = ssl_object.getpeercert()
        if not decoded:
            der = ssl_object.getpeercert(binary_form=True)
            if not der:
                return None
            return x509.load_der_x509_certificate(der).not_valid_after_utc
        not_after = decoded.get("notAfter")
    except (ValueError, OSError):
        return None
    return cert_time(not_after) if isinstance(not_after, str) else None


def cert_time(text: str) -> datetime | None:
    """A certificate time as `getpeercert()` gives it ("Jan  2 03:04:05 2027 GMT"), or None.

    `ssl.cert_time_to_seconds()` parses it with strptime, at 35 us twice the cost of
    `getpeercert()` itself.
    """
    try:
        month, day, clock, year, zone = text.split()
        hour, minute, second = clock.split(":")
        if zone != "GMT":
            return None
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except (ValueError, KeyError, OverflowError):
        return None


# The running check's trace, for the connection layer's hooks below. Set around the request
# in `Prober._check`; aiohttp resolves, connects and builds the protocol in that task.
_TRACE: contextvars.ContextVar[_Trace | None] = contextvars.ContextVar(
    "webmon_probe_trace", default=None
)


@dataclass(slots=True)
class _Guard:
    """The target policy of one restricted check, and the first address it refused.

    The refusal is kept because aiohappyeyeballs replaces the exceptions of several
    failed addresses with one plain OSError ("Multiple exceptions: ..."), which would
    lose the `TargetBlocked` from the chain; `Prober._check` consults it then.
    """

    policy: TargetPolicy
    refused: TargetBlocked | None = None

    def refuse(self, address: str) -> TargetBlocked:
        blocked = TargetBlocked(address)
        if self.refused is None:
            self.refused = blocked
        return blocked


# The running restricted check's guard; None (not set) for an unrestricted check. Set
# around the request in `Prober._check`, like `_TRACE`.
_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "webmon_probe_guard", default=None
)


def _open_socket(addr_info: AddrInfoType) -> socket.socket:
    """The connector's socket factory: called just before a TCP connect starts.

    For a restricted check, the last word on the address: it sees every connect,
    including those to an IP-literal URL or redirect target, which aiohttp does not
    resolve. A refusal raises before any socket exists, so no packet is sent.
    """
    trace = _TRACE.get()
    guard = _GUARD.get()
    if guard is not None:
        ip = str(addr_info[4][0])
        if not guard.policy.permits(ip):
            raise guard.refuse(ip)
    family, type_, proto, _, _ = addr_info
    if trace is not None:
        if trace.family and family != trace.family:  # an IP-literal URL of the other family
            version = 4 if trace.family == socket.AF_INET else 6
            raise OSError(f"not an IPv{version} address (the site's ip_version)")
        trace.connecting()
    return socket.socket(family=family, type=type_, proto=proto)


_HEAD_END: Final = b"\r\n\r\n"
_REFUSED: Final = -1  # `_TimedHandler._head_left` once the head was too large


def _head_end(tail: bytes, data: bytes) -> int:
    """Where in `data` the head ends (just past its blank line), or -1.

    `tail`: the last bytes of the head before `data`, where the blank line may begin.
    """
    if tail:
        at = (tail + data[:3]).find(_HEAD_END)
        if at >= 0:
            return at + 4 - len(tail)
    at = data.find(_HEAD_END)
    return at + 4 if at >= 0 else -1


class _TimedHandler(ResponseHandler):
    """aiohttp's client protocol, noting the TCP connect, TLS handshake, first byte and
    response heads, and holding a head to `head_limit` bytes.

    The event loop builds it once the socket is connected and calls `connection_made`
    after the TLS handshake (at once for plain http). Until the final head has been
    parsed, received bytes are split at the head's blank line: the parser gets the head
    alone, so it hands over the head (`feed_data`) even if what follows is broken
    (aiohttp's C parser drops a head parsed in the same call that then fails).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, head_limit: int) -> None:
        super().__init__(loop)
        self._trace = _TRACE.get()
        self._heads = self._trace  # the check's trace, for the heads (`_trace` goes at byte 1)
        self._tcp_up = self._trace.connected() if self._trace is not None else 0.0
        self._head_limit = head_limit
        self._head_left: int | None = head_limit  # None once the final head was parsed
        self._head_tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._trace is not None:
            self._trace.handshake_done(self._tcp_up, transport.get_extra_info("ssl_object"))

    def data_received(self, data: bytes) -> None:
        if data and self._trace is not None:
            self._trace.first_byte = time.perf_counter()
            self._trace = None  # once per connection
        if self._head_left is None:
            super().data_received(data)
            if self._exception is not None:
                self._body_broke(self._exception)
        elif data and self._head_left != _REFUSED:
            self._head_received(data)

    def _body_broke(self, exc: BaseException) -> None:
        """The parser failed in the body: the body's reader fails too.

        aiohttp's C parser leaves the reader waiting (until the deadline) when the broken
        bytes come in a later read than the head; its Python parser fails the reader.
        """
        payload = self._payload
        if payload is not None and payload.exception() is None and not payload.is_eof():
            reason = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
            payload.set_exception(aiohttp.ClientPayloadError(f"malformed body: {reason}"), exc)

    def _head_received(self, data: bytes) -> None:
        left = cast("int", self._head_left)
        end = _head_end(self._head_tail, data)
        if end < 0:
            if len(data) > left:
                self._head_too_large()
                return
            self._head_left = left - len(data)
            self._head_tail = data[-3:] if len(data) >= 3 else (self._head_tail + data)[-3:]
            super().data_received(data)
            return
        if end > left:
            self._head_too_large()
            return
        rest = data[end:] if end < len(data) else b""
        super().data_received(data[:end] if rest else data)
        if self._head_left is not None:  # an interim (1xx) head: the next one counts on
            self._head_left = left - end
            self._head_tail = b""
        if rest and self.exception() is None:
            self.data_received(rest)

    def _head_too_large(self) -> None:
        self._head_left = _REFUSED
        if self.transport is not None:
            self.transport.close()
        self.set_exception(BadHttpMessage(f"response headers larger than {self._head_limit} bytes"))

    def feed_data(self, data: tuple[RawResponseMessage, StreamReader], size: int = 0) -> None:
        message = data[0]
        if message.code >= 200:
            self._head_left = None
            if self._heads is not None:
                self._heads.answered(message.code, message.headers)
        super().feed_data(data, size)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's TCP connector with the timing hooks: our socket factory and protocol."""

    def __init__(self, head_limit: int, **kwargs: Any) -> None:
        super().__init__(socket_factory=_open_socket, **kwargs)
        # The connector's protocol factory (aiohttp has no public hook for it).
        factory = functools.partial(_TimedHandler, loop=self._loop, head_limit=head_limit)
        self._factory = cast("functools.partial[ResponseHandler]", factory)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def status_expected(status: int, expected: tuple[tuple[int, int], ...] | None) -> bool:
    return any(low <= status < high for low, high in expected or DEFAULT_EXPECTED_STATUS)


class _Resolver(AbstractResolver):
    """getaddrinfo() per check (no DNS cache) on the probe's own thread pool.

    For a restricted check, the addresses the target policy refuses are dropped; if none
    is left, `TargetBlocked` (for the first one) ends the check before any connect.
    """

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self._executor = executor

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        trace = _TRACE.get()
        if trace is not None and trace.family:
            family = cast("socket.AddressFamily", trace.family)  # the site's ip_version
        started = time.perf_counter()
        infos = await asyncio.get_running_loop().run_in_executor(
            self._executor,
            socket.getaddrinfo,
            host,
            port,
            family,
            socket.SOCK_STREAM,
            0,
            socket.AI_ADDRCONFIG,
        )
        if trace is not None:
            trace.resolved(time.perf_counter() - started)
        results = resolve_results(host, infos)
        guard = _GUARD.get()
        if guard is not None and results:
            permitted = [r for r in results if guard.policy.permits(r["host"])]
            if not permitted:
                raise guard.refuse(results[0]["host"])
            results = permitted
        return results

    async def close(self) -> None:
        pass


class Prober:
    """One per checker process; owns the HTTP client/session and the shared SSL context.

    Every check opens a fresh connection (DNS, connect and TLS are part of what is
    measured) and closes it; the session, connector, SSL context, thread pools and
    compiled regexes are shared. Concurrency is the caller's: the probe sets no limit.
    """

    def __init__(
        self,
        *,
        max_body_bytes: int = 1_048_576,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_header_field_bytes: int = DEFAULT_MAX_HEADER_FIELD_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        user_agent: str = DEFAULT_USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        policy: TargetPolicy | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        """`max_redirects`: for a task that names none. `policy`: what a restricted task
        may connect to (None: `TargetPolicy.default()`); unrestricted tasks are not
        subject to it. `secrets`: opens the sites' sealed credentials (WEBMON_SECRET_KEY);
        without it a site with auth is a `config` result."""
        if max_body_bytes < 0 or max_redirects < 0:
            raise ValueError("max_body_bytes and max_redirects must be >= 0")
        if max_header_field_bytes < 1 or max_header_bytes < 1:
            raise ValueError("max_header_field_bytes and max_header_bytes must be >= 1")
        self._max_body_bytes = max_body_bytes
        self._max_redirects = max_redirects
        self._max_header_field_bytes = max_header_field_bytes
        self._max_header_bytes = max_header_bytes
        self._user_agent = user_agent
        self._ssl_context = ssl_context
        self._policy = policy if policy is not None else TargetPolicy.default()
        self._secrets = secrets
        self._tls_contexts = TlsContexts()
        self._session: aiohttp.ClientSession | None = None
        self._dns_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._regex_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._kinds: KindProber | None = None  # tcp://, tls:// and dns:// checks

    async def open(self) -> None:
        """Create the session (and the default SSL context, which reads the CA store)."""
        if self._session is not None:
            return
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        self._dns_pool = concurrent.futures.ThreadPoolExecutor(
            _DNS_THREADS, thread_name_prefix="webmon-dns"
        )
        self._regex_pool = concurrent.futures.ThreadPoolExecutor(
            2, thread_name_prefix="webmon-regex"
        )
        self._kinds = KindProber(
            self._dns_pool, self._ssl_context, self._policy, system_resolvers()
        )
        connector = _Connector(
            self._max_header_bytes,
            force_close=True,  # a fresh connection per check
            limit=0,
            use_dns_cache=False,
            resolver=_Resolver(self._dns_pool),
            ssl=self._ssl_context,
            # Python < 3.12.8 leaks TLS transports whose peer never answers the shutdown;
            # aiohttp then aborts them after 2 s.
            enable_cleanup_closed=sys.version_info < (3, 12, 8),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self._user_agent},
            cookie_jar=ChainCookies(_TRACE.get),  # within a chain, never across checks
            timeout=aiohttp.ClientTimeout(total=None),  # the deadline is check()'s own
            auto_decompress=True,  # aiohttp >= 3.12 decompresses in bounded steps
            trust_env=False,
            max_line_size=self._max_header_field_bytes,
            max_field_size=self._max_header_field_bytes,
            max_headers=_MAX_HEADERS,
        )
        # One attempt per check: aiohttp would send a GET or HEAD again after a
        # ServerDisconnectedError or ClientOSError, on a fresh connection too. The switch
        # has no public form (aiohttp's own test client turns it off the same way);
        # tests/checks/test_fidelity.py fails if it stops working.
        self._session._retry_connection = False

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        for pool in (self._dns_pool, self._regex_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._dns_pool = self._regex_pool = None
        self._kinds = None

    async def __aenter__(self) -> Prober:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def check(self, task: CheckTask) -> CheckResult:
        """Check one site once. Never raises, except `asyncio.CancelledError`."""
        checked_at = datetime.now(UTC)
        try:
            if self._kinds is not None and kind_of(task.url) != HTTP:
                return await self._kinds.check(task, checked_at)
            return await self._check(task, checked_at)
        except Exception as exc:  # a bug of ours: keep the checker going
            return self._internal(task, checked_at, None, exc)

    def _result(
        self,
        task: CheckTask,
        checked_at: datetime,
        *,
        error: str | None = None,
        detail: str | None = None,
        status: int | None = None,
        response_time_ms: float | None = None,
        regex_matched: bool | None = None,
        up: bool = False,
        trace: _Trace | None = None,
        started: float = 0.0,
        max_redirects: int = 0,
    ) -> CheckResult:
        if trace is None:
            trace = _Trace()  # decided before any request: nothing was measured
        return CheckResult(
            site_id=task.site_id,
            url=task.url,
            scheduled_at=task.scheduled_at,
            checked_at=checked_at,
            response_time_ms=response_time_ms,
            status_code=status,
            regex_matched=regex_matched,
            error=error,
            error_detail=detail,
            up=up,
            dns_ms=_ms(trace.dns_s),
            connect_ms=_ms(trace.connect_s),
            tls_ms=_ms(trace.tls_s),
            ttfb_ms=None if trace.first_byte is None else _ms(trace.first_byte - started),
            redirects=None if trace.status is None else min(trace.redirects, max_redirects),
            tls_version=trace.tls_version,
            tls_expires_at=trace.tls_expires_at,
        )

    def _internal(
        self,
        task: CheckTask,
        checked_at: datetime,
        url: URL | None,
        exc: BaseException,
        secret: str | None = None,
    ) -> CheckResult:
        detail = _scrub(f"internal error: {type(exc).__name__}: {_reason(exc)}", url)
        if secret:  # the site's auth secret, should an exception ever carry it
            detail = detail.replace(secret, "***")
        logger.warning("check.internal_error site_id=%s error=%s", task.site_id, detail)
        return self._result(task, checked_at, error="internal", detail=detail)

    async def _check(self, task: CheckTask, checked_at: datetime) -> CheckResult:
        regex: Any = None
        if task.regex is not None:
            try:
                regex = compile_regex(task.regex)
            except RegexError as exc:
                detail = _scrub(f"invalid regex: {exc}", None)
                return self._result(task, checked_at, error="invalid_regex", detail=detail)
        url, problem = _url_problem(task.url)
        if url is None or problem is not None:
            detail = _scrub(f"invalid URL: {problem}", url)
            return self._result(task, checked_at, error="invalid_url", detail=detail)
        session = self._session
        if session is None:
            raise RuntimeError("Prober.open() was not awaited")
        options: Prepared | None = None
        kwargs: dict[str, Any] = {"headers": task.headers}
        if task.has_http_options:  # a plain site skips it all
            refused = restricted_problem(task) if task.restricted else None
            if refused is not None:
                return self._result(task, checked_at, error="blocked", detail=refused)
            try:
                options = prepare(task, self._secrets, self._tls_contexts)
            except RegexError as exc:
                detail = _scrub(f"invalid header regex: {exc}", None)
                return self._result(task, checked_at, error="invalid_regex", detail=detail)
            except OptionError as exc:
                logger.warning("check.config_error site_id=%s error=%s", task.site_id, exc)
                return self._result(task, checked_at, error="config", detail=_scrub(str(exc), url))
            kwargs.update(options.kwargs)

        status: int | None = None
        max_redirects = self._max_redirects if task.max_redirects is None else task.max_redirects
        head = task.method == "HEAD"
        trace = _Trace()
        if task.ip_version is not None:
            trace.family = socket.AF_INET if task.ip_version == 4 else socket.AF_INET6
        token = _TRACE.set(trace)
        guard = _Guard(self._policy) if task.restricted else None
        guard_token = _GUARD.set(guard) if guard is not None else None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(task.timeout_s):
                # aiohttp gives up when the count of redirect responses reaches
                # max_redirects; ours is the number of hops that may be followed.
                async with session.request(
                    task.method,
                    url,
                    allow_redirects=True,  # session.head() would not follow them
                    max_redirects=max_redirects + 1,
                    **kwargs,
                ) as resp:
                    status = resp.status
                    charset = resp.charset
                    body = b"" if head else await self._read_body(resp)
                    elapsed = time.perf_counter() - started
                    final_url, response_headers = resp.url, resp.headers
        except Exception as exc:
            error, link = classify(exc)
            if guard is not None and guard.refused is not None and error == "connect":
                # No address could be connected to, and the policy refused one of them:
                # the refusal is the reason, even where aiohappyeyeballs lost it.
                error, link = "blocked", guard.refused
            if error == "blocked":
                logger.info(
                    "check.blocked site_id=%s address=%s",
                    task.site_id,
                    link.address if isinstance(link, TargetBlocked) else None,
                )
            if error == "internal":
                secret = options.secret if options is not None else None
                return self._internal(task, checked_at, url, exc, secret)
            detail = _scrub(_detail(error, link, task, url, status, max_redirects), url)
            if options is not None and options.secret:
                detail = detail.replace(options.secret, "***")
            return self._result(
                task,
                checked_at,
                error=error,
                detail=detail,
                status=status,
                trace=trace,
                started=started,
                max_redirects=max_redirects,
            )
        finally:
            _TRACE.reset(token)
            if guard_token is not None:
                _GUARD.reset(guard_token)

        matched: bool | None = None
        if regex is not None and not head:
            if len(body) > _INLINE_SEARCH_BYTES and self._regex_pool is not None:
                matched = await asyncio.get_running_loop().run_in_executor(
                    self._regex_pool, search_body, regex, body, charset
                )
            else:
                matched = search_body(regex, body, charset)
        failed: str | None = None
        failure: str | None = None
        if options is not None:
            failed, failure = _option_failure(task, options, final_url, response_headers)
        # regex_mode "absent": up only if the pattern was not found.
        regex_ok = matched is not (task.regex_mode == "absent")
        return self._result(
            task,
            checked_at,
            error=failed,
            detail=failure,
            status=status,
            response_time_ms=elapsed * 1000.0,
            regex_matched=matched,
            up=failed is None and status_expected(status, task.expected_status) and regex_ok,
            trace=trace,
            started=started,
            max_redirects=max_redirects,
        )

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        """At most `max_body_bytes` of the (decompressed) body; stops reading at the cap."""
        cap = self._max_body_bytes
        content = resp.content
        first = await content.read(cap) if cap else b""
        if len(first) >= cap or content.at_eof():
            if len(first) >= cap:
                resp.close()  # drop the rest, and the connection
            return first
        chunks = [first]
        size = len(first)
        while size < cap:
            chunk = await content.read(cap - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size >= cap:
            resp.close()
        return b"".join(chunks)
