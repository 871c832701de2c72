"""The check kinds that are not HTTP: tcp://, tls:// and dns:// sites, one result each.

`Prober.check` hands a task whose URL has one of these schemes to `KindProber.check`
(`checker.probe.kind_urls` has the URL forms). They share the task, the result, the
deadline, the probe's DNS thread pool, its SSL context and its target policy with the
HTTP check. Columns that do not apply stay null: `status_code` and `redirects` always,
`tls_*` but for tls://, `ttfb_ms` but for a tcp:// check that read a reply.
`response_time_ms` is the whole check (resolve, connect, and the handshake, the reply or
the answer), null when it failed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import time
from datetime import datetime

import dns.resolver

from checker.probe.dns_check import check_dns
from checker.probe.error_classes import (
    BLOCKED_DETAIL,
    classify,
    describe,
    internal_detail,
    reason,
    scrub,
)
from checker.probe.kind_net import KindFailure, Phases
from checker.probe.kind_urls import (
    DNS,
    TCP,
    UrlProblem,
    kind_of,
    parse_dns,
    parse_tcp,
    parse_tls,
)
from checker.probe.regex import RegexError, compile_regex
from checker.probe.results import check_result
from checker.probe.tcp_check import check_tcp
from checker.probe.tls_check import check_tls
from shared.messages import CheckResult, CheckTask
from shared.netpolicy import TargetBlocked, TargetPolicy

logger = logging.getLogger(__name__)
# A restricted dns:// check without a resolver of its own: it would ask the checker's.
RESOLVER_NEEDED = f"{BLOCKED_DETAIL}: a dns:// check from the API names its resolver"


def system_resolvers() -> tuple[str, ...]:
    """The nameservers of resolv.conf (none if it cannot be read)."""
    try:
        return tuple(str(ns) for ns in dns.resolver.Resolver().nameservers)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return ()


def _pending(kind: str, phases: Phases) -> str:
    """What a check that ran out of time was waiting for."""
    if kind == DNS:
        return "answer"
    if phases.connect_s is None:
        return "connection"
    return "TLS handshake" if kind != TCP else "matching reply"


def _detail(
    error: str, link: BaseException, kind: str, phases: Phases, timeout_s: float, where: str
) -> str:
    if error == "timeout":
        return f"no {_pending(kind, phases)} within {timeout_s:g} s"
    if error == "protocol" and kind == DNS:
        return f"invalid answer from {where}: {reason(link)}"
    if error == "protocol":
        return f"connection to {where} broke: {reason(link)}"
    return describe(error, link, where.rsplit(":", 1)[0], where) or internal_detail(link)


class KindProber:
    """The tcp, tls and dns checks of one `Prober`, with its pools and settings."""

    def __init__(
        self,
        executor: concurrent.futures.Executor,
        ssl_context: ssl.SSLContext,
        policy: TargetPolicy,
        resolvers: tuple[str, ...],
    ) -> None:
        self._executor = executor
        self._ssl_context = ssl_context
        self._policy = policy
        self._resolvers = resolvers

    async def check(self, task: CheckTask, checked_at: datetime) -> CheckResult:
        phases = Phases(time.perf_counter())
        kind = kind_of(task.url)
        where = ""
        try:
            regex = None if task.regex is None else compile_regex(task.regex)
        except RegexError as exc:
            return self._result(task, checked_at, phases, "invalid_regex", f"invalid regex: {exc}")
        try:
            if kind == DNS:
                question = parse_dns(task.url)
                where = question.resolver or "the system resolver"
            else:
                endpoint = parse_tcp(task.url) if kind == TCP else parse_tls(task.url)
                where = f"{endpoint.host}:{endpoint.port}"
        except UrlProblem as exc:
            return self._result(task, checked_at, phases, "invalid_url", f"invalid URL: {exc}")
        policy = self._policy if task.restricted else None
        if kind == DNS and policy is not None and question.resolver is None:
            # The checker's own resolvers answer the operator's questions, not a
            # stranger's: a restricted question names a resolver the policy allows.
            logger.info("check.blocked site_id=%s address=system-resolvers", task.site_id)
            return self._result(task, checked_at, phases, "blocked", RESOLVER_NEEDED)
        try:
            async with asyncio.timeout(task.timeout_s):
                if kind == DNS:
                    up = await check_dns(
                        question,
                        regex,
                        phases,
                        phases.started + task.timeout_s,
                        self._resolvers,
                        self._executor,
                        policy,
                    )
                elif kind == TCP:
                    up = await check_tcp(endpoint, regex, phases, self._executor, policy)
                else:
                    context = self._ssl_context
                    up = await check_tls(endpoint, context, phases, self._executor, policy)
            elapsed = time.perf_counter() - phases.started
        except KindFailure as exc:
            return self._result(task, checked_at, phases, exc.error, exc.detail)
        except Exception as exc:
            return self._failed(task, checked_at, phases, exc, kind, where)
        return self._result(task, checked_at, phases, None, None, up, elapsed)

    def _failed(
        self,
        task: CheckTask,
        checked_at: datetime,
        phases: Phases,
        exc: Exception,
        kind: str,
        where: str,
    ) -> CheckResult:
        error, link = classify(exc, phases.connect_s is not None)
        if error == "blocked":
            address = link.address if isinstance(link, TargetBlocked) else None
            logger.info("check.blocked site_id=%s address=%s", task.site_id, address)
        detail = _detail(error, link, kind, phases, task.timeout_s, where)
        if error == "internal":
            logger.warning("check.internal_error site_id=%s error=%s", task.site_id, detail)
        return self._result(task, checked_at, phases, error, detail)

    def _result(
        self,
        task: CheckTask,
        checked_at: datetime,
        phases: Phases,
        error: str | None,
        detail: str | None,
        up: bool = False,
        elapsed: float | None = None,
    ) -> CheckResult:
        return check_result(
            task,
            checked_at,
            phases,
            phases.started,
            error=error,
            detail=None if detail is None else scrub(detail),
            elapsed=elapsed,
            regex_matched=phases.regex_matched,
            up=up,
        )
