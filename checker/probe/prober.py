"""One check of one site: `Prober.check(task) -> CheckResult`.

The probe's one interface: the rest of the checker sees `Prober` and the
`CheckTask`/`CheckResult` models. An http(s) URL is an HTTP check
(`checker.probe.http_check`, on aiohttp: measured, see docs/measurements.md); a tcp://,
tls:// or dns:// URL is one of the other kinds (`checker.probe.kinds`). Every failure is
a result with an error class (`checker.probe.error_classes`), never an exception.

What a result means (the public contract, see docs/design.md):

* `checked_at`: wall-clock UTC when the request started.
* `response_time_ms`: monotonic time from the start of the request (DNS, connect, TLS,
  redirects included) to the end of the body, or to the moment `max_body_bytes` had been
  read (counted after decompression when the regex needs the body, as received when not).
  A GET always reads the body, with or without a regex, so the figure means the same for
  every site; a HEAD has none, and its figure ends with the headers. Null when no complete
  response arrived (any `error` but `invalid_regex`, which is decided before any request
  and also leaves it null).
* `status_code`: the final status after redirects, whenever response headers arrived,
  even if the body then timed out or broke (`error` says so).
* `regex_matched`: null when the site has no regex or no body was read (HEAD); searched
  in the first `max_body_bytes` as the body streams (`checker.probe.body`). When it was
  not found and the body went on past the cap, `error_detail` says so ("regex not found
  in the first 8 MiB of a 20 MiB body").
* `error`: null when a response arrived, even a 500. Otherwise one class of
  `checker.probe.error_classes`; its detail names the redirect hop that failed.
* `up`: a response arrived within the deadline, its final status is in the task's
  `expected_status` (default 200-399) and the regex, if any, matched.
* `dns_ms`, `connect_ms`, `tls_ms`: how long name resolution, the TCP connect and the TLS
  handshake took, summed over redirect hops; null when the phase did not happen (an IP
  address needs no DNS, http no TLS) or never completed (a refused connect, a failed
  handshake, the deadline).
* `ttfb_ms`: from the start of the check to the first byte of the last response received
  (the final one, after redirects); null when no byte arrived.
* `redirects`: redirect responses received (a 301/302/303/307/308 with a Location), at
  most the check's `max_redirects` (the one beyond the limit is not followed and not
  counted); a redirect to a URL that cannot be followed (`ftp://`) counts. Null when no
  HTTP response arrived at all.
* `tls_version`, `tls_expires_at`: protocol version and certificate `notAfter` of the
  check's first TLS connection (the site's own server for an https URL); null without one.

One check is one attempt: no retry after a disconnect (`checker.probe.http_transport`).
Cookies a response sets go back on the next hops of the same chain, never to another
check (`checker.probe.cookies`). The target policy (`shared.netpolicy`) applies to
restricted tasks only, at connect time (`checker.probe.target_guard`). The deadline
`task.timeout_s` covers DNS, connect, TLS, every redirect hop, headers and body together.
"""

from __future__ import annotations

import concurrent.futures
import ssl
from datetime import UTC, datetime
from types import TracebackType
from typing import Final

from checker.probe.http_check import HttpCheck
from checker.probe.kind_urls import HTTP, kind_of
from checker.probe.kinds import KindProber, system_resolvers
from checker.probe.results import internal_result
from shared.messages import CheckResult, CheckTask
from shared.netpolicy import TargetPolicy
from shared.sealing import SecretBox
from shared.version import version

DEFAULT_USER_AGENT: Final = f"webmon/{version()} (+https://github.com/webmon)"
# getaddrinfo() blocks, so it runs in threads. The loop's default executor has
# min(32, cpus + 4) threads, which caps a check rate at threads / DNS latency (6 threads
# and 20 ms lookups: 300 checks/s). The probe has its own, larger pool.
_DNS_THREADS: Final = 64
# Response heads: aiohttp's defaults (8 KiB a line) reject real sites with long CSP or
# cookie headers. Chrome takes 256 KiB of headers in all, in one field if need be.
DEFAULT_MAX_HEADER_FIELD_BYTES: Final = 256 * 1024
DEFAULT_MAX_HEADER_BYTES: Final = 256 * 1024
DEFAULT_MAX_REDIRECTS: Final = 10
# Body bytes read and searched per check. Not what a check holds: the body streams through
# a window (`checker.probe.body`); the figures that chose it are in docs/measurements.md.
DEFAULT_MAX_BODY_BYTES: Final = 8 << 20


class Prober:
    """One per checker process; owns the HTTP client/session and the shared SSL context.

    Every check opens a fresh connection (DNS, connect and TLS are part of what is
    measured) and closes it; the session, connector, SSL context, thread pools and
    compiled regexes are shared. Concurrency is the caller's: the probe sets no limit.
    """

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_header_field_bytes: int = DEFAULT_MAX_HEADER_FIELD_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        user_agent: str = DEFAULT_USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        policy: TargetPolicy | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        """`max_redirects`: for a task that names none. `policy`: what a restricted task
        may connect to (None: `TargetPolicy.default()`); unrestricted tasks are not
        subject to it. `secrets`: opens the sites' sealed credentials (WEBMON_SECRET_KEY);
        without it a site with auth is a `config` result."""
        if max_body_bytes < 0 or max_redirects < 0:
            raise ValueError("max_body_bytes and max_redirects must be >= 0")
        if max_header_field_bytes < 1 or max_header_bytes < 1:
            raise ValueError("max_header_field_bytes and max_header_bytes must be >= 1")
        self._max_header_field_bytes = max_header_field_bytes
        self._max_header_bytes = max_header_bytes
        self._user_agent = user_agent
        self._ssl_context = ssl_context
        self._policy = policy if policy is not None else TargetPolicy.default()
        self._http = HttpCheck(
            max_body_bytes=max_body_bytes,
            max_redirects=max_redirects,
            policy=self._policy,
            secrets=secrets,
        )
        self._dns_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._kinds: KindProber | None = None  # tcp://, tls:// and dns:// checks

    async def open(self) -> None:
        """Create the session (and the default SSL context, which reads the CA store)."""
        if self._kinds is not None:
            return
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        self._dns_pool = concurrent.futures.ThreadPoolExecutor(
            _DNS_THREADS, thread_name_prefix="webmon-dns"
        )
        await self._http.open(
            self._ssl_context,
            self._dns_pool,
            user_agent=self._user_agent,
            max_header_field_bytes=self._max_header_field_bytes,
            max_header_bytes=self._max_header_bytes,
        )
        self._kinds = KindProber(
            self._dns_pool, self._ssl_context, self._policy, system_resolvers()
        )

    async def close(self) -> None:
        await self._http.close()
        if self._dns_pool is not None:
            self._dns_pool.shutdown(wait=False, cancel_futures=True)
        self._dns_pool = None
        self._kinds = None

    async def __aenter__(self) -> Prober:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def check(self, task: CheckTask) -> CheckResult:
        """Check one site once. Never raises, except `asyncio.CancelledError`."""
        checked_at = datetime.now(UTC)
        try:
            if self._kinds is not None and kind_of(task.url) != HTTP:
                return await self._kinds.check(task, checked_at)
            return await self._http.check(task, checked_at)
        except Exception as exc:  # a bug of ours: keep the checker going
            return internal_result(task, checked_at, None, exc)
