"""Request and response models: they are the OpenAPI document. Responses are built from
rows by the `*_out` functions and serialised with orjson; the models describe them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.messages import HeaderName, HeaderValue, StatusRange
from webmon.regexes import regex_problem

Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/health"])]
Regex = Annotated[str, Field(min_length=1, max_length=1000, examples=['"status":\\s*"ok"'])]


def _compiles(pattern: str) -> str:
    if (problem := regex_problem(pattern)) is not None:
        raise ValueError(problem)
    return pattern


# A site's regex is judged when it is saved, by the checkers' own RE2 compiler; a task's
# is judged in webmon.submit, which answers with the task API's own problem.
SiteRegex = Annotated[Regex, AfterValidator(_compiles)]
Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=50)]
ExpectedStatus = Annotated[
    list[StatusRange],
    Field(
        min_length=1,
        max_length=64,
        description="[low, high) pairs of final statuses that count as up",
        examples=[[[200, 400]]],
    ),
]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL's text cannot hold U+0000: refused here as a 422 rather than by the
        # driver as a 500 (schemathesis found it).
        if _has_nul(data):
            raise ValueError("a string contains a NUL character (U+0000), which is not stored")
        return data


class SiteIn(_In):
    url: Url
    interval_seconds: int = Field(default=60, ge=1, le=86400)
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=120, description="default: min(10, interval_seconds)"
    )
    regex: SiteRegex | None = None
    method: Literal["GET", "HEAD"] = "GET"
    headers: Headers | None = None
    expected_status: ExpectedStatus | None = None
    enabled: bool = True


class SitePatch(_In):
    """Only the fields given change; `null` clears regex, headers or expected_status."""

    url: Url | None = None
    interval_seconds: int | None = Field(default=None, ge=1, le=86400)
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    regex: SiteRegex | None = None
    method: Literal["GET", "HEAD"] | None = None
    headers: Headers | None = None
    expected_status: ExpectedStatus | None = None
    enabled: bool | None = None


class SiteStatus(BaseModel):
    up: bool
    status_code: int | None
    response_time_ms: float | None
    error: str | None
    error_detail: str | None
    checked_at: datetime
    scheduled_at: datetime
    tls_version: str | None
    tls_expires_at: datetime | None
    regex_matched: bool | None


class SiteOut(BaseModel):
    id: int
    url: str
    interval_seconds: int
    timeout_seconds: float
    regex: str | None
    method: str
    headers: dict[str, str] | None
    expected_status: list[tuple[int, int]]
    enabled: bool
    restricted: bool = Field(description="checked under the target policy (came through the API)")
    public: bool = Field(description="shown on the dashboard's public status page")
    created_at: datetime
    next_check_at: datetime
    status: SiteStatus | None = Field(description="the latest check; null before the first")


def site_out(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        site_id, url, interval, timeout, regex, method, headers, expected, enabled,
        restricted, public, created_at, next_check_at, up, code, ms, error, detail, checked_at,
        scheduled_at, tls_version, tls_expires_at, regex_matched,
    ) = row  # fmt: skip
    status = None
    if up is not None:
        status = {
            "up": up,
            "status_code": code,
            "response_time_ms": ms,
            "error": error,
            "error_detail": detail,
            "checked_at": checked_at,
            "scheduled_at": scheduled_at,
            "tls_version": tls_version,
            "tls_expires_at": tls_expires_at,
            "regex_matched": regex_matched,
        }
    return {
        "id": site_id,
        "url": url,
        "interval_seconds": interval,
        "timeout_seconds": timeout,
        "regex": regex,
        "method": method,
        "headers": headers,
        "expected_status": [list(pair) for pair in expected],
        "enabled": enabled,
        "restricted": restricted,
        "public": public,
        "created_at": created_at,
        "next_check_at": next_check_at,
        "status": status,
    }


class BulkResult(BaseModel):
    ids: list[int] = Field(description="the new sites' ids, in the order of the items")


class CheckOut(BaseModel):
    """A stored check (or a missed slot: error "missed", up null)."""

    scheduled_at: datetime
    checked_at: datetime
    up: bool | None
    status_code: int | None
    response_time_ms: float | None
    regex_matched: bool | None
    error: str | None
    error_detail: str | None
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    redirects: int | None
    tls_version: str | None
    tls_expires_at: datetime | None


CHECK_FIELDS = tuple(CheckOut.model_fields)


class Uptime(BaseModel):
    since: str
    checks: int = Field(description="checks performed (missed slots are not checks)")
    up_checks: int
    uptime_pct: float | None
    missed: int = Field(description="slots not checked in time")
    p50_ms: float | None = Field(description="approximate beyond the last hour (rollups)")
    p95_ms: float | None


class Series(BaseModel):
    """Columns as arrays, one entry per hour or day, ready for a chart."""

    step: Literal["hour", "day"]
    t: list[datetime]
    checks: list[int]
    up_checks: list[int]
    missed: list[int]
    uptime_pct: list[float | None]
    avg_ms: list[float | None]
    p50_ms: list[float | None]
    p95_ms: list[float | None]


class EventOut(BaseModel):
    scheduled_at: datetime
    checked_at: datetime
    from_up: bool | None
    to_up: bool
    status_code: int | None
    error: str | None
    error_detail: str | None


class Summary(BaseModel):
    up: int
    down: int
    unchecked: int = Field(description="enabled sites not checked yet")
    disabled: int


class TaskIn(_In):
    name: str = Field(min_length=1, max_length=200, examples=["is the shop up?"])
    url: Url
    regex: Regex | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=60, description="default 10")
    method: Literal["GET", "HEAD"] = "GET"
    headers: Headers | None = None


class TaskAccepted(BaseModel):
    task_id: UUID


STATUS_NAMES = {1: "NEW", 2: "PROCESSING", 3: "COMPLETED", 4: "ERROR"}


class TaskOut(BaseModel):
    task_id: UUID
    name: str
    url: str
    status: Literal[1, 2, 3, 4]
    status_name: Literal["NEW", "PROCESSING", "COMPLETED", "ERROR"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        description="null until final; then the fields of a check_results row"
    )


def task_out(row: tuple[Any, ...]) -> dict[str, Any]:
    task_id, name, url, status, created_at, started_at, finished_at, result = row
    return {
        "task_id": str(task_id),
        "name": name,
        "url": url,
        "status": status,
        "status_name": STATUS_NAMES[status],
        "created_at": created_at,
        "started_at": started_at,
        "finished_at": finished_at,
        "result": result,
    }


class Health(BaseModel):
    status: Literal["ok", "fail"]
    database: Literal["ok", "lost"]
