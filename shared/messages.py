"""The messages on the task and result topics: pydantic models, encoded with orjson.

Both carry a schema version `v`. The identity of a check is (site_id, scheduled_at): the
slot the scheduler claimed. Encoding goes through orjson (about 4x pydantic's own JSON on
this hot path, see docs/measurements.md); decoding validates through the pydantic model.
Unknown fields are ignored so that a newer producer can add optional fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Final, Literal, Self, TypeVar
from uuid import UUID

import msgspec
import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from shared.errors import MessageError

SCHEMA_VERSION = 1
# What the result columns hold: bigint ids; durations far above any check's deadline
# (timeout_s <= 600) are refused, so that none overflows a real column and fails its batch.
MAX_BIGINT = 2**63 - 1
MAX_MS = 1e7
# The other bounds of a result, shared by `CheckResult` and its msgspec twin `_ResultWire`.
MAX_URL = 8192
MAX_ERROR = 64
MAX_ERROR_DETAIL = 1000
MAX_TLS_VERSION = 32
MIN_STATUS, MAX_STATUS = 100, 999
MAX_REDIRECTS = 1000
# A site's own redirect limit (sites.max_redirects): the bound of WEBMON_MAX_REDIRECTS too.
MAX_SITE_REDIRECTS = 30


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: such a row would fail its whole batch, every retry.
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="python", exclude_none=True))


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("not an HTTP header name")
    return value


def _header_value(value: str) -> str:
    if any(c < " " or c == "\x7f" for c in value):
        raise ValueError("contains a control character")
    return value


def _status_range(value: tuple[int, int]) -> tuple[int, int]:
    low, high = value
    if not 100 <= low < high <= 600:
        raise ValueError("a status range is [low, high) with 100 <= low < high <= 600")
    return value


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, Field(max_length=8192), AfterValidator(_header_value)]
# [low, high): the statuses low .. high - 1.
StatusRange = Annotated[tuple[int, int], AfterValidator(_status_range)]

DEFAULT_METHOD: Final = "GET"
# Final statuses that count as up when a task names none: 200-399.
DEFAULT_EXPECTED_STATUS: tuple[tuple[int, int], ...] = ((200, 400),)
# A site's request body (sites_body_length), in UTF-8 bytes.
MAX_BODY_BYTES: Final = 65536
# The per-site HTTP options (migrations/0013_http_options.sql) in the task's field order;
# each is on a task only when it is not the default, as claim_due's `options` holds them.
HTTP_OPTIONS: Final = (
    "body", "body_content_type", "proxy", "tls_ca_file", "tls_cert_file", "tls_key_file",
    "tls_verify", "tls_server_name", "ip_version", "require_tls", "header_name",
    "header_regex", "header_mode", "regex_mode",
)  # fmt: skip
# The options' defaults, left out of an encoded task.
_OPTION_DEFAULTS: Final = {
    "tls_verify": True,
    "require_tls": False,
    "header_mode": "match",
    "regex_mode": "match",
}
FilePath = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_no_nul)]


class TaskAuth(BaseModel):
    """A site's credentials on its task: the secret sealed (`shared.sealing`), base64."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["basic", "bearer"]
    username: str | None = Field(default=None, max_length=256)
    sealed: str = Field(min_length=1, max_length=8192)

    def __repr__(self) -> str:  # never the sealed bytes in a log line either
        return f"TaskAuth(kind={self.kind!r}, username={self.username!r})"

    __str__ = __repr__


class CheckTask(_Message):
    """One check of one site for one scheduled slot.

    `method`, `headers` and `expected_status` are optional: a task without them (as every
    task before they existed) is a GET with webmon's headers, up on 200-399. `encode`
    leaves out a GET method and a false `restricted`, as `encode_task` does, so a plain
    site's task stays small.

    `url`'s scheme is the kind of check: http(s), or tcp://, tls://, dns://
    (`checker.probe.kind_urls`); the HTTP options mean nothing to the other kinds.

    `restricted`: the URL came from an untrusted user (the HTTP API), so the check may
    connect only to addresses the target policy permits (`shared.netpolicy`). Sites the
    operator registered (with SQL) are not restricted.
    """

    # A site's task, or (site 0) an on-demand check of the task `task_id`.
    site_id: int = Field(ge=0, le=MAX_BIGINT)
    task_id: UUID | None = None
    url: str = Field(min_length=1, max_length=MAX_URL)
    timeout_s: float = Field(gt=0, le=600)
    scheduled_at: AwareDatetime
    # The next slot: a task still unchecked by then is dropped as expired, not checked late.
    expires_at: AwareDatetime
    regex: str | None = None
    method: Literal["GET", "HEAD", "POST", "PUT"] = DEFAULT_METHOD
    # Extra request headers, over webmon's defaults.
    headers: dict[HeaderName, HeaderValue] | None = Field(default=None, max_length=50)
    # Final statuses that count as up, as [low, high) pairs; None: DEFAULT_EXPECTED_STATUS.
    expected_status: tuple[StatusRange, ...] | None = Field(
        default=None, min_length=1, max_length=64
    )
    restricted: bool = False
    # The site's redirect limit; None: the checker's WEBMON_MAX_REDIRECTS.
    max_redirects: int | None = Field(default=None, ge=0, le=MAX_SITE_REDIRECTS)
    # The per-site HTTP options (README, "Registering sites"), in HTTP_OPTIONS' order.
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_BYTES)
    body_content_type: HeaderValue | None = None
    proxy: str | None = Field(default=None, min_length=1, max_length=MAX_URL)
    tls_ca_file: FilePath | None = None
    tls_cert_file: FilePath | None = None
    tls_key_file: FilePath | None = None
    tls_verify: bool = True
    tls_server_name: str | None = Field(default=None, min_length=1, max_length=253)
    ip_version: Literal[4, 6] | None = None
    require_tls: bool = False
    header_name: HeaderName | None = None
    header_regex: str | None = Field(default=None, min_length=1, max_length=1000)
    header_mode: Literal["match", "not_match"] = "match"
    regex_mode: Literal["match", "absent"] = "match"
    auth: TaskAuth | None = None

    @model_validator(mode="after")
    def _a_site_or_a_task(self) -> Self:
        if (self.site_id == 0) != (self.task_id is not None):
            raise ValueError("a task names a site (site_id >= 1) or a task_id, not both")
        return self

    def encode(self) -> bytes:
        body = self.model_dump(mode="python", exclude_none=True)
        if body["method"] == DEFAULT_METHOD:
            del body["method"]
        if not body["restricted"]:
            del body["restricted"]
        for name, default in _OPTION_DEFAULTS.items():
            if body[name] == default:
                del body[name]
        return orjson.dumps(body)


Millisecond = Annotated[float, Field(ge=0, le=MAX_MS)]


# The error class of a slot that was emitted but not checked before its next slot came.
MISSED: Final = "missed"


class CheckResult(_Message):
    """What one check found, or that a slot was missed: `error` "missed" and `up` None
    (and nothing else measured), the only result whose `up` is None."""

    site_id: int = Field(ge=0, le=MAX_BIGINT)  # 0: an on-demand task's check
    task_id: UUID | None = None
    url: Text = Field(max_length=MAX_URL)
    scheduled_at: AwareDatetime
    checked_at: AwareDatetime
    response_time_ms: Millisecond | None = None
    status_code: int | None = Field(default=None, ge=MIN_STATUS, le=MAX_STATUS)
    regex_matched: bool | None = None
    error: Text | None = Field(default=None, max_length=MAX_ERROR)
    error_detail: Text | None = Field(default=None, max_length=MAX_ERROR_DETAIL)
    # None only for a missed slot (encoded without it, as every null is).
    up: bool | None = None
    # Phase durations in ms, null where the phase did not happen or did not complete:
    # name resolution, TCP connect, TLS handshake (summed over redirect hops), and the
    # time from the start of the check to the first byte of the final response.
    dns_ms: Millisecond | None = None
    connect_ms: Millisecond | None = None
    tls_ms: Millisecond | None = None
    ttfb_ms: Millisecond | None = None
    # Redirect hops followed; null when no HTTP response arrived at all.
    redirects: int | None = Field(default=None, ge=0, le=MAX_REDIRECTS)
    # Of the check's first TLS connection: protocol version and certificate expiry.
    tls_version: Text | None = Field(default=None, max_length=MAX_TLS_VERSION)
    tls_expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _up_is_none_only_when_missed(self) -> Self:
        if (self.up is None) != (self.error == MISSED):
            raise ValueError("up is null exactly when error is 'missed'")
        return self

    @classmethod
    def missed(cls, task: CheckTask, at: datetime) -> CheckResult:
        """The record of a task dropped unchecked at `at`, past its `expires_at`."""
        late = (at - task.scheduled_at).total_seconds()
        return cls(
            site_id=task.site_id,
            task_id=task.task_id,
            url=task.url,
            scheduled_at=task.scheduled_at,
            checked_at=at,
            error=MISSED,
            error_detail=f"not checked before the next slot: the task reached a checker "
            f"{late:.1f} s after its slot",
            up=None,
        )


# What an on-demand task's result keeps of its CheckResult: the fields of a check_results
# row that describe the check (not the site, the URL or the slot).
TASK_RESULT_EXCLUDE = frozenset({"v", "site_id", "task_id", "url", "scheduled_at"})


# An on-demand task's status: NEW (accepted, in PostgreSQL only), PROCESSING, COMPLETED
# (the check produced a result, up or down), ERROR (it could not be performed).
TASK_NEW: Final = 1
TASK_PROCESSING: Final = 2
TASK_COMPLETED: Final = 3
TASK_ERROR: Final = 4


class TaskStatus(IntEnum):
    """An on-demand task's status: the one spelling the writer, the API, the dashboard and
    the CLI use. It only moves forward; COMPLETED and ERROR are final."""

    NEW = TASK_NEW
    PROCESSING = TASK_PROCESSING
    COMPLETED = TASK_COMPLETED
    ERROR = TASK_ERROR

    @property
    def final(self) -> bool:
        return self >= TaskStatus.COMPLETED


# Results that mean the check was not performed: the task ends as ERROR.
NOT_PERFORMED = frozenset({"blocked", "expired"})


def expired_result(task: CheckTask, at: datetime) -> CheckResult:
    """The result of an on-demand task no checker started before it expired."""
    return CheckResult(
        site_id=task.site_id,
        task_id=task.task_id,
        url=task.url,
        scheduled_at=task.scheduled_at,
        checked_at=at,
        error="expired",
        error_detail="not started before it expired: the checkers were busy or down",
        up=False,
    )


class TaskUpdate(_Message):
    """An on-demand task's status moving on, on the on-demand results topic: PROCESSING
    (2) when a checker starts it, then COMPLETED (3, the check produced a result, up or
    down) or ERROR (4, it could not be performed: expired, blocked), with the result."""

    task_id: UUID
    status: Literal[2, 3, 4]
    at: AwareDatetime
    result: CheckResult | None = None

    @model_validator(mode="after")
    def _final_has_a_result(self) -> Self:
        if (self.status >= 3) != (self.result is not None):
            raise ValueError("a final status carries a result, PROCESSING none")
        return self

    def stored_result(self) -> dict[str, Any] | None:
        """The result as the task's `result` column holds it."""
        if self.result is None:
            return None
        return self.result.model_dump(mode="json", exclude=set(TASK_RESULT_EXCLUDE))


M = TypeVar("M", bound=_Message)


def encode_task(
    site_id: int,
    url: str,
    timeout_s: float,
    regex: str | None,
    scheduled_at: datetime,
    expires_at: datetime,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    expected_status: Sequence[Sequence[int]] | None = None,
    max_redirects: int | None = None,
    restricted: bool = False,
    options: dict[str, Any] | None = None,
    auth: dict[str, Any] | None = None,
) -> bytes:
    """The scheduler's fast path: same bytes as `CheckTask(...).encode()`, no validation.

    `method` None or "GET", `expected_status` None, `max_redirects` None and `restricted`
    False are the defaults and left out. `options`: the site's non-default HTTP options
    (claim_due's jsonb, None for a plain site), taken in HTTP_OPTIONS' order; `auth`: its
    sealed credentials. The positional order is `claim_due`'s columns.
    """
    body: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "site_id": site_id,
        "url": url,
        "timeout_s": timeout_s,
        "scheduled_at": scheduled_at,
        "expires_at": expires_at,
    }
    if regex is not None:
        body["regex"] = regex
    if method is not None and method != DEFAULT_METHOD:
        body["method"] = method
    if headers is not None:
        body["headers"] = headers
    if expected_status is not None:
        body["expected_status"] = expected_status
    if restricted:
        body["restricted"] = True
    if max_redirects is not None:
        body["max_redirects"] = max_redirects
    if options:
        for name in HTTP_OPTIONS:
            if name in options:
                body[name] = options[name]
    if auth is not None:  # a jsonb object: its keys come back in jsonb's order, not ours
        sealed = {"kind": auth["kind"]}
        if auth.get("username") is not None:
            sealed["username"] = auth["username"]
        sealed["sealed"] = auth["sealed"]
        body["auth"] = sealed
    return orjson.dumps(body)


def decode(model: type[M], raw: bytes | None) -> M:
    """Parse a message or raise `MessageError` with a short reason."""
    if raw is None:
        raise MessageError("empty message")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "message"
        raise MessageError(f"invalid {model.__name__}: {where}: {error.get('msg')}") from None


# The column order of a result row, as the writer COPYs it.
ResultRow = tuple[
    int, str, datetime, datetime, float | None, int | None, bool | None, bool | None, str | None,
    str | None,
    # dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version, tls_expires_at
    float | None, float | None, float | None, float | None, int | None, str | None,
    datetime | None,
]  # fmt: skip

# Where each field sits in a ResultRow: `row[UP]`, never `row[6]`. Literal ints, so a field
# read by name costs what one read by number does, and mypy knows each field's type.
SITE_ID: Final = 0
URL: Final = 1
SCHEDULED_AT: Final = 2
CHECKED_AT: Final = 3
RESPONSE_TIME_MS: Final = 4
STATUS_CODE: Final = 5
UP: Final = 6
REGEX_MATCHED: Final = 7
ERROR: Final = 8
ERROR_DETAIL: Final = 9
DNS_MS: Final = 10
CONNECT_MS: Final = 11
TLS_MS: Final = 12
TTFB_MS: Final = 13
REDIRECTS: Final = 14
TLS_VERSION: Final = 15
TLS_EXPIRES_AT: Final = 16


def result_row(result: CheckResult) -> ResultRow:
    return (
        result.site_id,
        result.url,
        result.scheduled_at,
        result.checked_at,
        result.response_time_ms,
        result.status_code,
        result.up,
        result.regex_matched,
        result.error,
        result.error_detail,
        result.dns_ms,
        result.connect_ms,
        result.tls_ms,
        result.ttfb_ms,
        result.redirects,
        result.tls_version,
        result.tls_expires_at,
    )


_WireMillisecond = Annotated[float, msgspec.Meta(ge=0, le=MAX_MS)]


class _ResultWire(msgspec.Struct, kw_only=True):
    """`CheckResult` as msgspec reads it: the same fields and bounds, strict types.

    NUL characters are refused after decoding, in `decode_result_row`.
    """

    v: Literal[1] = 1
    site_id: Annotated[int, msgspec.Meta(ge=0, le=MAX_BIGINT)]
    task_id: UUID | None = None
    url: Annotated[str, msgspec.Meta(max_length=MAX_URL)]
    scheduled_at: Annotated[datetime, msgspec.Meta(tz=True)]
    checked_at: Annotated[datetime, msgspec.Meta(tz=True)]
    response_time_ms: _WireMillisecond | None = None
    status_code: Annotated[int, msgspec.Meta(ge=MIN_STATUS, le=MAX_STATUS)] | None = None
    up: bool | None = None
    regex_matched: bool | None = None
    error: Annotated[str, msgspec.Meta(max_length=MAX_ERROR)] | None = None
    error_detail: Annotated[str, msgspec.Meta(max_length=MAX_ERROR_DETAIL)] | None = None
    dns_ms: _WireMillisecond | None = None
    connect_ms: _WireMillisecond | None = None
    tls_ms: _WireMillisecond | None = None
    ttfb_ms: _WireMillisecond | None = None
    redirects: Annotated[int, msgspec.Meta(ge=0, le=MAX_REDIRECTS)] | None = None
    tls_version: Annotated[str, msgspec.Meta(max_length=MAX_TLS_VERSION)] | None = None
    tls_expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


_decode_result_wire = msgspec.json.Decoder(_ResultWire).decode


NO_SITE = "invalid CheckResult: site_id: 0 is an on-demand task's result, with no site to store"


def _site_row(result: CheckResult) -> ResultRow:
    if result.site_id == 0:
        raise MessageError(NO_SITE)
    return result_row(result)


def decode_result_row(raw: bytes | None) -> ResultRow:
    """A result message as a row, or `MessageError`.

    The writer's hot path. msgspec reads the messages webmon itself writes in ~1 µs, with
    datetime parsing and the bounds in C (the orjson-and-type-checks path before it took
    ~4.5 µs, pydantic ~15 µs). It accepts nothing `CheckResult` would not; anything it
    refuses goes through `CheckResult`, which accepts it (pydantic's lax mode converts a
    little more) or rejects it with the reason.
    """
    try:
        w = _decode_result_wire(raw or b"")
    except msgspec.MsgspecError:
        return _site_row(decode(CheckResult, raw))
    if w.site_id == 0:
        raise MessageError(NO_SITE)
    url, error, detail, tls_version = w.url, w.error, w.error_detail, w.tls_version
    if (
        (w.up is None) != (error == MISSED)
        or "\x00" in url
        or (error is not None and "\x00" in error)
        or (detail is not None and "\x00" in detail)
        or (tls_version is not None and "\x00" in tls_version)
    ):
        return _site_row(decode(CheckResult, raw))
    return (
        w.site_id, url, w.scheduled_at, w.checked_at, w.response_time_ms, w.status_code, w.up,
        w.regex_matched, error, detail, w.dns_ms, w.connect_ms, w.tls_ms, w.ttfb_ms,
        w.redirects, tls_version, w.tls_expires_at,
    )  # fmt: skip
