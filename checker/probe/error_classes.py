"""Exceptions of every check kind -> `CheckResult.error` classes, and the detail texts.

The one place where what a check raises becomes a result's `error`, for HTTP and for the
tcp://, tls:// and dns:// kinds alike. First match wins, top to bottom; each row is tried
against the exception and everything in its __cause__/__context__ chain, the root cause
first, so a socket.gaierror or an ssl.SSLError wrapped in aiohttp's connector errors
decides before the generic wrapper does:

    an OSError with a local errno (EMFILE, ENFILE, ENOBUFS, ENOMEM) ....... internal
    shared.netpolicy.TargetBlocked ........................................ blocked
    TimeoutError, dns.exception.Timeout ................................... timeout
    socket.gaierror, aiohttp.ClientConnectorDNSError ...................... dns
    ssl.SSLError, ssl.CertificateError, aiohttp.ClientSSLError ............ tls
    aiohttp.TooManyRedirects .............................................. too_many_redirects
    aiohttp.RedirectClientError ........................................... protocol
    aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError ..................... invalid_url
    aiohttp.ClientConnectorError .......................................... connect
    dns.exception.DNSException ............................................ protocol
    aiohttp.http_exceptions.ContentEncodingError .......................... content_encoding
    aiohttp.ClientPayloadError, ClientResponseError, ClientConnectionError,
      aiohttp.http_exceptions.HttpProcessingError, ConnectionError ........ protocol
    anything else ......................................................... internal

A check on a socket of its own (tcp, tls, dns: `classify(exc, connected)`) has no engine
that says at which stage a socket error happened, so its last row is any OSError:
`connect` before the TCP connection was up, `protocol` after it.

The checks decide some classes themselves, before or after any request: `invalid_regex`,
`invalid_url` (a URL no check can take), `config` (options this checker cannot apply),
`blocked` (options a restricted site may not use), `tls_required`, `header_check`, and a
tcp/tls/dns check's own `dns`, `tls` or `protocol` findings (`kind_net.KindFailure`).

`content_encoding`: the response arrived, but its body, which the site's regex needed,
could not be decoded (a corrupt gzip, br or zstd stream); the status is kept. A body that
no regex needs is not decoded at all (`checker.probe.http_check`).

A detail names where an HTTP check failed through `hop_name`: the hop's host and port and
which redirect led there, or, for a restricted check, only which redirect it was.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from typing import Final

import aiohttp
import dns.exception
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from yarl import URL

from shared.netpolicy import TargetBlocked

DETAIL_MAX: Final = 200
# The detail of every `blocked` result: it names neither the refused address nor a
# resolver, so a key that reads results cannot map the inside (which address a name
# resolves to) through refusals. The address is in the checker's log (`check.blocked`).
BLOCKED_DETAIL: Final = "refused by the target policy"
# Local resource exhaustion (file descriptors, kernel memory) anywhere in an exception's
# chain is this process's trouble, not the site's: `internal`, not `connect`. (Not
# EADDRNOTAVAIL: a site's unroutable address raises it too, not only port exhaustion.)
_LOCAL_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

# aiohappyeyeballs' text when the addresses of a host failed with different errors: it
# names every address.
_SEVERAL_FAILED: Final = "Multiple exceptions:"

_Types = type[BaseException] | tuple[type[BaseException], ...]

_ERRORS: Final[tuple[tuple[_Types, str], ...]] = (
    # The target policy refused the address: first, because aiohttp wraps the refusal in
    # ClientConnectorDNSError (from the resolver) or ClientConnectorError (from the socket
    # factory), which would read as `dns` or `connect`.
    (TargetBlocked, "blocked"),
    # our deadline (asyncio.timeout), the kernel's connect, or dnspython's
    ((TimeoutError, dns.exception.Timeout), "timeout"),
    ((socket.gaierror, aiohttp.ClientConnectorDNSError), "dns"),
    ((ssl.SSLError, ssl.CertificateError, aiohttp.ClientSSLError), "tls"),
    (aiohttp.TooManyRedirects, "too_many_redirects"),  # more hops than allowed, or a loop
    (aiohttp.RedirectClientError, "protocol"),  # a Location that is not an http(s) URL
    ((aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError), "invalid_url"),
    (aiohttp.ClientConnectorError, "connect"),  # refused, unreachable, reset on connect
    (dns.exception.DNSException, "protocol"),  # a malformed or mismatched DNS answer
    # A body that cannot be decoded (aiohttp wraps it in ClientPayloadError): the response
    # itself arrived.
    (ContentEncodingError, "content_encoding"),
    (
        (
            aiohttp.ClientPayloadError,  # closed mid-body, bad chunking, bad gzip
            aiohttp.ClientResponseError,  # garbage instead of a status line or headers
            aiohttp.ClientConnectionError,  # server disconnected, reset after connect
            HttpProcessingError,
            ConnectionError,  # aiohttp wraps a failed connect above: this one broke later
        ),
        "protocol",
    ),
)
# The same rows for a check on a socket of its own, by whether its connection was up.
_OWN_SOCKET: Final = {
    connected: (*_ERRORS[:-1], (OSError, "protocol" if connected else "connect"))
    for connected in (False, True)
}


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def classify(exc: BaseException, connected: bool | None = None) -> tuple[str, BaseException]:
    """The error class of an exception from a check, and the link of its chain that decided.

    `connected`: for a check on a socket of its own, whether its TCP connection was up;
    None for the HTTP check, whose engine says it (see the module's table).
    """
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, OSError) and link.errno in _LOCAL_ERRNOS:
            return "internal", link
    for types, error in _ERRORS if connected is None else _OWN_SOCKET[connected]:
        for link in reversed(chain):  # the root cause first: it has the useful details
            if isinstance(link, types):
                return error, link
    return "internal", exc


def reason(exc: BaseException) -> str:
    """A short reason from one exception: OpenSSL's verify message or reason, an errno's
    text, a parser's message, without aiohttp's long reprs where avoidable."""
    if isinstance(exc, aiohttp.ClientConnectorError):  # before ssl: it subclasses SSLError
        return reason(exc.os_error)
    verify_message = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLCertVerificationError) and verify_message:
        return f"certificate verify failed: {verify_message}"
    ssl_reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) and ssl_reason:
        return str(ssl_reason).replace("_", " ").lower()
    if isinstance(exc, OSError):
        if not isinstance(exc, socket.gaierror) and isinstance(exc.errno, int) and exc.errno > 0:
            return os.strerror(exc.errno)  # asyncio's own text repeats the address
        if str(exc).startswith(_SEVERAL_FAILED):  # aiohappyeyeballs: one text per address
            return "no address of the host could be connected to"
        if exc.strerror:
            return str(exc.strerror)
    message = getattr(exc, "message", None)
    if isinstance(exc, (aiohttp.ClientResponseError, HttpProcessingError)) and message:
        return str(message)
    text = str(exc)
    return text if text else type(exc).__name__


def scrub(text: str, url: URL | None = None, secret: str | None = None) -> str:
    """`text` on one line, cut to `DETAIL_MAX`, without the URL's user name or password;
    then without `secret` (a site's opened credential), should it be there."""
    if url is not None:
        for part in (url.raw_password, url.password, url.raw_user, url.user):
            if part:
                text = text.replace(part, "***")
    text = " ".join(text.split())
    text = text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"
    return text.replace(secret, "***") if secret else text


def describe(error: str, link: BaseException, host: str | None, where: str) -> str | None:
    """The detail of a class every kind words alike, None for the others (`timeout`,
    `protocol`, ...: the kind words them). `host`: the name looked up; `where`: what was
    connected to (host:port)."""
    if error == "blocked":
        return BLOCKED_DETAIL
    if error == "dns":
        return f"cannot resolve {host}: {reason(link)}"
    if error == "connect":
        return f"cannot connect to {where}: {reason(link)}"
    if error == "tls":
        return f"TLS failure with {where}: {reason(link)}"
    if error == "invalid_url":
        return f"invalid URL: {reason(link)}"
    return None


def hop_name(host: str | None, port: int | None, redirect: int, *, restricted: bool) -> str:
    """How a detail names the hop of an HTTP check where it failed.

    `redirect`: which redirect led to the hop (0: the check's own URL); `port`: None to
    name the host alone (a name that did not resolve). "127.0.0.1:18803 (redirect 2)",
    "shop.example:443"; for a restricted check only the position, never a host or
    address: "redirect 2", "the URL" (and "the host of redirect 2", "the URL's host").
    """
    if restricted or host is None:
        if port is None:
            return f"the host of redirect {redirect}" if redirect else "the URL's host"
        return f"redirect {redirect}" if redirect else "the URL"
    where = host if port is None else f"{host}:{port}"
    return f"{where} (redirect {redirect})" if redirect else where


def internal_detail(exc: BaseException) -> str:
    """The detail of an `internal` result: a bug of ours, or this process's trouble."""
    return f"internal error: {type(exc).__name__}: {reason(exc)}"
