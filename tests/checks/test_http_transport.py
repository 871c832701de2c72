"""The aiohttp wrapper, `checker.probe.http_transport`, against the installed aiohttp.

The wrapper reaches past aiohttp's public interface in three places (the connector's
protocol factory, a `ResponseHandler` subclass, the session's retry switch). These tests
pin what it relies on there, through the session it builds and without the rest of the
probe: run them first against a new aiohttp. Local targets (tests/support/targets.py),
loopback only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
import pytest
from aiohttp.client_proto import ResponseHandler

from checker.probe import http_transport
from checker.probe.http_trace import TRACE, Trace
from devstack.localstack import free_port
from tests.support.targets import Targets

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")


@pytest.fixture(scope="module")
def client_ctx(targets: Targets) -> ssl.SSLContext:
    return targets.client_ssl_context()


@asynccontextmanager
async def probe_session(
    ctx: ssl.SSLContext, max_header_bytes: int = 256 * 1024
) -> AsyncIterator[aiohttp.ClientSession]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        session = http_transport.open_session(
            ssl_context=ctx,
            dns_executor=pool,
            user_agent="test",
            max_header_field_bytes=64 * 1024,
            max_header_bytes=max_header_bytes,
        )
        try:
            yield session
        finally:
            await session.close()


def traced(fn: Callable[[Trace], Awaitable[T]]) -> tuple[Trace, T]:
    """`fn(trace)` run with `trace` as the running check's, as the HTTP check sets it."""

    async def main() -> tuple[Trace, T]:
        trace = Trace()
        token = TRACE.set(trace)
        try:
            return trace, await asyncio.wait_for(fn(trace), 10)
        finally:
            TRACE.reset(token)

    return asyncio.run(main())


def test_the_internals_it_replaces_are_where_it_reaches(client_ctx: ssl.SSLContext) -> None:
    """A renamed internal would not fail loudly: the assignment would make a new attribute
    that aiohttp never reads. So: aiohttp's own session retries and its connector has a
    protocol factory; ours has neither retry nor aiohttp's protocol."""

    async def main() -> None:
        async with aiohttp.ClientSession() as plain:
            assert plain._retry_connection is True
            connector = plain.connector
            assert connector is not None and isinstance(connector, aiohttp.TCPConnector)
            assert type(connector._factory()) is ResponseHandler
        async with probe_session(client_ctx) as session:
            assert session._retry_connection is False
            assert session.connector is not None
            handler = session.connector._factory()
            assert isinstance(handler, http_transport._TimedHandler)
            # The attributes the handler reads after aiohttp's own methods ran.
            assert handler._payload is None and handler._exception is None

    asyncio.run(main())


def test_one_attempt_where_aiohttp_would_make_two(targets: Targets) -> None:
    """A server that closes without a byte: aiohttp sends a GET again (on a fresh
    connection too); the probe's session does not."""
    url = targets.url("/no-response")

    async def plain() -> None:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await session.get(url)

    async def ours() -> None:
        async with probe_session(targets.client_ssl_context()) as session:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await session.get(url)

    before = targets.raw_accepted()
    asyncio.run(plain())
    assert targets.raw_accepted() - before == 2
    before = targets.raw_accepted()
    asyncio.run(ours())
    assert targets.raw_accepted() - before == 1


def test_the_protocol_sees_every_phase(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    """Only `_TimedHandler`, built by the replaced factory, notes a connect, a handshake,
    a first byte and the heads."""

    async def get(trace: Trace) -> tuple[int, bytes]:
        async with probe_session(client_ctx) as session:
            async with session.get(targets.url("/redirect/1", tls="valid")) as resp:
                return resp.status, await resp.read()

    trace, (status, body) = traced(get)
    assert (status, body) == (200, b"redirected")
    assert (trace.status, trace.redirects) == (200, 1)  # both heads, from feed_data
    assert trace.dns_s is None  # an IP address
    assert trace.connect_s is not None and trace.tls_s is not None
    assert trace.first_byte is not None
    assert trace.tls_version is not None and trace.tls_expires_at is not None


def test_a_head_over_the_limit_is_refused(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    async def get(trace: Trace) -> BaseException:
        async with probe_session(client_ctx, max_header_bytes=1000) as session:
            with pytest.raises(aiohttp.ClientResponseError) as raised:
                await session.get(targets.url("/large-head?kb=2&fields=2"))
            return raised.value

    trace, exc = traced(get)
    assert "response headers larger than 1000 bytes" in str(exc)
    assert trace.status is None


@pytest.mark.parametrize("path", ["/bad-chunk", "/bad-chunk?later=1"])
def test_a_body_that_breaks_keeps_the_head_and_fails_the_reader(
    targets: Targets, client_ctx: ssl.SSLContext, path: str
) -> None:
    """In the head's read (the parser is fed the head alone) or in a later one (the
    handler fails the body's reader, which aiohttp's C parser leaves waiting)."""

    async def get(trace: Trace) -> tuple[int, BaseException]:
        async with probe_session(client_ctx) as session:
            async with session.get(targets.url(path)) as resp:
                with pytest.raises(aiohttp.ClientPayloadError) as raised:
                    await resp.read()
                return resp.status, raised.value

    trace, (status, exc) = traced(get)
    assert (status, trace.status) == (200, 200)
    assert "chunk size" in str(exc)


def test_one_resolved_address_is_connected_to_without_aiohappyeyeballs(
    targets: Targets, client_ctx: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replaced `_wrap_create_connection`: aiohttp still calls it with the keywords it
    relies on, one address connects directly (plain and TLS, phases noted), and a refused
    connect is aiohttp's own error, as through aiohappyeyeballs."""
    import inspect

    import aiohttp.connector

    keywords = inspect.signature(aiohttp.TCPConnector._wrap_create_connection).parameters
    assert {"addr_infos", "req", "timeout", "client_error"} <= set(keywords)
    through: list[object] = []
    original = aiohttp.connector.aiohappyeyeballs.start_connection

    async def counted(*args: object, **kwargs: object) -> object:
        through.append(kwargs.get("addr_infos"))
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aiohttp.connector.aiohappyeyeballs, "start_connection", counted)

    async def get(trace: Trace) -> list[int]:
        statuses = []
        async with probe_session(client_ctx) as session:
            for url in (targets.url(), targets.url(tls="valid")):
                async with session.get(url) as resp:
                    await resp.read()
                    statuses.append(resp.status)
        return statuses

    trace, statuses = traced(get)
    assert statuses == [200, 200]
    assert trace.connect_s is not None and trace.tls_s is not None
    assert through == []

    async def refused(trace: Trace) -> None:
        async with probe_session(client_ctx) as session:
            with pytest.raises(aiohttp.ClientConnectorError) as failed:
                await session.get(f"http://127.0.0.1:{free_port()}/")
            assert isinstance(failed.value.os_error, ConnectionRefusedError)

    traced(refused)
    assert through == []
