"""The checks a browser or curl would call right: cookies across redirects, large heads,
redirect limits and counts, the status of a broken body, one attempt per check, and a
failure's detail naming the redirect hop where it happened.

`Prober.check` against the local targets (tests/support/targets.py), loopback only.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import quote

import pytest

from checker.probe import Prober
from devstack.localstack import free_port
from shared.messages import CheckResult
from shared.netpolicy import DEFAULT_BLOCKED_NETWORKS, TargetPolicy
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


def test_one_100_kb_header_field_is_up_as_in_chrome(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    url = targets.url("/large-head?kb=100&fields=1")
    # The field limit is the whole head's by default (256 KiB), as in Chrome.
    result, _ = check(client_ctx, url, regex="hello")
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True), result
    # A lower field limit still refuses it (64 KiB was the default before).
    result, _ = check(client_ctx, url, max_header_field_bytes=64 * 1024)
    assert_failed(result, "protocol")
    result, _ = check(client_ctx, url, max_header_field_bytes=128 * 1024)
    assert (result.up, result.status_code) == (True, 200), result


def test_one_field_of_the_whole_head_s_size_is_up(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # 250 KB in one field: under 256 KiB of head in all, the limit for the field too.
    result, _ = check(client_ctx, targets.url("/large-head?kb=250&fields=1"))
    assert (result.up, result.status_code) == (True, 200), result
    result, _ = check(client_ctx, targets.url("/large-head?kb=270&fields=1"))
    assert_failed(result, "protocol")


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


# --- the hop that failed -------------------------------------------------------------


def failed_at_a_hop(
    ctx: ssl.SSLContext, url: str, timeout_s: float = 5.0, **kwargs: Any
) -> CheckResult:
    """One check that may fail after a response arrived. (`check`'s phase rule, connects
    before the first byte, holds for a chain that ends in a response: here a later hop may
    connect after the first response's first byte.)"""
    restricted = kwargs.pop("restricted", False)

    async def main() -> CheckResult:
        async with Prober(ssl_context=ctx, **kwargs) as prober:
            return await prober.check(task(url, timeout_s=timeout_s, restricted=restricted))

    result = asyncio.run(main())
    assert result.up is False and result.status_code is None and result.error_detail
    return result


def to(targets: Targets, *urls: str) -> str:
    """A chain of redirects on the plain target: through each of `urls`, in order."""
    location = urls[-1]
    for url in reversed(urls[:-1]):
        location = f"{url}?url={quote(location)}" if url.endswith("/to") else url
    return targets.url(f"/to?url={quote(location)}")


def test_a_redirect_to_a_refused_port_names_that_port(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    port = free_port()
    result = failed_at_a_hop(client_ctx, to(targets, f"http://127.0.0.1:{port}/"))
    assert result.error == "connect"
    assert (
        result.error_detail
        == f"cannot connect to 127.0.0.1:{port} (redirect 1): Connection refused"
    )
    assert result.redirects == 1
    # Two hops on: the second redirect.
    result = failed_at_a_hop(
        client_ctx, to(targets, targets.url("/to"), f"http://127.0.0.1:{port}/")
    )
    assert (
        result.error_detail
        == f"cannot connect to 127.0.0.1:{port} (redirect 2): Connection refused"
    )


def test_a_redirect_to_a_name_that_does_not_resolve_names_it(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result = failed_at_a_hop(client_ctx, to(targets, "http://webmon-hop.invalid:8080/"))
    assert result.error == "dns"
    assert result.error_detail is not None
    assert result.error_detail.startswith("cannot resolve webmon-hop.invalid (redirect 1): ")


def test_a_redirect_to_a_self_signed_server_names_it(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    self_signed = targets.url("/ok", tls="self_signed")
    result = failed_at_a_hop(client_ctx, to(targets, self_signed))
    assert result.error == "tls"
    port = targets.ports["self_signed"]
    assert result.error_detail == (
        f"TLS failure with 127.0.0.1:{port} (redirect 1): "
        "certificate verify failed: self-signed certificate"
    )


def test_the_url_s_own_failure_names_no_redirect(client_ctx: ssl.SSLContext) -> None:
    port = free_port()
    result = failed_at_a_hop(client_ctx, f"http://127.0.0.1:{port}/")
    assert result.error_detail == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_a_timeout_after_a_redirect_names_the_hop(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result = failed_at_a_hop(client_ctx, to(targets, targets.url("/hang")), timeout_s=0.5)
    assert result.error == "timeout"
    raw = targets.ports["raw"]
    assert result.error_detail == f"no response from 127.0.0.1:{raw} (redirect 1) within 0.5 s"


def test_a_restricted_check_names_the_hop_by_its_position_only(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # 127.0.0.1 stands in for a public address the policy allows (test_target_policy.py).
    policy = TargetPolicy.from_settings(DEFAULT_BLOCKED_NETWORKS, ["127.0.0.1/32"])
    port = free_port()
    cases = {
        to(targets, f"http://127.0.0.1:{port}/"): ("connect", "cannot connect to redirect 1: "),
        to(targets, targets.url("/ok", tls="self_signed")): (
            "tls",
            "TLS failure with redirect 1: ",
        ),
        to(targets, "http://webmon-hop.invalid/"): (
            "dns",
            "cannot resolve the host of redirect 1: ",
        ),
        f"http://127.0.0.1:{port}/": ("connect", "cannot connect to the URL: "),
    }
    for url, (error, start) in cases.items():
        result = failed_at_a_hop(client_ctx, url, restricted=True, policy=policy)
        assert result.error == error, (url, result)
        assert result.error_detail is not None and result.error_detail.startswith(start), result
        assert "127.0.0.1" not in result.error_detail and "invalid" not in result.error_detail
