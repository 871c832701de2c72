"""A check's `CheckResult`, from what it measured: one builder for every kind, and the
result of a check that a bug of ours ended."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from yarl import URL

from checker.probe.error_classes import internal_detail, scrub
from shared.messages import DEFAULT_EXPECTED_STATUS, CheckResult, CheckTask

logger = logging.getLogger(__name__)


class Measured(Protocol):
    """What the connection layer of a check saw (perf_counter seconds; None: not seen)."""

    @property
    def dns_s(self) -> float | None: ...
    @property
    def connect_s(self) -> float | None: ...
    @property
    def tls_s(self) -> float | None: ...
    @property
    def first_byte(self) -> float | None: ...  # the moment, not a duration
    @property
    def tls_version(self) -> str | None: ...
    @property
    def tls_expires_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class _Nothing:
    """What a check that ended before any connection was tried measured."""

    dns_s: None = None
    connect_s: None = None
    tls_s: None = None
    first_byte: None = None
    tls_version: None = None
    tls_expires_at: None = None


_NOTHING: Final = _Nothing()


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def status_expected(status: int, expected: tuple[tuple[int, int], ...] | None) -> bool:
    """Whether a final status counts as up: in `expected`, else in `DEFAULT_EXPECTED_STATUS`."""
    return any(low <= status < high for low, high in expected or DEFAULT_EXPECTED_STATUS)


def check_result(
    task: CheckTask,
    checked_at: datetime,
    measured: Measured = _NOTHING,
    started: float = 0.0,
    *,
    error: str | None = None,
    detail: str | None = None,
    status: int | None = None,
    elapsed: float | None = None,
    regex_matched: bool | None = None,
    up: bool = False,
    redirects: int | None = None,
) -> CheckResult:
    """The result of `task`. `measured`: left out when the check ended before any
    connection was tried (nothing was measured); `started`: perf_counter() at the check's
    start, for `ttfb_ms`; `elapsed`: seconds to the complete response (`response_time_ms`).
    """
    first_byte = measured.first_byte
    return CheckResult(
        site_id=task.site_id,
        url=task.url,
        scheduled_at=task.scheduled_at,
        checked_at=checked_at,
        response_time_ms=ms(elapsed),
        status_code=status,
        regex_matched=regex_matched,
        error=error,
        error_detail=detail,
        up=up,
        dns_ms=ms(measured.dns_s),
        connect_ms=ms(measured.connect_s),
        tls_ms=ms(measured.tls_s),
        ttfb_ms=None if first_byte is None else ms(first_byte - started),
        redirects=redirects,
        tls_version=measured.tls_version,
        tls_expires_at=measured.tls_expires_at,
        region=task.region,
        region_count=task.region_count,
    )


def internal_result(
    task: CheckTask,
    checked_at: datetime,
    url: URL | None,
    exc: BaseException,
    secret: str | None = None,
) -> CheckResult:
    """The result of a check that a bug of ours ended, logged. `secret`: the site's auth
    secret, scrubbed from the text should the exception carry it."""
    detail = scrub(internal_detail(exc), url, secret)
    logger.warning("check.internal_error site_id=%s error=%s", task.site_id, detail)
    return check_result(task, checked_at, error="internal", detail=detail)
