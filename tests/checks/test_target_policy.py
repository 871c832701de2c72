"""The target policy (SSRF guard) inside `Prober.check`, against servers on loopback only.

127.0.0.2 stands in for an internal address (Linux routes all of 127/8 to lo) and
127.0.0.1 for a public one: the policy is the default blocked list with 127.0.0.1/32
allowed. Each test counts the connections its 127.0.0.2 server accepted; a refusal must
leave it at 0. No packet goes anywhere but loopback.

Counting is exact, not timed: before counting, a test opens one connection of its own to
the server and waits until the server has accepted it. The kernel hands out accepted
connections in order, so any connection of the check's would have been accepted first.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from checker.probe import Prober, classify, http_check, http_transport
from shared.messages import CheckResult, CheckTask
from shared.netpolicy import DEFAULT_BLOCKED_NETWORKS, IPAddress, TargetBlocked, TargetPolicy

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

INTERNAL = "127.0.0.2"
ALLOWED = "127.0.0.1"
POLICY = TargetPolicy.from_settings(DEFAULT_BLOCKED_NETWORKS, [f"{ALLOWED}/32"])
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def blocked_detail(address: str) -> str:
    """The detail of a refusal of `address`: it names neither the address nor a resolver
    (issue 25: a refusal that named it let a read key map internal DNS)."""
    return "refused by the target policy"


def redirect_to(location: str) -> bytes:
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


class _Answer(asyncio.Protocol):
    """Notes the accepted connection, reads a request's head, sends the canned response."""

    def __init__(self, server: CountingServer) -> None:
        self._server = server
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.peers.append(transport.get_extra_info("peername"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" in self._buffer and self._transport is not None:
            self._transport.write(self._server.response)
            self._transport.close()
            self._transport = None


class CountingServer:
    """A one-response HTTP server on `host` that records every connection it accepts."""

    def __init__(self, host: str, response: bytes = OK, port: int = 0) -> None:
        self.host = host
        self.response = response
        self.port = port
        self.peers: list[Any] = []  # the peer address of each accepted connection
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def __aenter__(self) -> CountingServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Answer(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def accepted(self) -> int:
        """How many connections others made to this server so far (see the module doc)."""
        _, writer = await asyncio.open_connection(self.host, self.port)
        own = writer.get_extra_info("sockname")
        try:
            await wait_for(lambda: own in self.peers, "the server to accept the sentinel")
        finally:
            writer.close()
            await writer.wait_closed()
        others = [peer for peer in self.peers if peer != own]
        self.peers.remove(own)
        return len(others)


def task(url: str, *, restricted: bool, method: Literal["GET", "HEAD"] = "GET") -> CheckTask:
    now = datetime.now(UTC)
    return CheckTask(
        site_id=1,
        url=url,
        timeout_s=5.0,
        scheduled_at=now,
        expires_at=now + timedelta(minutes=1),
        method=method,
        restricted=restricted,
    )


def run(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(fn())


@pytest.fixture
def classified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The classes `classify()` found in the checks' exception chains, before any fallback:
    a refusal must be visible in the chain itself, not only on the check's guard."""
    seen: list[str] = []
    original = http_check.classify

    def spy(exc: BaseException) -> tuple[str, BaseException]:
        error, link = original(exc)
        seen.append(error)
        return error, link

    monkeypatch.setattr(http_check, "classify", spy)
    return seen


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses a TCP connect was about to start for (the transport's `_admit`, which
    both its direct connect and aiohappyeyeballs' socket factory call first): a name's
    refused addresses must be dropped by the resolver, before a connect sees them."""
    seen: list[str] = []
    original = http_transport._admit

    def admit(addr_info: Any) -> None:
        seen.append(str(addr_info[4][0]))
        original(addr_info)

    monkeypatch.setattr(http_transport, "_admit", admit)
    return seen


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names (`*.test`) that resolve to the addresses the test puts here; the rest as usual."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in names:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
                for ip in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def assert_blocked(result: CheckResult, address: str, *, redirects: int | None = None) -> None:
    assert (result.error, result.up, result.status_code) == ("blocked", False, None), result
    assert result.error_detail == blocked_detail(address), result
    assert address not in (result.error_detail or ""), result
    assert result.response_time_ms is None and result.regex_matched is None, result
    assert result.redirects == redirects, result
    if redirects is None:  # refused on the first hop: no connection was ever started
        assert (result.connect_ms, result.ttfb_ms) == (None, None), result
    else:  # the phases are the earlier hops' alone
        assert result.connect_ms is not None and result.ttfb_ms is not None, result


# --- restricted tasks ------------------------------------------------------------------


def test_restricted_task_to_an_allowed_address_works() -> None:
    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(ALLOWED) as server, Prober(policy=POLICY) as p:
            result = await p.check(task(server.url, restricted=True))
            return result, await server.accepted()

    result, accepted = run(main)
    assert (result.error, result.up, result.status_code) == (None, True, 200), result
    assert result.connect_ms is not None and result.redirects == 0
    assert accepted == 1


def test_restricted_task_to_a_blocked_address_is_refused(
    classified: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal, Prober(policy=POLICY) as p:
            result = await p.check(task(internal.url, restricted=True))
            return result, await internal.accepted()

    with caplog.at_level("INFO", logger="checker.probe.http_check"):
        result, accepted = run(main)
    assert_blocked(result, INTERNAL)
    assert result.dns_ms is None  # an IP address: nothing was resolved
    assert accepted == 0
    assert classified == ["blocked"]  # the socket factory's TargetBlocked is in the chain
    assert f"check.blocked site_id=1 address={INTERNAL}" in caplog.messages


def test_head_request_is_refused_too() -> None:
    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal, Prober(policy=POLICY) as p:
            result = await p.check(task(internal.url, restricted=True, method="HEAD"))
            return result, await internal.accepted()

    result, accepted = run(main)
    assert_blocked(result, INTERNAL)
    assert accepted == 0


def test_redirect_to_a_blocked_address_is_refused(classified: list[str]) -> None:
    async def main() -> tuple[CheckResult, int, int]:
        async with CountingServer(INTERNAL) as internal:
            async with CountingServer(ALLOWED, redirect_to(internal.url)) as public:
                async with Prober(policy=POLICY) as p:
                    result = await p.check(task(public.url, restricted=True))
                return result, await public.accepted(), await internal.accepted()

    result, public_accepted, accepted = run(main)
    assert_blocked(result, INTERNAL, redirects=1)  # the 302 arrived and was followed
    assert public_accepted == 1
    assert accepted == 0
    assert classified == ["blocked"]


def test_name_that_resolves_to_a_blocked_address_is_refused(
    fake_dns: dict[str, list[str]], classified: list[str], opened: list[str]
) -> None:
    fake_dns["internal.test"] = [INTERNAL]

    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal, Prober(policy=POLICY) as p:
            url = f"http://internal.test:{internal.port}/"
            result = await p.check(task(url, restricted=True))
            return result, await internal.accepted()

    result, accepted = run(main)
    assert_blocked(result, INTERNAL)
    assert result.dns_ms is not None  # the name did resolve
    assert accepted == 0
    assert classified == ["blocked"]  # the resolver's TargetBlocked, under aiohttp's DNS error
    assert opened == []  # refused when resolved: no socket was asked for


def test_redirect_to_a_name_that_resolves_to_a_blocked_address_is_refused(
    fake_dns: dict[str, list[str]], opened: list[str]
) -> None:
    fake_dns["internal.test"] = [INTERNAL]

    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal:
            location = f"http://internal.test:{internal.port}/"
            async with CountingServer(ALLOWED, redirect_to(location)) as public:
                async with Prober(policy=POLICY) as p:
                    result = await p.check(task(public.url, restricted=True))
            return result, await internal.accepted()

    result, accepted = run(main)
    assert_blocked(result, INTERNAL, redirects=1)
    assert accepted == 0
    assert opened == [ALLOWED]  # the first hop's socket only


def test_blocked_addresses_of_a_name_are_dropped_the_others_used(
    fake_dns: dict[str, list[str]], opened: list[str]
) -> None:
    fake_dns["both.test"] = [INTERNAL, ALLOWED]  # the blocked one first

    async def main() -> tuple[CheckResult, int, CheckResult, int]:
        # Both servers on one port, so that each of the name's addresses has one.
        async with CountingServer(ALLOWED) as public:
            async with CountingServer(INTERNAL, port=public.port) as internal:
                url = f"http://both.test:{public.port}/"
                async with Prober(policy=POLICY) as p:
                    restricted = await p.check(task(url, restricted=True))
                    accepted = await internal.accepted()
                    assert opened == [ALLOWED]  # the blocked address was dropped
                    # Unrestricted, the first address is tried first, and answers.
                    unrestricted = await p.check(task(url, restricted=False))
                return restricted, accepted, unrestricted, await internal.accepted()

    restricted, accepted, unrestricted, accepted_later = run(main)
    assert (restricted.error, restricted.up) == (None, True), restricted
    assert accepted == 0
    assert (unrestricted.error, unrestricted.up) == (None, True), unrestricted
    assert accepted_later == 1


def test_ipv4_mapped_ipv6_address_is_refused(classified: list[str]) -> None:
    async def main() -> tuple[CheckResult, CheckResult, int] | None:
        async with CountingServer(INTERNAL) as internal, CountingServer(ALLOWED) as public:
            # Can this machine reach an IPv4 server through an IPv4-mapped address at all?
            # (Tried on the allowed server, so that the internal one's count stays clean.)
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe_sock:
                    probe_sock.setblocking(False)
                    await asyncio.get_running_loop().sock_connect(
                        probe_sock, (f"::ffff:{ALLOWED}", public.port, 0, 0)
                    )
            except OSError:
                return None
            url = f"http://[::ffff:{INTERNAL}]:{internal.port}/"
            async with Prober(policy=POLICY) as p:
                refused = await p.check(task(url, restricted=True))
                accepted = await internal.accepted()
                # The same URL, unrestricted: it does reach the server.
                reached = await p.check(task(url, restricted=False))
            return refused, reached, accepted

    outcome = run(main)
    if outcome is None:
        assert not POLICY.permits(f"::ffff:{INTERNAL}")
        pytest.skip("this machine cannot connect through IPv4-mapped IPv6 addresses")
    refused, reached, accepted = outcome
    assert_blocked(refused, "::ffff:7f00:2")  # as yarl normalises the URL's host
    assert accepted == 0
    assert (reached.error, reached.up) == (None, True), reached
    assert classified == ["blocked"]


def test_ipv6_loopback_is_refused() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")

    async def main() -> CheckResult:
        async with Prober(policy=POLICY) as p:
            # Port 9 (discard): nothing is sent, so no server is needed to prove it.
            return await p.check(task("http://[::1]:9/", restricted=True))

    assert_blocked(run(main), "::1")


def test_default_policy_refuses_loopback() -> None:
    async def main() -> tuple[CheckResult, int]:
        async with CountingServer(ALLOWED) as server, Prober() as p:
            result = await p.check(task(server.url, restricted=True))
            return result, await server.accepted()

    result, accepted = run(main)
    assert_blocked(result, ALLOWED)
    assert accepted == 0


# --- unrestricted tasks ----------------------------------------------------------------


def test_unrestricted_task_reaches_a_blocked_address(fake_dns: dict[str, list[str]]) -> None:
    """An operator's site (restricted=False) is checked normally, wherever it points."""
    fake_dns["internal.test"] = [INTERNAL]

    async def main() -> tuple[list[CheckResult], int]:
        async with CountingServer(INTERNAL) as internal:
            async with CountingServer(ALLOWED, redirect_to(internal.url)) as public:
                async with Prober(policy=POLICY) as p:
                    urls = [internal.url, f"http://internal.test:{internal.port}/", public.url]
                    results = [await p.check(task(url, restricted=False)) for url in urls]
            return results, await internal.accepted()

    results, accepted = run(main)
    for result in results:
        assert (result.error, result.up, result.status_code) == (None, True, 200), result
    assert results[2].redirects == 1
    assert accepted == 3


def test_unrestricted_task_never_consults_the_policy() -> None:
    class Tripwire(TargetPolicy):
        def permits(self, address: str | IPAddress) -> bool:
            raise AssertionError(f"the policy was consulted for {address}")

    tripwire = Tripwire(blocked=POLICY.blocked)

    async def main() -> CheckResult:
        async with CountingServer(INTERNAL) as internal, Prober(policy=tripwire) as p:
            return await p.check(task(internal.url, restricted=False))

    result = run(main)
    assert (result.error, result.up) == (None, True), result


def test_restricted_and_unrestricted_checks_run_side_by_side() -> None:
    """The policy is per check (a context variable), not per prober."""

    async def main() -> tuple[list[CheckResult], int]:
        async with CountingServer(INTERNAL) as internal, Prober(policy=POLICY) as p:
            flags = [True, False] * 10
            results = await asyncio.gather(
                *(p.check(task(internal.url, restricted=flag)) for flag in flags)
            )
            return list(results), await internal.accepted()

    results, accepted = run(main)
    for index, result in enumerate(results):
        if index % 2 == 0:
            assert_blocked(result, INTERNAL)
        else:
            assert (result.error, result.up) == (None, True), result
    assert accepted == 10


# --- a refusal that aiohappyeyeballs folds into another failure -------------------------


def test_refusal_merged_with_another_failure_is_still_blocked(
    fake_dns: dict[str, list[str]], classified: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several addresses, aiohappyeyeballs raises one plain OSError for them all
    ("Multiple exceptions: ..."), which loses the TargetBlocked; aiohttp then retries the
    rest and reports the last failure. The guard's record of the refusal decides then.

    The resolver never passes a refused address on, so this takes a policy that permits
    the addresses when they are resolved and refuses 127.0.0.2 when its socket is opened.
    """

    class SecondThoughts(TargetPolicy):
        def permits(self, address: str | IPAddress) -> bool:
            if SecondThoughts.resolving:
                return True
            return super().permits(address)

        resolving = True

    original_open = http_transport._open_socket

    def open_socket(addr_info: Any) -> socket.socket:
        SecondThoughts.resolving = False
        return original_open(addr_info)

    second_thoughts = SecondThoughts(blocked=POLICY.blocked, allowed=POLICY.allowed)
    monkeypatch.setattr(http_transport, "_open_socket", open_socket)  # read by _Connector.__init__
    with socket.socket() as closed:
        closed.bind((ALLOWED, 0))  # bound, not listening: connecting to it is refused
        port = closed.getsockname()[1]
        fake_dns["mixed.test"] = [INTERNAL, ALLOWED]

        async def main() -> CheckResult:
            async with Prober(policy=second_thoughts) as p:
                return await p.check(task(f"http://mixed.test:{port}/", restricted=True))

        result = run(main)
    assert classified == ["connect"]  # the chain lost the refusal ...
    assert_blocked(result, INTERNAL)  # ... the guard did not


# --- classification ----------------------------------------------------------------------


def _raised_from(wrapper: type[aiohttp.ClientConnectorError], cause: OSError) -> BaseException:
    """`wrapper(key, cause)` raised from `cause`, as aiohttp's connector raises it."""
    key = ConnectionKey(INTERNAL, 80, False, True, None, None, None)
    try:
        try:
            raise cause
        except OSError as exc:
            raise wrapper(key, exc) from exc
    except aiohttp.ClientConnectorError as exc:
        return exc


@pytest.mark.parametrize("wrapper", [aiohttp.ClientConnectorError, aiohttp.ClientConnectorDNSError])
def test_a_refusal_anywhere_in_the_chain_is_blocked(
    wrapper: type[aiohttp.ClientConnectorError],
) -> None:
    refusal = TargetBlocked(INTERNAL)
    assert classify(_raised_from(wrapper, refusal)) == ("blocked", refusal)
    assert classify(refusal) == ("blocked", refusal)
    # The same wrappers around anything else keep their own class.
    refused = ConnectionRefusedError(111, "Connection refused")
    expected = "dns" if wrapper is aiohttp.ClientConnectorDNSError else "connect"
    assert classify(_raised_from(wrapper, refused))[0] == expected
