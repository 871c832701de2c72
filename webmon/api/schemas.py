"""Request and response models: they are the OpenAPI document. Responses are built from
rows by the `*_out` functions and serialised with orjson; the models describe them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from shared.messages import (
    MAX_BODY_BYTES,
    MAX_SITE_REDIRECTS,
    HeaderName,
    HeaderValue,
    StatusRange,
)
from shared.sealing import MAX_SECRET_BYTES
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


def _no_control(value: str) -> str:
    if any(c < " " or c == "\x7f" for c in value):
        raise ValueError("contains a control character")
    return value


class BasicAuthIn(_In):
    """HTTP basic auth (RFC 7617). Write-only: a response shows the kind and user name."""

    kind: Literal["basic"]
    username: Annotated[
        str, Field(min_length=1, max_length=256, pattern=r"^[^:]+$"), AfterValidator(_no_control)
    ]
    password: SecretStr = Field(min_length=1, max_length=MAX_SECRET_BYTES // 4)


def _printable(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().isprintable():  # it goes into a header as it is
        raise ValueError("contains a control character")
    return value


class BearerAuthIn(_In):
    """A bearer token (RFC 6750). Write-only: a response shows the kind."""

    kind: Literal["bearer"]
    token: Annotated[
        SecretStr,
        Field(min_length=1, max_length=MAX_SECRET_BYTES // 4),
        AfterValidator(_printable),
    ]


AuthIn = Annotated[BasicAuthIn | BearerAuthIn, Field(discriminator="kind")]
Method = Literal["GET", "HEAD", "POST", "PUT"]
MaxRedirects = Annotated[int, Field(ge=0, le=MAX_SITE_REDIRECTS)]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY_BYTES)]
ContentType = Annotated[str, Field(min_length=3, max_length=200, examples=["application/json"])]
# Refused for a site from the API (restricted): webmon/api/routes/sites.py.
LocalOption = Annotated[str, Field(min_length=1, max_length=4096)]
ServerName = Annotated[str, Field(min_length=1, max_length=253, examples=["internal.example"])]
HeaderMode = Literal["match", "not_match"]
RegexMode = Literal["match", "absent"]
# The options an API site (restricted) may not have: the target policy cannot see past a
# proxy, and a path names a file on the checker host.
LOCAL_OPTIONS = ("proxy", "tls_ca_file", "tls_cert_file", "tls_key_file")


class SiteIn(_In):
    url: Url
    interval_seconds: int = Field(default=60, ge=1, le=86400)
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=120, description="default: min(10, interval_seconds)"
    )
    regex: SiteRegex | None = None
    method: Method = "GET"
    headers: Headers | None = None
    expected_status: ExpectedStatus | None = None
    enabled: bool = True
    max_redirects: MaxRedirects | None = Field(
        default=None, description="null: the checkers' WEBMON_MAX_REDIRECTS"
    )
    body: Body | None = Field(default=None, description="POST and PUT only")
    body_content_type: ContentType | None = None
    proxy: LocalOption | None = Field(default=None, description="refused for API sites")
    tls_ca_file: LocalOption | None = Field(default=None, description="refused for API sites")
    tls_cert_file: LocalOption | None = Field(default=None, description="refused for API sites")
    tls_key_file: LocalOption | None = Field(default=None, description="refused for API sites")
    tls_verify: bool = True
    tls_server_name: ServerName | None = None
    ip_version: Literal[4, 6] | None = None
    require_tls: bool = False
    header_name: HeaderName | None = None
    header_regex: SiteRegex | None = None
    header_mode: HeaderMode = "match"
    regex_mode: RegexMode = "match"
    auth: AuthIn | None = Field(default=None, description="write-only")


class SitePatch(_In):
    """Only the fields given change; `null` clears regex, headers, expected_status,
    max_redirects, body, body_content_type, tls_server_name, ip_version, the header check
    or auth."""

    url: Url | None = None
    interval_seconds: int | None = Field(default=None, ge=1, le=86400)
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    regex: SiteRegex | None = None
    method: Method | None = None
    headers: Headers | None = None
    expected_status: ExpectedStatus | None = None
    enabled: bool | None = None
    max_redirects: MaxRedirects | None = None
    body: Body | None = None
    body_content_type: ContentType | None = None
    proxy: LocalOption | None = None
    tls_ca_file: LocalOption | None = None
    tls_cert_file: LocalOption | None = None
    tls_key_file: LocalOption | None = None
    tls_verify: bool | None = None
    tls_server_name: ServerName | None = None
    ip_version: Literal[4, 6] | None = None
    require_tls: bool | None = None
    header_name: HeaderName | None = None
    header_regex: SiteRegex | None = None
    header_mode: HeaderMode | None = None
    regex_mode: RegexMode | None = None
    auth: AuthIn | None = None


# PATCH fields that may not be null (they have a default instead).
NOT_NULL_FIELDS = (
    "interval_seconds", "method", "enabled", "tls_verify", "require_tls", "header_mode",
    "regex_mode",
)  # fmt: skip


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


class AuthOut(BaseModel):
    kind: Literal["basic", "bearer"]
    username: str | None = Field(description="basic auth's; the secret is never shown")


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
    max_redirects: int | None
    body: str | None
    body_content_type: str | None
    proxy: str | None
    tls_ca_file: str | None
    tls_cert_file: str | None
    tls_key_file: str | None
    tls_verify: bool
    tls_server_name: str | None
    ip_version: int | None
    require_tls: bool
    header_name: str | None
    header_regex: str | None
    header_mode: str
    regex_mode: str
    auth: AuthOut | None = Field(description="the kind (and basic's user name), never the secret")


# The option columns that follow the status in an api_sites row, in its order.
OPTION_COLUMNS = (
    "max_redirects", "body", "body_content_type", "proxy", "tls_ca_file", "tls_cert_file",
    "tls_key_file", "tls_verify", "tls_server_name", "ip_version", "require_tls",
    "header_name", "header_regex", "header_mode", "regex_mode",
)  # fmt: skip
_OPTIONS_AT = 23


def site_out(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        site_id, url, interval, timeout, regex, method, headers, expected, enabled,
        restricted, public, created_at, next_check_at, up, code, ms, error, detail, checked_at,
        scheduled_at, tls_version, tls_expires_at, regex_matched,
    ) = row[:_OPTIONS_AT]  # fmt: skip
    auth_kind, auth_username = row[_OPTIONS_AT + len(OPTION_COLUMNS) :]
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
        **dict(zip(OPTION_COLUMNS, row[_OPTIONS_AT:], strict=False)),
        "auth": None if auth_kind is None else {"kind": auth_kind, "username": auth_username},
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
