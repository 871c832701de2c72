"""The tcp://, tls:// and dns:// check kinds through `Prober.check`, on loopback only.

TCP targets are small asyncio servers in the test's own loop, TLS targets the hostile
target server's certificates (tests/support/targets.py), DNS a local authoritative server
(tests/support/dns_server.py). 127.0.0.2 stands in for an internal address, as in
test_target_policy.py.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import dns.message
import dns.query
import pytest

from checker.probe import Prober
from devstack.localstack import free_port
from shared.messages import CheckResult, CheckTask
from tests.checks.test_target_policy import INTERNAL, POLICY, CountingServer, blocked_detail
from tests.support.dns_server import (
    SERVFAIL_NAME,
    SILENT_NAME,
    TRUNCATED_ADDRESS,
    TRUNCATED_NAME,
    DnsServer,
)
from tests.support.targets import Targets

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

ZONE = {
    "www.test.": {"A": ["127.0.0.1", "127.0.0.3"], "TXT": ['"v=spf1 -all"']},
    "alias.test.": {"CNAME": ["www.test."]},
    "mail.test.": {"MX": ["10 mx.test."]},
}


@pytest.fixture(scope="module")
def client_ctx(targets: Targets) -> ssl.SSLContext:
    return targets.client_ssl_context()


@pytest.fixture(scope="module")
def dns_server() -> Any:
    with DnsServer(ZONE) as server:
        yield server


def task(url: str, regex: str | None = None, timeout_s: float = 5.0, **options: Any) -> CheckTask:
    now = datetime.now(UTC)
    return CheckTask(
        site_id=7,
        url=url,
        timeout_s=timeout_s,
        scheduled_at=now,
        expires_at=now + timedelta(minutes=1),
        regex=regex,
        **options,
    )


def run(fn: Callable[[Prober], Awaitable[T]], **prober_options: Any) -> T:
    async def main() -> T:
        async with Prober(**prober_options) as prober:
            return await fn(prober)

    return asyncio.run(main())


def check(url: str, regex: str | None = None, **options: Any) -> CheckResult:
    """One check of `url` by a fresh prober; `options`: `timeout_s`, `restricted`, `ctx`,
    `policy`."""
    prober_options = {
        "ssl_context": options.pop("ctx", None),
        "policy": options.pop("policy", None),
    }
    result = run(lambda p: p.check(task(url, regex, **options)), **prober_options)
    assert_http_columns_null(result)
    return result


def assert_http_columns_null(result: CheckResult) -> None:
    """What never applies to these kinds, and what holds for every result."""
    assert (result.status_code, result.redirects) == (None, None), result
    if result.error is not None:
        assert result.up is False and result.response_time_ms is None, result
        assert result.error_detail and len(result.error_detail) <= 200, result
    else:
        assert result.response_time_ms is not None and result.error_detail is None, result
    phases = [p for p in (result.dns_ms, result.connect_ms, result.tls_ms) if p is not None]
    if result.response_time_ms is not None:
        assert sum(phases) <= result.response_time_ms, result


class Replier(asyncio.Protocol):
    """Answers each chunk received with `reply`, then closes unless `stay_open`."""

    def __init__(self, reply: bytes, stay_open: bool) -> None:
        self.reply = reply
        self.stay_open = stay_open

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.reply if data == b"PING\r\n" else b"-ERR unknown\r\n")
        if not self.stay_open:
            self.transport.close()


def with_server(
    reply: bytes, url_tail: str, regex: str | None, stay_open: bool = False, **options: Any
) -> CheckResult:
    async def main(prober: Prober) -> CheckResult:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Replier(reply, stay_open), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await prober.check(task(f"tcp://127.0.0.1:{port}{url_tail}", regex, **options))
        finally:
            server.close()

    result = run(main)
    assert_http_columns_null(result)
    return result


# --- tcp -------------------------------------------------------------------------------


def test_tcp_an_open_port_is_up(targets: Targets) -> None:
    result = check(f"tcp://127.0.0.1:{targets.ports['http']}")
    assert (result.up, result.error, result.regex_matched) == (True, None, None), result
    assert result.connect_ms is not None and result.dns_ms is None  # an IP needs no lookup
    assert (result.tls_ms, result.ttfb_ms, result.tls_version) == (None, None, None), result


def test_tcp_by_name_records_the_lookup(targets: Targets) -> None:
    result = check(f"tcp://localhost:{targets.ports['http']}")
    assert result.up is True, result
    assert result.dns_ms is not None and result.connect_ms is not None, result


def test_tcp_over_ipv6_loopback(targets: Targets) -> None:
    if not targets.ipv6:
        pytest.skip("no IPv6 loopback on this machine")
    result = check(f"tcp://[::1]:{targets.ports['http6']}")
    assert (result.up, result.error, result.dns_ms) == (True, None, None), result


def test_tcp_a_refused_port_is_down_with_connect() -> None:
    port = free_port()  # nothing listens there
    result = check(f"tcp://127.0.0.1:{port}")
    assert (result.up, result.error) == (False, "connect"), result
    assert result.error_detail == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert result.connect_ms is None, result


def test_tcp_send_and_expect_matches() -> None:
    result = with_server(b"+PONG\r\n", "?send=PING%0D%0A", r"^\+PONG")
    assert (result.up, result.error, result.regex_matched) == (True, None, True), result
    assert result.ttfb_ms is not None and result.connect_ms is not None, result
    assert result.ttfb_ms <= result.response_time_ms  # type: ignore[operator]


def test_tcp_a_reply_that_does_not_match_is_down() -> None:
    result = with_server(b"+PONG\r\n", "?send=PING%0D%0A", r"^\+OK")
    assert (result.up, result.error, result.regex_matched) == (False, None, False), result
    assert result.response_time_ms is not None, result


def test_tcp_the_payload_is_sent_as_decoded_bytes() -> None:
    # Sent undecoded, "PING%0D%0A" would get the -ERR reply.
    result = with_server(b"+PONG\r\n", "?send=PING%0d%0a", "PONG")
    assert result.regex_matched is True, result


def test_tcp_a_server_that_keeps_quiet_times_out_unmatched() -> None:
    result = with_server(b"+PONG\r\n", "?send=PING%0D%0A", "never", stay_open=True, timeout_s=0.5)
    assert (result.up, result.error, result.regex_matched) == (False, "timeout", False), result
    assert result.error_detail == "no matching reply within 0.5 s"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("tcp://127.0.0.1", "needs a port"),
        ("tcp://127.0.0.1:80/path", "no path"),
        ("tcp://127.0.0.1:80?sned=x", "unknown query parameter 'sned'"),
        ("dns://127.0.0.1/", "the name to resolve is the path"),
        ("dns:///www.test?type=BOGUS", "not a DNS record type"),
    ],
)
def test_a_malformed_url_is_invalid_url(url: str, why: str) -> None:
    result = check(url)
    assert (result.up, result.error) == (False, "invalid_url"), result
    assert why in (result.error_detail or ""), result
    assert result.connect_ms is None and result.dns_ms is None


def test_tcp_an_invalid_regex_is_refused_before_connecting(targets: Targets) -> None:
    result = check(f"tcp://127.0.0.1:{targets.ports['http']}", r"(a\1)")
    assert result.error == "invalid_regex" and result.connect_ms is None, result


# --- tls -------------------------------------------------------------------------------


def test_tls_a_valid_certificate_is_up_with_its_facts(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result = check(f"tls://127.0.0.1:{targets.ports['valid']}", ctx=client_ctx)
    assert (result.up, result.error) == (True, None), result
    assert result.tls_version in ("TLSv1.2", "TLSv1.3"), result
    assert result.tls_expires_at == targets.valid_not_after, result
    assert result.tls_ms is not None and result.connect_ms is not None, result
    assert result.ttfb_ms is None, result


def test_tls_by_name_sends_it_as_sni_and_verifies_it(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result = check(f"tls://localhost:{targets.ports['valid']}", ctx=client_ctx)
    assert result.up is True and result.dns_ms is not None, result
    wrong = check(f"tls://localhost:{targets.ports['wrong_host']}", ctx=client_ctx)
    assert (wrong.error, wrong.tls_version) == ("tls", None), wrong
    assert "Hostname mismatch" in (wrong.error_detail or ""), wrong


@pytest.mark.parametrize(
    ("flavour", "why"),
    [("expired", "certificate has expired"), ("self_signed", "self-signed certificate")],
)
def test_tls_a_bad_certificate_is_down(
    targets: Targets, client_ctx: ssl.SSLContext, flavour: str, why: str
) -> None:
    port = targets.ports[flavour]
    result = check(f"tls://127.0.0.1:{port}", ctx=client_ctx)
    assert (result.up, result.error) == (False, "tls"), result
    verify = f"certificate verify failed: {why}"
    assert result.error_detail == f"TLS failure with 127.0.0.1:{port}: {verify}", result
    assert result.connect_ms is not None, result  # the TCP connection was made
    assert (result.tls_ms, result.tls_version, result.tls_expires_at) == (None, None, None)


def test_tls_an_untrusted_ca_is_down(targets: Targets) -> None:
    result = check(f"tls://127.0.0.1:{targets.ports['valid']}")  # system CAs only
    assert (result.up, result.error) == (False, "tls"), result
    assert "unable to get local issuer certificate" in (result.error_detail or ""), result


def test_tls_plain_http_on_the_port_is_down(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result = check(f"tls://127.0.0.1:{targets.ports['http']}", ctx=client_ctx)
    assert (result.up, result.error) == (False, "tls"), result


def test_tls_a_server_that_closes_mid_handshake_is_down() -> None:
    """It reads the ClientHello and closes: a failed handshake, said in words."""

    async def main(prober: Prober) -> tuple[CheckResult, int]:
        async def close_after_hello(reader: asyncio.StreamReader, writer: Any) -> None:
            await reader.read(65536)
            writer.close()

        server = await asyncio.start_server(close_after_hello, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await prober.check(task(f"tls://127.0.0.1:{port}")), port
        finally:
            server.close()

    result, port = run(main)
    assert_http_columns_null(result)
    assert (result.up, result.error) == (False, "tls"), result
    detail = f"TLS failure with 127.0.0.1:{port}: the server closed the connection"
    assert result.error_detail == detail, result
    assert result.connect_ms is not None and result.tls_ms is None, result


# --- dns -------------------------------------------------------------------------------


def dns_url(server: DnsServer, name: str, query: str = "") -> str:
    return f"dns://{server.address}:{server.port}/{name}{query}"


def test_dns_a_name_resolves_and_is_up(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "www.test"))
    assert (result.up, result.error, result.regex_matched) == (True, None, None), result
    assert result.dns_ms is not None and result.connect_ms is None, result
    assert "www.test. A" in dns_server.queries


def test_dns_an_expected_answer_matches(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "www.test"), r"^127\.0\.0\.3$")
    assert (result.up, result.regex_matched) == (True, True), result


def test_dns_an_answer_that_does_not_match_is_down(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "www.test"), r"^10\.")
    assert (result.up, result.error, result.regex_matched) == (False, None, False), result
    assert result.response_time_ms is not None, result


def test_dns_a_record_type_and_its_presentation_form(dns_server: DnsServer) -> None:
    mx = check(dns_url(dns_server, "mail.test", "?type=MX"), r"^10 mx\.test\.$")
    assert (mx.up, mx.regex_matched) == (True, True), mx
    txt = check(dns_url(dns_server, "www.test", "?type=txt"), '"v=spf1')
    assert (txt.up, txt.regex_matched) == (True, True), txt


def test_dns_a_cname_chain_is_followed(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "alias.test"), r"^127\.0\.0\.1$")
    assert (result.up, result.regex_matched) == (True, True), result


def test_dns_a_truncated_answer_is_asked_again_over_tcp(dns_server: DnsServer) -> None:
    name = TRUNCATED_NAME.rstrip(".")
    result = check(dns_url(dns_server, name), f"^{TRUNCATED_ADDRESS}$")
    assert (result.up, result.regex_matched) == (True, True), result
    assert dns_server.queries.count(f"{TRUNCATED_NAME} A tcp") >= 1


def test_dns_nxdomain_is_down(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "nowhere.test"))
    assert (result.up, result.error) == (False, "dns"), result
    assert result.error_detail == f"nowhere.test A: NXDOMAIN from {dns_server.address}"
    assert result.dns_ms is not None  # the answer came: how long it took is known


def test_dns_servfail_and_no_data_are_down(dns_server: DnsServer) -> None:
    servfail = check(dns_url(dns_server, SERVFAIL_NAME.rstrip(".")))
    assert (servfail.error, servfail.up) == ("dns", False), servfail
    assert "SERVFAIL" in (servfail.error_detail or ""), servfail
    nodata = check(dns_url(dns_server, "mail.test", "?type=AAAA"))
    assert (nodata.error, nodata.up) == ("dns", False), nodata
    assert "no such record" in (nodata.error_detail or ""), nodata


def test_dns_a_resolver_that_never_answers_times_out(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, SILENT_NAME.rstrip(".")), timeout_s=0.5)
    assert (result.up, result.error) == (False, "timeout"), result
    assert result.error_detail == "no answer within 0.5 s"


# --- the target policy -------------------------------------------------------------------


def test_restricted_tcp_to_a_blocked_address_is_refused_unconnected() -> None:
    async def main(prober: Prober) -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal:
            url = f"tcp://{INTERNAL}:{internal.port}"
            result = await prober.check(task(url, restricted=True))
            return result, await internal.accepted()

    result, accepted = run(main, policy=POLICY)
    assert (result.error, result.up) == ("blocked", False), result
    assert result.error_detail == blocked_detail(INTERNAL)
    assert (result.connect_ms, result.response_time_ms) == (None, None), result
    assert accepted == 0


def test_restricted_tls_to_a_blocked_address_is_refused_unconnected() -> None:
    async def main(prober: Prober) -> tuple[CheckResult, int]:
        async with CountingServer(INTERNAL) as internal:
            result = await prober.check(task(f"tls://{INTERNAL}:{internal.port}", restricted=True))
            return result, await internal.accepted()

    result, accepted = run(main, policy=POLICY)
    assert (result.error, accepted) == ("blocked", 0), result


def test_restricted_tcp_to_an_allowed_address_is_checked() -> None:
    async def main(prober: Prober) -> tuple[CheckResult, int]:
        async with CountingServer("127.0.0.1") as server:
            result = await prober.check(task(f"tcp://127.0.0.1:{server.port}", restricted=True))
            return result, await server.accepted()

    result, accepted = run(main, policy=POLICY)
    assert (result.up, result.error, accepted) == (True, None, 1), result


def test_unrestricted_tcp_to_an_internal_address_is_checked() -> None:
    async def main(prober: Prober) -> CheckResult:
        async with CountingServer(INTERNAL) as internal:
            return await prober.check(task(f"tcp://{INTERNAL}:{internal.port}"))

    assert run(main, policy=POLICY).up is True


def test_restricted_dns_sends_no_query_to_a_blocked_resolver() -> None:
    with DnsServer(ZONE, address=INTERNAL) as internal:
        result = check(dns_url(internal, "www.test"), restricted=True, policy=POLICY)
        # A sentinel query of our own, answered: any query of the check's came before it.
        sentinel = dns.message.make_query("sentinel.test.", "A")
        dns.query.udp(sentinel, internal.address, timeout=5, port=internal.port)
        assert internal.queries == ["sentinel.test. A"]
    assert (result.error, result.up) == ("blocked", False), result
    assert result.error_detail == blocked_detail(INTERNAL)
    assert result.dns_ms is None, result


def test_restricted_dns_to_an_allowed_resolver_is_checked(dns_server: DnsServer) -> None:
    result = check(dns_url(dns_server, "www.test"), restricted=True, policy=POLICY)
    assert (result.up, result.error) == (True, None), result


def test_restricted_tcp_to_a_name_connects_only_to_its_permitted_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """internal.test resolves to 127.0.0.2 and 127.0.0.1: only the latter is connected to;
    inside.test resolves to 127.0.0.2 alone: blocked, with no connection at all."""
    names = {"internal.test": [INTERNAL, "127.0.0.1"], "inside.test": [INTERNAL]}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            if len(args) > 3 and args[3] & socket.AI_NUMERICHOST:
                raise socket.gaierror(socket.EAI_NONAME, "not a numeric host")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in names[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    async def main(prober: Prober) -> tuple[CheckResult, CheckResult, int, int]:
        async with CountingServer(INTERNAL) as internal:
            port = internal.port
            async with CountingServer("127.0.0.1", port=port) as allowed:
                mixed = await prober.check(task(f"tcp://internal.test:{port}", restricted=True))
                inside = await prober.check(task(f"tls://inside.test:{port}", restricted=True))
                return mixed, inside, await internal.accepted(), await allowed.accepted()

    mixed, inside, internal_accepted, allowed_accepted = run(main, policy=POLICY)
    assert (mixed.up, mixed.error, mixed.dns_ms is not None) == (True, None, True), mixed
    assert (inside.error, inside.error_detail) == ("blocked", blocked_detail(INTERNAL)), inside
    assert (internal_accepted, allowed_accepted) == (0, 1)
