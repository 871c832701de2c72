"""Bodies as a browser takes them: every content coding it accepts, a body that cannot be
decoded, a regex found anywhere within the cap as the body streams, and a cut body said.

`Prober.check` against the local targets (tests/support/targets.py), loopback only.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

from checker.probe import Prober, body
from checker.probe.body import BodyScan, cut_detail
from checker.probe.regex import compile_regex
from tests.checks.test_probe import RssSampler, assert_failed, check, task
from tests.support.targets import Targets

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def client_ctx(targets: Targets) -> ssl.SSLContext:
    return targets.client_ssl_context()


# --- content codings -------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_every_coding_a_browser_accepts_is_decoded(
    targets: Targets, client_ctx: ssl.SSLContext, coding: str
) -> None:
    result, _ = check(client_ctx, targets.url(f"/encoded?coding={coding}"), regex="webmon, enc")
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True), result
    assert (result.error, result.error_detail) == (None, None)


def test_the_checker_asks_for_every_coding(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(
        client_ctx, targets.url("/headers"), regex=r"(?m)^Accept-Encoding: gzip, deflate, br, zstd$"
    )
    assert result.regex_matched is True, result


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_body_that_cannot_be_decoded_keeps_the_status(
    targets: Targets, client_ctx: ssl.SSLContext, coding: str
) -> None:
    url = targets.url(f"/bad-encoding?coding={coding}")
    result, elapsed = check(client_ctx, url, regex="hello")
    assert_failed(result, "content_encoding", status=200)
    assert result.error_detail is not None
    assert result.error_detail.startswith(f"the body from 127.0.0.1:{targets.ports['http']}")
    assert f"content-encoding: {coding}" in result.error_detail, result.error_detail
    assert result.ttfb_ms is not None and result.connect_ms is not None and result.redirects == 0
    assert elapsed < 2


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_body_nobody_needs_is_not_decoded(
    targets: Targets, client_ctx: ssl.SSLContext, coding: str
) -> None:
    # No regex: the body is not needed, so its coding cannot make the site down.
    result, _ = check(client_ctx, targets.url(f"/bad-encoding?coding={coding}"))
    assert (result.up, result.status_code, result.error) == (True, 200, None), result
    assert result.response_time_ms is not None


def test_an_unknown_coding_is_taken_as_it_is(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    # aiohttp, like browsers, passes a coding it does not know through undecoded.
    result, _ = check(client_ctx, targets.url("/bad-encoding?coding=x-webmon"), regex="not x-web")
    assert (result.up, result.regex_matched) == (True, True), result


# --- bodies beyond the window, and beyond the cap --------------------------------------


def test_a_match_near_the_end_of_a_2_mb_page_is_found(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    result, _ = check(client_ctx, targets.url("/big?mb=2&match=end"), regex="MATCHME")
    assert (result.up, result.status_code, result.regex_matched) == (True, 200, True), result
    assert result.error_detail is None


def test_a_cut_body_is_said(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    url = targets.url("/big?mb=2&match=end")
    result, _ = check(client_ctx, url, regex="MATCHME", max_body_bytes=1 << 20)
    assert (result.up, result.status_code, result.regex_matched) == (False, 200, False), result
    assert result.error is None
    assert result.error_detail == "regex not found in the first 1 MiB of a 2 MiB body"
    # Without a Content-Length the size is not known.
    result, _ = check(client_ctx, url + "&length=0", regex="MATCHME", max_body_bytes=1 << 20)
    assert result.error_detail == "regex not found in the first 1 MiB of a longer body"


def test_an_absent_regex_in_a_cut_body_is_up_and_said(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    url = targets.url("/big?mb=2&match=end")
    result, _ = check(
        client_ctx, url, regex="MATCHME", options={"regex_mode": "absent"}, max_body_bytes=1 << 20
    )
    assert (result.up, result.regex_matched) == (True, False), result
    assert result.error_detail == "regex not found in the first 1 MiB of a 2 MiB body"


def test_a_whole_body_says_nothing(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    result, _ = check(client_ctx, targets.url("/big?mb=2&match=none"), regex="MATCHME")
    assert (result.up, result.regex_matched, result.error_detail) == (False, False, None)


def test_a_streamed_search_holds_a_window_not_the_body(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # 32 MB read and searched (a match at its very end) in windows of 256 KiB.
    with RssSampler() as rss:
        result, _ = check(
            client_ctx,
            targets.url("/big?mb=32&match=end"),
            regex="MATCHME",
            timeout_s=20,
            max_body_bytes=32 << 20,
        )
    assert (result.up, result.regex_matched) == (True, True), result
    assert rss.growth_mb < 50, rss.growth_mb


def test_a_bomb_inflates_to_the_cap_and_no_further(
    targets: Targets, client_ctx: ssl.SSLContext
) -> None:
    # Nothing but zeros in the 8 MiB searched: the body was inflated, in bounded memory.
    with RssSampler() as rss:
        result, elapsed = check(
            client_ctx,
            targets.url("/gzip-bomb"),
            regex=r"[^\x00]",
            timeout_s=10,
            options={"regex_mode": "absent"},
        )
    assert (result.up, result.regex_matched) == (True, False), result
    assert result.error_detail == "regex not found in the first 8 MiB of a longer body"
    assert elapsed < 5
    assert rss.growth_mb < 50, rss.growth_mb


# --- the windowed search itself --------------------------------------------------------


def scan(pattern: str, chunks: list[bytes], charset: str | None = None, **kwargs: Any) -> bool:
    async def main() -> bool:
        found = BodyScan(compile_regex(pattern), charset, None, **kwargs)
        for chunk in chunks:
            await found.feed(chunk)
        return await found.finish()

    return asyncio.run(main())


WINDOW = {"window": 64, "overlap": 16}


def test_a_short_match_across_a_window_s_end_is_found() -> None:
    text = b"x" * 60 + b"needle" + b"x" * 200
    for size in (1, 7, 64, 300):  # however the body arrives
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert scan("needle", chunks, **WINDOW), size


def bytewise(text: bytes) -> list[bytes]:
    return [text[i : i + 1] for i in range(len(text))]


def test_anchors_mean_the_body_not_the_window() -> None:
    text = b"a" * 300
    assert scan("^a", [text], **WINDOW)
    assert scan("a$", [text], **WINDOW)
    assert not scan("^b|b$", [text], **WINDOW)
    # The second window (64 characters, overlapping by 16) starts at the 48th character,
    # just after the first ends at the 64th: neither is the body's start, end or a word
    # boundary.
    starts = b"a" * 48 + b"b" + b"a" * 300
    assert scan("ab", bytewise(starts), **WINDOW)
    assert not scan("^b", bytewise(starts), **WINDOW)
    assert not scan(r"(?m)^b", bytewise(starts), **WINDOW)
    assert not scan(r"\bb", bytewise(starts), **WINDOW)
    ends = b"a" * 63 + b"b" + b"a" * 300
    assert not scan("b$", bytewise(ends), **WINDOW)
    assert not scan(r"(?m)b$", bytewise(ends), **WINDOW)
    assert not scan(r"b\b", bytewise(ends), **WINDOW)
    assert scan(r"(?m)^x", bytewise(b"y" * 100 + b"\nx" + b"y" * 100), **WINDOW)
    assert scan(r"\bx\b", bytewise(b"y" * 47 + b" x " + b"y" * 100), **WINDOW)


def test_a_large_read_is_searched_in_windows_too() -> None:
    # One read of many windows: still a window at a time, the same answers.
    starts = b"a" * 48 + b"b" + b"a" * 300
    assert not scan("^b", [starts], **WINDOW)
    assert scan("needle", [b"x" * 500 + b"needle" + b"x" * 500], **WINDOW)


def test_multibyte_characters_split_between_reads() -> None:
    text = "é✓日本語".encode() * 40
    chunks = [text[i : i + 1] for i in range(len(text))]
    assert scan("語é✓日", chunks, **WINDOW)
    assert scan("wörld", ["hello wörld".encode("utf-16")[:7], "hello wörld".encode("utf-16")[7:]],
                "utf-16")  # fmt: skip


def test_cut_detail_sizes() -> None:
    assert cut_detail(8 << 20, 20 << 20) == "regex not found in the first 8 MiB of a 20 MiB body"
    assert cut_detail(1 << 20, 2_100_000) == (
        "regex not found in the first 1 MiB of a 2.0 MiB body"
    )
    assert cut_detail(10, None) == "regex not found in the first 10 bytes of a longer body"
    assert body.DEFAULT_OVERLAP < body.DEFAULT_WINDOW


def test_the_default_cap_searches_8_mib(targets: Targets, client_ctx: ssl.SSLContext) -> None:
    async def main() -> tuple[bool | None, str | None]:
        async with Prober(ssl_context=client_ctx) as prober:
            result = await prober.check(task(targets.url("/big?mb=9&match=end"), "MATCHME"))
            return result.regex_matched, result.error_detail

    assert asyncio.run(main()) == (False, "regex not found in the first 8 MiB of a 9 MiB body")
