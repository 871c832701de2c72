"""The HTTP check: one request of an http(s) site, its redirects followed, and its result.

The deadline `task.timeout_s` covers DNS, connect, TLS, every redirect hop, headers and
body together. The regex search runs after it (RE2, linear time, on at most
`max_body_bytes`) and, for large bodies, in a worker thread so that a hostile pattern
costs CPU but does not stall the event loop.

A site's HTTP options (body, auth, proxy, TLS files and settings, ip_version, require_tls,
header and keyword-absent checks; `checker.probe.options`) are looked at only when the
task carries one: a plain task skips them with one set test. `ip_version` rides on the
trace: the resolver asks getaddrinfo for that family only, and the socket factory
refuses an IP literal of the other, for every connection of the check (a proxy's too).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import ssl
import time
from datetime import datetime
from typing import Any, Final

import aiohttp
from yarl import URL

from checker.probe.error_classes import classify, describe, internal_detail, reason, scrub
from checker.probe.http_trace import TRACE, Trace
from checker.probe.http_transport import open_session
from checker.probe.kind_urls import http_url_problem
from checker.probe.options import (
    OptionError,
    Prepared,
    TlsContexts,
    prepare,
    response_problem,
    restricted_problem,
)
from checker.probe.regex import RegexError, compile_regex, search_body
from checker.probe.results import check_result, internal_result, status_expected
from checker.probe.target_guard import GUARD, Guard
from shared.messages import CheckResult, CheckTask
from shared.netpolicy import TargetBlocked, TargetPolicy
from shared.sealing import SecretBox

logger = logging.getLogger(__name__)

# Bodies larger than this are decoded and searched in a worker thread (RE2 releases the
# GIL); smaller ones inline, where a thread hop would cost more than the search.
_INLINE_SEARCH_BYTES: Final = 32 * 1024


class HttpCheck:
    """The http(s) checks of one `Prober`: its session (`open` .. `close`) and settings."""

    def __init__(
        self,
        *,
        max_body_bytes: int,
        max_redirects: int,
        policy: TargetPolicy,
        secrets: SecretBox | None,
    ) -> None:
        self._max_body_bytes = max_body_bytes
        self._max_redirects = max_redirects
        self._policy = policy
        self._secrets = secrets
        self._tls_contexts = TlsContexts()
        self._session: aiohttp.ClientSession | None = None
        self._regex_pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def open(
        self,
        ssl_context: ssl.SSLContext,
        dns_executor: concurrent.futures.Executor,
        *,
        user_agent: str,
        max_header_field_bytes: int,
        max_header_bytes: int,
    ) -> None:
        """Create the session and the regex thread pool."""
        self._regex_pool = concurrent.futures.ThreadPoolExecutor(
            2, thread_name_prefix="webmon-regex"
        )
        self._session = open_session(
            ssl_context=ssl_context,
            dns_executor=dns_executor,
            user_agent=user_agent,
            max_header_field_bytes=max_header_field_bytes,
            max_header_bytes=max_header_bytes,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if self._regex_pool is not None:
            self._regex_pool.shutdown(wait=False, cancel_futures=True)
        self._regex_pool = None

    async def check(self, task: CheckTask, checked_at: datetime) -> CheckResult:
        """Check one http(s) site once; raises only on a bug of ours (or cancellation)."""
        regex: Any = None
        if task.regex is not None:
            try:
                regex = compile_regex(task.regex)
            except RegexError as exc:
                detail = scrub(f"invalid regex: {exc}")
                return check_result(task, checked_at, error="invalid_regex", detail=detail)
        url, problem = http_url_problem(task.url)
        if url is None or problem is not None:
            detail = scrub(f"invalid URL: {problem}", url)
            return check_result(task, checked_at, error="invalid_url", detail=detail)
        session = self._session
        if session is None:
            raise RuntimeError("Prober.open() was not awaited")
        options: Prepared | None = None
        kwargs: dict[str, Any] = {"headers": task.headers}
        if task.has_http_options:  # a plain site skips it all
            refused = restricted_problem(task) if task.restricted else None
            if refused is not None:
                return check_result(task, checked_at, error="blocked", detail=refused)
            try:
                options = prepare(task, self._secrets, self._tls_contexts)
            except RegexError as exc:
                detail = scrub(f"invalid header regex: {exc}")
                return check_result(task, checked_at, error="invalid_regex", detail=detail)
            except OptionError as exc:
                logger.warning("check.config_error site_id=%s error=%s", task.site_id, exc)
                detail = scrub(str(exc), url)
                return check_result(task, checked_at, error="config", detail=detail)
            kwargs.update(options.kwargs)

        status: int | None = None
        max_redirects = self._max_redirects if task.max_redirects is None else task.max_redirects
        head = task.method == "HEAD"
        trace = Trace()
        if task.ip_version is not None:
            trace.family = socket.AF_INET if task.ip_version == 4 else socket.AF_INET6
        token = TRACE.set(trace)
        guard = Guard(self._policy) if task.restricted else None
        guard_token = GUARD.set(guard) if guard is not None else None
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
            secret = options.secret if options is not None else None
            error, link = classify(exc)
            if guard is not None and guard.refused is not None and error == "connect":
                # No address could be connected to, and the policy refused one of them:
                # the refusal is the reason, even where aiohappyeyeballs lost it.
                error, link = "blocked", guard.refused
            if error == "blocked":
                address = link.address if isinstance(link, TargetBlocked) else None
                logger.info("check.blocked site_id=%s address=%s", task.site_id, address)
            if error == "internal":
                return internal_result(task, checked_at, url, exc, secret)
            detail = scrub(_detail(error, link, task, url, status, max_redirects), url, secret)
            return check_result(
                task,
                checked_at,
                trace,
                started,
                error=error,
                detail=detail,
                status=status,
                redirects=_redirects(trace, max_redirects),
            )
        finally:
            TRACE.reset(token)
            if guard_token is not None:
                GUARD.reset(guard_token)

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
            failed, failure = response_problem(task, options, final_url, response_headers)
        # regex_mode "absent": up only if the pattern was not found.
        regex_ok = matched is not (task.regex_mode == "absent")
        return check_result(
            task,
            checked_at,
            trace,
            started,
            error=failed,
            detail=failure,
            status=status,
            elapsed=elapsed,
            regex_matched=matched,
            up=failed is None and status_expected(status, task.expected_status) and regex_ok,
            redirects=_redirects(trace, max_redirects),
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


def _redirects(trace: Trace, max_redirects: int) -> int | None:
    """Redirect responses received, at most the check's limit; None without a response."""
    return None if trace.status is None else min(trace.redirects, max_redirects)


def _detail(
    error: str,
    link: BaseException,
    task: CheckTask,
    url: URL,
    status: int | None,
    max_redirects: int,
) -> str:
    where = f"{url.host}:{url.port}" if url.host else "the site"
    if error == "timeout":
        if status is not None:
            return f"no complete body within {task.timeout_s:g} s (status {status} arrived)"
        return f"no response within {task.timeout_s:g} s"
    if error == "too_many_redirects":
        return f"more than {max_redirects} redirects, or a redirect loop"
    if error == "protocol" and isinstance(link, aiohttp.RedirectClientError):
        return f"redirect from {where} to a URL that is not http(s): {reason(link)}"
    if error == "protocol":
        return f"invalid or incomplete response from {where}: {reason(link)}"
    return describe(error, link, url.host, where) or internal_detail(link)
