"""The checks a browser or curl would call right: cookies across redirects, large heads,
redirect limits and counts, the status of a broken body, one attempt per check.

`Prober.check` against the local targets (tests/support/targets.py), loopback only.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import quote

import pytest

from checker.probe import Prober
from tests.checks.test_probe import assert_failed, check, task
from tests.support.targets import Targets

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def client_ctx(targets: Targets) -> ssl.SSLContext:
    return targets.client_ssl_context()


# --- cookies -------------------------------------------------------------------------


def test_a_cookie_set_by_a_redirect_is_sent_to_its_target(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, _ = check(client_ctx, targets.url("/cookies/set?k=v"), regex=r'"k":\s*"v"')
    assert (result.up, result.status_code, result.redirects) == (True, 200, 1), result
    assert result.regex_matched is True


def test_cookies_do_not_outlive_their_check(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    async def main() -> tuple[bool | None, bool | None]:
        async with Prober(ssl_context=client_ctx) as prober:
            first = await prober.check(task(targets.url("/cookies/set?k=v"), r'"k":\s*"v"'))
            second = await prober.check(task(targets.url("/cookies"), r'"cookies":\s*\{\}'))
            return first.regex_matched, second.regex_matched

    assert asyncio.run(main()) == (True, True)


def test_concurrent_checks_keep_their_own_cookies(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    async def main() -> list[bool | None]:
        async with Prober(ssl_context=client_ctx) as prober:
            results = await asyncio.gather(
                *(
                    prober.check(
                        task(
                            targets.url(f"/cookies/set?k{i}=v{i}"),
                            rf'^\{{"cookies": \{{"k{i}": "v{i}"\}}\}}$',
                        )
                    )
                    for i in range(20)
                )
            )
            return [r.regex_matched for r in results]

    assert asyncio.run(main()) == [True] * 20


# --- response heads ------------------------------------------------------------------


def test_100_kb_of_headers_is_up(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/large-head?kb=100&fields=2"), regex="hello")
    assert (result.up, result.status_code) == (True, 200), result


def test_one_100_kb_header_field_needs_a_higher_field_limit(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    url = targets.url("/large-head?kb=100&fields=1")
    result, _ = check(client_ctx, url)
    assert_failed(result, "protocol")  # over the default 64 KiB a field
    result, _ = check(client_ctx, url, max_header_field_bytes=128 * 1024)
    assert (result.up, result.status_code) == (True, 200), result


def test_a_head_over_the_total_limit_is_protocol(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, _ = check(client_ctx, targets.url("/large-head?kb=300&fields=6"))
    assert_failed(result, "protocol")
    assert result.error_detail is not None
    assert "response headers larger than 262144 bytes" in result.error_detail
    assert result.redirects is None
    result, _ = check(
        client_ctx, targets.url("/large-head?kb=300&fields=6"), max_header_bytes=400_000
    )
    assert (result.up, result.status_code) == (True, 200), result


def test_a_header_bomb_stops_at_the_limit(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, elapsed = check(client_ctx, targets.url("/large-head?kb=20000&fields=400"))
    assert_failed(result, "protocol")
    assert elapsed < 5


# --- redirects -----------------------------------------------------------------------


def test_six_redirects_are_followed_by_default(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, _ = check(client_ctx, targets.url("/redirect/6"), regex="redirected")
    assert (result.up, result.status_code, result.redirects) == (True, 200, 6), result


def test_a_task_s_redirect_limit_overrides_the_checker_s(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    url = targets.url("/redirect/6")
    result, _ = check(client_ctx, url, options={"max_redirects": 5})
    assert_failed(result, "too_many_redirects")
    assert result.redirects == 5
    assert result.error_detail == "more than 5 redirects, or a redirect loop"
    result, _ = check(client_ctx, url, options={"max_redirects": 6}, max_redirects=0)
    assert (result.up, result.redirects) == (True, 6), result


def test_a_redirect_to_ftp_counts_the_redirect(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, _ = check(client_ctx, targets.url(f"/to?url={quote('ftp://127.0.0.1/file')}"))
    assert_failed(result, "protocol")
    assert result.redirects == 1, result  # the 302 arrived
    assert result.error_detail is not None
    assert "to a URL that is not http(s): ftp://127.0.0.1/file" in result.error_detail


# --- broken responses ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/bad-chunk", "/bad-chunk?later=1"])
def test_a_malformed_chunk_keeps_the_status(
    targets: Targets, client_ctx: ssl.SSLContext, path: str
) -> None:
    result, elapsed = check(client_ctx, targets.url(path), regex="hello", timeout_s=5.0)
    assert_failed(result, "protocol", status=200)
    assert result.redirects == 0
    assert result.error_detail is not None and "chunk size" in result.error_detail
    assert elapsed < 2  # failed at once, not at the deadline


def test_a_close_without_a_byte_is_one_attempt(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    before = targets.raw_accepted()
    result, _ = check(client_ctx, targets.url("/no-response"))
    assert targets.raw_accepted() - before == 1
    assert_failed(result, "protocol")
    assert result.redirects is None and result.ttfb_ms is None
    assert result.connect_ms is not None


def test_a_head_request_is_one_attempt_too(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    before = targets.raw_accepted()
    result, _ = check(client_ctx, targets.url("/no-response"), options={"method": "HEAD"})
    assert targets.raw_accepted() - before == 1
    assert_failed(result, "protocol")
