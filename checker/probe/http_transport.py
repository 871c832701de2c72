"""The HTTP engine, aiohttp, wrapped: the probe's session and its connection hooks.

The one module of the checker that reaches past aiohttp's public interface. What it
relies on, and `tests/checks/test_http_transport.py` pins against each new aiohttp:

* `TCPConnector._factory`: the connector's protocol factory, replaced to build
  `_TimedHandler` (aiohttp has no public hook for the protocol);
* `ResponseHandler` (`aiohttp.client_proto`), subclassed: its `data_received`,
  `feed_data` (one call per parsed head), `set_exception`, `_payload` and `_exception`;
* `TCPConnector._wrap_create_connection` (its keywords and the errors it raises),
  replaced for a host that resolved to one address: the socket is connected with the
  event loop's `sock_connect` and handed to `create_connection`, without
  aiohappyeyeballs' staggered-start machinery around it (its tasks, lists and exception
  bookkeeping); several addresses still go through aiohappyeyeballs. The protocol is
  built only once the TCP connect is done, as on aiohttp's own path, so the connect and
  TLS phases stay apart (uvloop's `create_connection(host=…)` builds it before);
* `ClientSession._retry_connection`, switched off (aiohttp's own test client does the
  same): one check is one attempt. aiohttp would send a GET or HEAD again after a
  disconnect, on a fresh connection too, so a server that closed without a byte would be
  two connections; here it is one, and one `protocol` result.

The public hooks: the resolver (getaddrinfo per check on the probe's own thread pool, no
DNS cache, the site's `ip_version`), the socket factory (the TCP connect starts, the
target guard's last word) and the parser's limits. Phase timing (`http_trace`) and the
target guard (`target_guard`) reach the hooks through context variables the check sets
around its request: aiohttp resolves, connects and builds the protocol in its task.

Every check opens a fresh connection (`force_close`: DNS, connect and TLS are part of what
is measured, and the target guard sees every socket) and closes it. A response head
(status line and header lines) may have `max_header_field_bytes` per line,
`MAX_HEADERS` lines and `max_header_bytes` in all; aiohttp's parser bounds the first
two, `_TimedHandler` the total. It also feeds a head to the parser apart from the bytes
after it, so a body that breaks in the same read as the head still leaves the status.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import socket
import ssl
import sys
import time
from typing import Any, Final, cast

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_exceptions import (
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientConnectorSSLError,
    cert_errors,
    ssl_errors,
)
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.helpers import ceil_timeout
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError
from aiohttp.http_parser import RawResponseMessage
from aiohttp.streams import StreamReader

from checker.probe.cookies import ChainCookies
from checker.probe.http_trace import TRACE
from checker.probe.target_guard import admitted, check_address
from shared.policy_http import resolve_results

# The count bounds a head of many short lines, whose parsed form costs far more memory
# than its bytes.
MAX_HEADERS: Final = 256
# Body bytes a connection buffers before reading pauses: twice this (aiohttp's default,
# 256 KiB, let 512 checks in flight buffer 256 MiB while their regexes were searched;
# docs/measurements.md, "The probe's memory").
READ_BUFFER: Final = 64 * 1024


def open_session(
    *,
    ssl_context: ssl.SSLContext,
    dns_executor: concurrent.futures.Executor,
    user_agent: str,
    max_header_field_bytes: int,
    max_header_bytes: int,
) -> aiohttp.ClientSession:
    """The probe's session: a fresh connection per request, the timing and guard hooks,
    cookies within a check's redirect chain only, no retry, no deadline of its own."""
    connector = _Connector(
        max_header_bytes,
        force_close=True,  # a fresh connection per check
        limit=0,
        use_dns_cache=False,
        resolver=_Resolver(dns_executor),
        ssl=ssl_context,
        # Python < 3.12.8 leaks TLS transports whose peer never answers the shutdown;
        # aiohttp then aborts them after 2 s.
        enable_cleanup_closed=sys.version_info < (3, 12, 8),
    )
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent},
        cookie_jar=ChainCookies(TRACE.get),  # within a chain, never across checks
        timeout=aiohttp.ClientTimeout(total=None),  # the deadline is the check's own
        auto_decompress=True,  # aiohttp >= 3.12 decompresses in bounded steps
        trust_env=False,
        max_line_size=max_header_field_bytes,
        max_field_size=max_header_field_bytes,
        max_headers=MAX_HEADERS,
        read_bufsize=READ_BUFFER,
    )
    # One attempt per check (the module's docstring); no public form.
    session._retry_connection = False
    return session


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
        trace = TRACE.get()
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
        return admitted(resolve_results(host, infos))

    async def close(self) -> None:
        pass


def _admit(addr_info: AddrInfoType) -> None:
    """Just before a TCP connect starts, before any socket exists: the target guard's last
    word on the address and the site's ip_version; then the connect's start is noted.

    It sees every connect, including those to an IP-literal URL or redirect target, which
    aiohttp does not resolve. A refusal raises before any socket exists, so no packet is
    sent.
    """
    check_address(addr_info[4][0])
    trace = TRACE.get()
    if trace is not None:
        if trace.family and addr_info[0] != trace.family:  # an IP literal of the other family
            version = 4 if trace.family == socket.AF_INET else 6
            raise OSError(f"not an IPv{version} address (the site's ip_version)")
        trace.connecting()


def _open_socket(addr_info: AddrInfoType) -> socket.socket:
    """The connector's socket factory, for the connects aiohappyeyeballs makes."""
    _admit(addr_info)
    family, type_, proto, _, _ = addr_info
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
        self._trace = TRACE.get()
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


# What aiohttp passes to `_wrap_create_connection` besides the protocol factory, its own
# keywords apart; anything else takes aiohttp's own path.
_DIRECT_KEYWORDS: Final = frozenset({"ssl", "server_hostname"})


class _Connector(aiohttp.TCPConnector):
    """aiohttp's TCP connector with the timing hooks: our socket factory and protocol."""

    def __init__(self, head_limit: int, **kwargs: Any) -> None:
        super().__init__(socket_factory=_open_socket, **kwargs)
        # The connector's protocol factory (aiohttp has no public hook for it).
        factory = functools.partial(_TimedHandler, loop=self._loop, head_limit=head_limit)
        self._factory = cast("functools.partial[ResponseHandler]", factory)

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[AddrInfoType],
        req: ClientRequest,
        timeout: aiohttp.ClientTimeout,
        client_error: type[Exception] = ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        """One resolved address: the loop connects to it directly (the module's docstring);
        the errors are aiohttp's own, as from its path through aiohappyeyeballs."""
        if len(addr_infos) != 1 or len(args) != 1 or not _DIRECT_KEYWORDS.issuperset(kwargs):
            return await super()._wrap_create_connection(
                *args,
                addr_infos=addr_infos,
                req=req,
                timeout=timeout,
                client_error=client_error,
                **kwargs,
            )
        family, type_, proto, _, address = addr_infos[0]
        ssl_context = kwargs.get("ssl")
        try:
            async with ceil_timeout(timeout.sock_connect, ceil_threshold=timeout.ceil_threshold):
                _admit(addr_infos[0])
                # Connected before the protocol exists: `_TimedHandler` notes the TCP
                # connect's end when it is built, and the TLS handshake after it.
                sock = socket.socket(family=family, type=type_, proto=proto)
                try:
                    sock.setblocking(False)
                    await self._loop.sock_connect(sock, address)
                except BaseException:
                    sock.close()
                    raise
                shutdown = (self._ssl_shutdown_timeout or None) if ssl_context else None
                transport, protocol = await self._loop.create_connection(
                    args[0],
                    sock=sock,
                    ssl=ssl_context,
                    server_hostname=kwargs.get("server_hostname"),
                    ssl_shutdown_timeout=shutdown,
                )
                return cast("tuple[asyncio.Transport, ResponseHandler]", (transport, protocol))
        except cert_errors as exc:
            raise ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl_errors as exc:
            raise ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc
