"""`Prober.check` against real local servers (tests/support/targets.py): every outcome class.

No PostgreSQL or Kafka here. Each test runs its own event loop with `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from checker.probe import DEFAULT_USER_AGENT, Prober, body
from shared.messages import CheckResult, CheckTask
from tests.support.targets import LATIN1_TEXT, UTF16_TEXT, Targets

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")


@pytest.fixture(scope="module")
def client_ctx(targets: Targets) -> ssl.SSLContext:
    return targets.client_ssl_context()


def task(
    url: str,
    regex: str | None = None,
    timeout_s: float = 5.0,
    site_id: int = 1,
    **options: Any,
) -> CheckTask:
    """A task; `options` are the optional CheckTask fields (method, headers, expected_status)."""
    now = datetime.now(UTC)
    return CheckTask(
        site_id=site_id,
        url=url,
        timeout_s=timeout_s,
        scheduled_at=now,
        expires_at=now + timedelta(minutes=1),
        regex=regex,
        **options,
    )


def with_prober(ctx: ssl.SSLContext, fn: Callable[[Prober], Awaitable[T]], **kwargs: Any) -> T:
    async def main() -> T:
        async with Prober(ssl_context=ctx, **kwargs) as prober:
            return await fn(prober)

    return asyncio.run(main())


def check(
    ctx: ssl.SSLContext,
    url: str,
    regex: str | None = None,
    timeout_s: float = 5.0,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[CheckResult, float]:
    """One check; the result and the wall time it took in seconds. `kwargs` go to Prober."""

    async def one(prober: Prober) -> tuple[CheckResult, float]:
        started = time.perf_counter()
        result = await prober.check(task(url, regex, timeout_s, **(options or {})))
        return result, time.perf_counter() - started

    result, elapsed = with_prober(ctx, one, **kwargs)
    assert result.site_id == 1 and result.url == url
    if result.error_detail is not None:
        assert len(result.error_detail) <= 200
    if result.error is not None:
        assert result.up is False and result.response_time_ms is None
        assert result.regex_matched is None
    assert_phases_consistent(result, elapsed)
    return result, elapsed


def assert_phases_consistent(result: CheckResult, elapsed_s: float) -> None:
    """What holds for every result: phases fit inside the check, TLS facts come together."""
    phases = [result.dns_ms, result.connect_ms, result.tls_ms]
    assert all(p is None or p >= 0 for p in phases), result
    spent = sum(p for p in phases if p is not None)
    assert spent <= elapsed_s * 1000, result
    if result.ttfb_ms is not None:
        assert spent <= result.ttfb_ms <= elapsed_s * 1000, result
        if result.response_time_ms is not None:
            assert result.ttfb_ms <= result.response_time_ms, result
    if result.response_time_ms is not None:
        assert result.ttfb_ms is not None and result.connect_ms is not None, result
        assert result.redirects is not None, result
    assert (result.tls_version is None) == (result.tls_ms is None), result
    if result.url.startswith("http://") and result.redirects == 0:
        assert result.tls_ms is None, result


def assert_failed(result: CheckResult, error: str, status: int | None = None) -> None:
    assert (result.error, result.status_code, result.up) == (error, status, False), result
    assert result.error_detail


class RssSampler:
    """Peak resident set size of this process while the block runs, sampled every 5 ms."""

    def __init__(self) -> None:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 1e6


# --- responses -----------------------------------------------------------------------


def test_ok_with_matching_regex(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    before = datetime.now(UTC)
    result, elapsed = check(client_ctx, targets.url("/ok"), regex=r"hello\s+webmon$")
    assert (result.up, result.status_code, result.regex_matched, result.error) == (
        True,
        200,
        True,
        None,
    )
    assert result.error_detail is None
    assert before <= result.checked_at <= datetime.now(UTC)
    assert result.checked_at.tzinfo is not None
    assert result.response_time_ms is not None
    assert 0 < result.response_time_ms <= elapsed * 1000


def test_regex_mismatch_is_down(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/ok"), regex="goodbye")
    assert (result.up, result.status_code, result.regex_matched, result.error) == (
        False,
        200,
        False,
        None,
    )
    assert result.response_time_ms is not None


def test_phases_of_a_plain_check_by_ip_address(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, elapsed = check(client_ctx, targets.url("/ok"))
    assert result.up, result
    assert result.dns_ms is None  # an IP address is not resolved
    assert result.connect_ms is not None and 0 < result.connect_ms < 100
    assert (result.tls_ms, result.tls_version, result.tls_expires_at) == (None, None, None)
    assert result.ttfb_ms is not None and result.response_time_ms is not None
    assert result.connect_ms < result.ttfb_ms <= result.response_time_ms <= elapsed * 1000
    assert result.redirects == 0


def test_phases_with_a_host_name(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/ok").replace("127.0.0.1", "localhost"))
    assert result.up, result
    assert result.dns_ms is not None and 0 < result.dns_ms < 1000
    assert result.connect_ms is not None and result.ttfb_ms is not None
    assert result.dns_ms + result.connect_ms < result.ttfb_ms


def test_ttfb_comes_before_a_slow_body(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    # Headers and the first bytes at once, the rest of the body 200 ms later.
    result, _ = check(client_ctx, targets.url("/slow-body?ms=200"), regex="^start end$")
    assert (result.up, result.regex_matched) == (True, True), result
    assert result.ttfb_ms is not None and result.response_time_ms is not None
    assert result.ttfb_ms < 100, result
    assert 199 <= result.response_time_ms <= 300, result


def test_no_regex_leaves_regex_matched_null(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/ok"))
    assert (result.up, result.regex_matched, result.error) == (True, None, None)


@pytest.mark.parametrize("code", [404, 500, 503])
def test_error_status_is_a_response(
    targets: Targets, client_ctx: ssl.SSLContext, code: int
) -> None:
    result, _ = check(client_ctx, targets.url(f"/status/{code}"), regex="status")
    assert (result.up, result.status_code, result.error, result.regex_matched) == (
        False,
        code,
        None,
        True,
    )
    assert result.response_time_ms is not None


@pytest.mark.parametrize("code", [200, 204, 301, 399])
def test_2xx_3xx_final_status_is_up(
    targets: Targets, client_ctx: ssl.SSLContext, code: int
) -> None:
    # 301 without Location: nothing to follow, so it is the final status.
    result, _ = check(client_ctx, targets.url(f"/status/{code}"))
    assert (result.up, result.status_code, result.error) == (True, code, None)


def test_user_agent(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    assert DEFAULT_USER_AGENT.startswith("webmon/")
    result, _ = check(client_ctx, targets.url("/headers"), regex=r"(?m)^User-Agent: webmon/\S+ ")
    assert result.up, result


# --- expected status, method, headers ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected", "up"),
    [
        (404, ((404, 405),), True),
        (404, ((200, 300), (404, 405)), True),
        (200, ((404, 405),), False),
        (503, ((500, 600),), True),
        (301, ((200, 300),), False),  # 301 without Location: the final status
        (204, ((200, 300),), True),
    ],
)
def test_expected_status_decides_up(
    targets: Targets,
    client_ctx: ssl.SSLContext,
    code: int,
    expected: tuple[tuple[int, int], ...],
    up: bool,
) -> None:
    result, _ = check(
        client_ctx, targets.url(f"/status/{code}"), options={"expected_status": expected}
    )
    assert (result.up, result.status_code, result.error) == (up, code, None), result
    assert result.response_time_ms is not None


def test_expected_status_still_needs_the_regex(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    options = {"expected_status": ((404, 405),)}
    result, _ = check(client_ctx, targets.url("/status/404"), regex="nope", options=options)
    assert (result.up, result.status_code, result.regex_matched) == (False, 404, False)


def test_head_request(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    # /head-only answers HEAD with 200 and GET with 405, so the method really was HEAD.
    result, _ = check(client_ctx, targets.url("/head-only"), options={"method": "HEAD"})
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, None), result
    assert result.response_time_ms is not None and result.ttfb_ms is not None
    result, _ = check(client_ctx, targets.url("/head-only"))
    assert (result.up, result.status_code) == (False, 405), result


def test_head_request_reads_no_body_and_ignores_the_regex(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # The 100 MB body is never read: a GET would take far longer than this.
    result, elapsed = check(
        client_ctx, targets.url("/big?mb=100"), regex="MATCHME", options={"method": "HEAD"}
    )
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, None), result
    assert elapsed < 1


def test_head_request_follows_redirects(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/2"), options={"method": "HEAD"})
    assert (result.up, result.status_code, result.redirects) == (True, 200, 2), result


def test_extra_headers_are_sent_with_webmon_user_agent(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    options = {"headers": {"X-Webmon-Test": "yes", "Accept": "text/plain"}}
    for pattern in (
        r"(?m)^X-Webmon-Test: yes$",
        r"(?m)^User-Agent: webmon/\S+ ",
        r"(?m)^Accept: text/plain$",  # over aiohttp's default
    ):
        result, _ = check(client_ctx, targets.url("/headers"), regex=pattern, options=options)
        assert result.regex_matched is True, (pattern, result)
    result, _ = check(client_ctx, targets.url("/headers"), regex="(?m)^Accept: \\*/\\*$",
                      options=options)  # fmt: skip
    assert result.regex_matched is False, result


def test_site_user_agent_replaces_webmon_s(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    options = {"headers": {"user-agent": "my-monitor/1.0"}}
    result, _ = check(client_ctx, targets.url("/headers"), regex="webmon", options=options)
    assert result.regex_matched is False, result
    result, _ = check(
        client_ctx, targets.url("/headers"), regex=r"(?m)^User-Agent: my-monitor/1\.0$",
        options=options,
    )  # fmt: skip
    assert result.regex_matched is True, result


def test_long_header_line_is_accepted(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/big-header"), regex="hello")
    assert result.up, result


# --- redirects -----------------------------------------------------------------------


def test_redirects_within_limit(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/5"), regex="redirected", max_redirects=5)
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True)
    assert result.redirects == 5


@pytest.mark.parametrize("hops", [0, 1, 3])
def test_redirect_hops_are_counted(targets: Targets, client_ctx: ssl.SSLContext, hops: int) -> None:
    result, _ = check(client_ctx, targets.url(f"/redirect/{hops}"))
    assert (result.up, result.redirects) == (True, hops), result


def test_one_redirect_too_many(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/6"), max_redirects=5)
    assert_failed(result, "too_many_redirects")
    assert result.redirects == 5  # followed; the sixth was not
    assert result.error_detail == "more than 5 redirects, or a redirect loop"


def test_ten_hops_against_a_limit_of_ten(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/10"), max_redirects=10)
    assert (result.up, result.redirects) == (True, 10), result
    result, _ = check(client_ctx, targets.url("/redirect/10"), max_redirects=9)
    assert_failed(result, "too_many_redirects")
    assert result.redirects == 9


def test_zero_redirects_allowed(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/1"), max_redirects=0)
    assert_failed(result, "too_many_redirects")
    assert result.redirects == 0


def test_redirect_loop(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, elapsed = check(client_ctx, targets.url("/loop"))
    assert_failed(result, "too_many_redirects")
    assert result.redirects == 10  # the default limit
    assert elapsed < 2


def test_https_to_http_redirect_is_followed(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    plain = targets.url("/ok")
    result, _ = check(
        client_ctx, targets.url(f"/to?url={quote(plain)}", tls="valid"), regex="hello webmon"
    )
    assert (result.up, result.status_code, result.redirects) == (True, 200, 1), result
    # The TLS facts are those of the first (the site's own) TLS connection.
    assert result.tls_version is not None and result.tls_ms is not None
    assert result.tls_expires_at == targets.valid_not_after


def test_http_to_https_redirect_records_the_tls_hop(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    secure = targets.url("/redirect/1", tls="valid")
    result, _ = check(client_ctx, targets.url(f"/to?url={quote(secure)}"), regex="redirected")
    assert (result.up, result.redirects) == (True, 2), result
    assert result.tls_version is not None and result.tls_expires_at == targets.valid_not_after


def test_redirect_to_a_refused_port_keeps_the_hop_count(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        result, _ = check(client_ctx, targets.url(f"/to?url={quote(refused)}"))
    assert_failed(result, "connect")
    assert result.redirects == 1  # a response (the 302) arrived


# --- deadlines -----------------------------------------------------------------------


def test_slow_headers_time_out(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, elapsed = check(client_ctx, targets.url("/slow-headers?seconds=3"), timeout_s=1)
    assert_failed(result, "timeout")
    assert 1.0 <= elapsed < 1.5
    # Connected, then nothing: the connect phase is kept, there is no first byte.
    assert result.connect_ms is not None and result.ttfb_ms is None
    assert result.redirects is None


def test_drip_times_out_with_the_total_deadline(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # Bytes keep arriving every 100 ms, so only a total deadline can stop this.
    result, elapsed = check(client_ctx, targets.url("/drip"), regex="x", timeout_s=2)
    assert_failed(result, "timeout", status=200)  # headers had arrived: status is kept
    assert 2.0 <= elapsed < 2.5
    assert result.ttfb_ms is not None and result.ttfb_ms < 1000


def test_no_answer_times_out(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, elapsed = check(client_ctx, targets.url("/hang"), timeout_s=0.5)
    assert_failed(result, "timeout")
    assert elapsed < 1.0


def test_tls_handshake_that_never_completes_times_out(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # The raw responder waits for an HTTP request head, which a ClientHello never is.
    url = targets.url("/hang").replace("http://", "https://")
    result, elapsed = check(client_ctx, url, timeout_s=0.5)
    assert_failed(result, "timeout")
    assert elapsed < 1.0


def test_server_that_never_accepts_times_out(client_ctx: ssl.SSLContext) -> None:
    # A listening socket with a full accept queue that nobody accepts from.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            result, elapsed = check(client_ctx, f"http://127.0.0.1:{port}/", timeout_s=0.5)
        finally:
            for filler in fillers:
                filler.close()
    assert_failed(result, "timeout")
    assert elapsed < 1.0


def test_response_time_measures_the_delay(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    # The server sleeps 200 ms before answering. Over loopback the rest (connect, request,
    # response) took 2-9 ms here, also with both cores busy (two `yes` hogs): within 20 ms.
    async def run(prober: Prober) -> list[tuple[CheckResult, float]]:
        out = []
        for _ in range(3):
            started = time.perf_counter()
            result = await prober.check(task(targets.url("/delay?ms=200")))
            out.append((result, (time.perf_counter() - started) * 1000))
        return out

    for result, wall_ms in with_prober(client_ctx, run):
        assert result.up, result
        assert result.response_time_ms is not None and result.ttfb_ms is not None
        assert 199.0 <= result.response_time_ms <= 220.0, result.response_time_ms
        assert result.response_time_ms <= wall_ms
        # The first byte comes after the delay, and before the end of the body.
        assert 199.0 <= result.ttfb_ms < result.response_time_ms, result


# --- bodies --------------------------------------------------------------------------


def test_huge_body_match_at_start(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    with RssSampler() as rss:
        result, elapsed = check(
            client_ctx, targets.url("/big?mb=100&match=start"), regex="MATCHME", timeout_s=5
        )
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True)
    assert elapsed < 5
    assert rss.growth_mb < 50, rss.growth_mb


def test_huge_body_match_beyond_the_cap(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    with RssSampler() as rss:
        result, elapsed = check(
            client_ctx, targets.url("/big?mb=100&match=end"), regex="MATCHME", timeout_s=5
        )
    assert (result.up, result.status_code, result.regex_matched, result.error) == (
        False,
        200,
        False,
        None,
    )
    assert elapsed < 5
    assert rss.growth_mb < 50, rss.growth_mb


def test_cap_is_exact(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    # "hello webmon" cut at 10 bytes is "hello webm".
    result, _ = check(client_ctx, targets.url("/ok"), regex="webm$", max_body_bytes=10)
    assert result.regex_matched is True
    result, _ = check(client_ctx, targets.url("/ok"), regex="webmon", max_body_bytes=10)
    assert result.regex_matched is False


def test_gzip_bomb_is_capped_after_decompression(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    with RssSampler() as rss:
        # A cap of one window: `$` then means the cap, and the pattern spans all of it.
        result, elapsed = check(
            client_ctx,
            targets.url("/gzip-bomb"),
            regex=r"^\x00+$",
            timeout_s=10,
            max_body_bytes=body.DEFAULT_WINDOW,
        )
    # Only zeros were searched, so the body was inflated (test_cap_is_exact checks the cap).
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True)
    assert elapsed < 5
    assert rss.growth_mb < 50, rss.growth_mb


def test_catastrophic_pattern_is_linear(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, elapsed = check(client_ctx, targets.url("/aaab?n=1048000"), regex="(a+)+$")
    assert (result.status_code, result.regex_matched, result.up) == (200, False, False)
    assert elapsed < 1.0


def test_latin1_body(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/latin1"), regex=f"^{LATIN1_TEXT}$")
    assert result.regex_matched is True, result


def test_utf16_body(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/utf16"), regex=f"^{UTF16_TEXT}$")
    assert result.regex_matched is True, result


@pytest.mark.parametrize("charset", ["x-no-such-charset", "punycode", "idna", "zlib", "utf-8"])
def test_unknown_or_unfit_charset_falls_back_to_utf8(
    targets: Targets, client_ctx: ssl.SSLContext, charset: str
) -> None:
    result, _ = check(client_ctx, targets.url(f"/charset/{charset}"), regex="^hello charset$")
    assert (result.up, result.regex_matched) == (True, True), result


def test_binary_body_does_not_crash(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/binary"), regex="\ufffd")
    assert (result.error, result.status_code, result.regex_matched) == (None, 200, True)


# --- regexes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "(",
        "(?<=x)y",  # look-behind: Python re has it, RE2 does not
        r"(a)\1",  # back-reference
        r"\pL{1000}",  # parses, but the program does not fit RE2's max_mem
    ],
)
def test_invalid_regex(targets: Targets, client_ctx: ssl.SSLContext, pattern: str) -> None:
    result, _ = check(client_ctx, targets.url("/ok"), regex=pattern)
    assert_failed(result, "invalid_regex")
    assert result.error_detail is not None and result.error_detail.startswith("invalid regex")


# --- no response ---------------------------------------------------------------------


def test_connection_refused(client_ctx: ssl.SSLContext) -> None:
    # A bound socket that does not listen: connecting to it is refused, and no one else
    # can take the port meanwhile.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result, _ = check(client_ctx, f"http://127.0.0.1:{port}/")
    assert_failed(result, "connect")
    assert result.error_detail is not None and "refused" in result.error_detail.lower()
    assert (result.dns_ms, result.connect_ms, result.ttfb_ms, result.redirects) == (
        None,
        None,
        None,
        None,
    )


def test_dns_failure(client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, "http://nonexistent.invalid/")
    assert_failed(result, "dns")
    assert (result.dns_ms, result.connect_ms) == (None, None)  # neither completed


def test_userinfo_never_in_detail(client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, "http://alice:s3cr%40t@nonexistent.invalid/")
    assert_failed(result, "dns")
    assert result.error_detail is not None
    assert "s3cr" not in result.error_detail and "alice" not in result.error_detail


@pytest.mark.parametrize("path", ["/close-mid-body"])
def test_closed_mid_body(targets: Targets, client_ctx: ssl.SSLContext, path: str) -> None:
    result, _ = check(client_ctx, targets.url(path), regex="0123")
    assert_failed(result, "protocol", status=200)


@pytest.mark.parametrize("path", ["/garbage", "/no-response"])
def test_not_http(targets: Targets, client_ctx: ssl.SSLContext, path: str) -> None:
    result, _ = check(client_ctx, targets.url(path))
    assert_failed(result, "protocol")
    assert result.connect_ms is not None
    assert (result.ttfb_ms is not None) == (path == "/garbage")  # garbage is a first byte


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://127.0.0.1/",
        "http://",
        "http://[::1/",
        "http://127.0.0.1:99999/",
        "mailto:someone@example.com",
        "http://a..b/",  # an empty DNS label: getaddrinfo() would raise UnicodeError
        "http://xn--/",  # a punycode label that does not decode
    ],
)
def test_invalid_url(client_ctx: ssl.SSLContext, url: str) -> None:
    result, _ = check(client_ctx, url)
    assert_failed(result, "invalid_url")


def test_hostname_is_resolved(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    url = targets.url("/ok").replace("127.0.0.1", "localhost")
    result, _ = check(client_ctx, url, regex="hello")
    assert (result.up, result.status_code) == (True, 200), result


def test_ipv6_loopback(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    if not targets.ipv6:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    result, _ = check(client_ctx, targets.url("/ok", ipv6=True), regex="hello")
    assert (result.up, result.status_code) == (True, 200), result
    assert result.dns_ms is None and result.connect_ms is not None


# --- TLS -----------------------------------------------------------------------------


def test_tls_valid(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/ok", tls="valid"), regex="hello webmon")
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True), result
    assert result.tls_version in ("TLSv1.2", "TLSv1.3"), result
    assert result.tls_expires_at == targets.valid_not_after
    assert result.connect_ms is not None and result.tls_ms is not None and result.tls_ms > 0
    assert result.ttfb_ms is not None
    assert result.connect_ms + result.tls_ms < result.ttfb_ms


def test_tls_version_is_the_negotiated_one(targets: Targets) -> None:
    ctx = targets.client_ssl_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    result, _ = check(ctx, targets.url("/ok", tls="valid"))
    assert (result.up, result.tls_version) == (True, "TLSv1.2"), result


def test_tls_with_a_host_name(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    url = targets.url("/ok", tls="valid").replace("127.0.0.1", "localhost")
    result, _ = check(client_ctx, url)
    assert result.up, result
    assert result.dns_ms is not None and result.tls_expires_at == targets.valid_not_after


@pytest.mark.parametrize(
    ("flavour", "reason"),
    [
        ("self_signed", "self-signed"),
        ("expired", "expired"),
        ("wrong_host", "mismatch"),
    ],
)
def test_tls_failures(
    targets: Targets, client_ctx: ssl.SSLContext, flavour: str, reason: str
) -> None:
    result, _ = check(client_ctx, targets.url("/ok", tls=flavour))
    assert_failed(result, "tls")
    assert result.error_detail is not None and reason in result.error_detail.lower(), result
    # Connected, and the handshake failed: no TLS time, no TLS facts, no response.
    assert result.connect_ms is not None
    assert (result.tls_ms, result.tls_version, result.tls_expires_at) == (None, None, None)
    assert (result.ttfb_ms, result.redirects) == (None, None)


def test_tls_to_a_plain_http_port(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    plain = targets.url("/ok").replace("http://", "https://")
    result, _ = check(client_ctx, plain)
    assert_failed(result, "tls")


def test_default_ssl_context_does_not_trust_the_test_ca(targets: Targets) -> None:
    async def one(prober: Prober) -> CheckResult:
        return await prober.check(task(targets.url("/ok", tls="valid")))

    async def main() -> CheckResult:
        async with Prober() as prober:  # ssl.create_default_context(): system CAs only
            return await one(prober)

    assert_failed(asyncio.run(main()), "tls")


# --- robustness ----------------------------------------------------------------------


def test_internal_error_is_a_result_and_logged(
    targets: Targets,
    client_ctx: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(*args: object) -> bool:
        raise RuntimeError("regex engine exploded")

    monkeypatch.setattr(body, "_found", boom)
    with caplog.at_level(logging.WARNING, logger="checker.probe"):
        result, _ = check(client_ctx, targets.url("/ok"), regex="hello")
    assert_failed(result, "internal")
    assert any(r.getMessage().startswith("check.internal_error site_id=1 ") for r in caplog.records)


def test_cancellation_propagates(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    async def run(prober: Prober) -> str:
        job = asyncio.ensure_future(prober.check(task(targets.url("/hang"), timeout_s=30)))
        done, _ = await asyncio.wait([job], timeout=0.2)
        assert not done
        job.cancel()
        try:
            await job
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"

    assert with_prober(client_ctx, run) == "cancelled"


def test_many_concurrent_checks(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    urls = [targets.url("/ok"), targets.url("/ok", tls="valid")] * 100

    async def run(prober: Prober) -> list[CheckResult]:
        return await asyncio.gather(
            *(prober.check(task(u, "hello", site_id=i + 1)) for i, u in enumerate(urls))
        )

    results = with_prober(client_ctx, run)
    assert [r.site_id for r in results] == list(range(1, 201))
    assert all(r.up for r in results), [r for r in results if not r.up][:3]
    # Each check's trace is its own: TLS facts exactly on the https ones.
    assert [r.tls_version is not None for r in results] == [False, True] * 100
    assert all(r.redirects == 0 and r.connect_ms is not None for r in results)


def test_check_before_open_is_internal(targets: Targets) -> None:
    async def main() -> CheckResult:
        return await Prober().check(task(targets.url("/ok")))

    assert_failed(asyncio.run(main()), "internal")
