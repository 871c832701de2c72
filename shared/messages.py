"""The messages on the task and result topics: pydantic models, encoded with orjson.

Both carry a schema version `v`. The identity of a check is (site_id, scheduled_at): the
slot the scheduler claimed. Encoding goes through orjson (about 4x pydantic's own JSON on
this hot path, see MEASUREMENTS.md); decoding validates through the pydantic model.
Unknown fields are ignored so that a newer producer can add optional fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import MessageError

SCHEMA_VERSION = 1


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


class CheckTask(_Message):
    """One check of one site for one scheduled slot.

    `method`, `headers` and `expected_status` are optional: a task without them (as every
    task before they existed) is a GET with webmon's headers, up on 200-399. `encode`
    leaves out a GET method, as `encode_task` does, so a plain site's task stays small.
    """

    site_id: int = Field(ge=1)
    url: str = Field(min_length=1, max_length=8192)
    timeout_s: float = Field(gt=0, le=600)
    scheduled_at: AwareDatetime
    # The next slot: a task still unchecked by then is dropped as expired, not checked late.
    expires_at: AwareDatetime
    regex: str | None = None
    method: Literal["GET", "HEAD"] = DEFAULT_METHOD
    # Extra request headers, over webmon's defaults.
    headers: dict[HeaderName, HeaderValue] | None = Field(default=None, max_length=50)
    # Final statuses that count as up, as [low, high) pairs; None: DEFAULT_EXPECTED_STATUS.
    expected_status: tuple[StatusRange, ...] | None = Field(
        default=None, min_length=1, max_length=64
    )

    def encode(self) -> bytes:
        body = self.model_dump(mode="python", exclude_none=True)
        if body["method"] == DEFAULT_METHOD:
            del body["method"]
        return orjson.dumps(body)


class CheckResult(_Message):
    """What one check found."""

    site_id: int = Field(ge=1)
    url: Text = Field(max_length=8192)
    scheduled_at: AwareDatetime
    checked_at: AwareDatetime
    response_time_ms: float | None = Field(default=None, ge=0)
    status_code: int | None = Field(default=None, ge=100, le=999)
    regex_matched: bool | None = None
    error: Text | None = Field(default=None, max_length=64)
    error_detail: Text | None = Field(default=None, max_length=1000)
    up: bool
    # Phase durations in ms, null where the phase did not happen or did not complete:
    # name resolution, TCP connect, TLS handshake (summed over redirect hops), and the
    # time from the start of the check to the first byte of the final response.
    dns_ms: float | None = Field(default=None, ge=0)
    connect_ms: float | None = Field(default=None, ge=0)
    tls_ms: float | None = Field(default=None, ge=0)
    ttfb_ms: float | None = Field(default=None, ge=0)
    # Redirect hops followed; null when no HTTP response arrived at all.
    redirects: int | None = Field(default=None, ge=0, le=1000)
    # Of the check's first TLS connection: protocol version and certificate expiry.
    tls_version: Text | None = Field(default=None, max_length=32)
    tls_expires_at: AwareDatetime | None = None


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
) -> bytes:
    """The scheduler's fast path: same bytes as `CheckTask(...).encode()`, no validation.

    `method` None or "GET", and `expected_status` None, are the defaults and left out.
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
    int, str, datetime, datetime, float | None, int | None, bool, bool | None, str | None,
    str | None,
    # dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version, tls_expires_at
    float | None, float | None, float | None, float | None, int | None, str | None,
    datetime | None,
]  # fmt: skip


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


def _text(value: Any, limit: int) -> bool:
    return value is None or (type(value) is str and len(value) <= limit and "\x00" not in value)


def _ms(value: Any) -> bool:
    return value is None or (type(value) is float and value >= 0)


def decode_result_row(raw: bytes | None) -> ResultRow:
    """A result message as a row, or `MessageError`.

    The writer's hot path: orjson and plain type checks accept the messages webmon itself
    writes (~3.5x faster than pydantic); anything else goes through `CheckResult`, which
    accepts or rejects it with the reason. The fast path accepts nothing the model would not.
    """
    try:
        d = orjson.loads(raw or b"")
        scheduled_at = datetime.fromisoformat(d["scheduled_at"])
        checked_at = datetime.fromisoformat(d["checked_at"])
        site_id, url, up = d["site_id"], d["url"], d["up"]
        rt, status, matched = (
            d.get("response_time_ms"),
            d.get("status_code"),
            d.get("regex_matched"),
        )
        error, detail = d.get("error"), d.get("error_detail")
        dns, connect, tls, ttfb = (
            d.get("dns_ms"),
            d.get("connect_ms"),
            d.get("tls_ms"),
            d.get("ttfb_ms"),
        )
        redirects, tls_version, raw_expiry = (
            d.get("redirects"),
            d.get("tls_version"),
            d.get("tls_expires_at"),
        )
        tls_expires_at = None if raw_expiry is None else datetime.fromisoformat(raw_expiry)
        if (
            d.get("v") == SCHEMA_VERSION
            and type(site_id) is int
            and site_id >= 1
            and type(url) is str
            and _text(url, 8192)
            and scheduled_at.tzinfo is not None
            and checked_at.tzinfo is not None
            and (rt is None or (type(rt) is float and rt >= 0))
            and (status is None or (type(status) is int and 100 <= status <= 999))
            and type(up) is bool
            and (matched is None or type(matched) is bool)
            and _text(error, 64)
            and _text(detail, 1000)
            and _ms(dns)
            and _ms(connect)
            and _ms(tls)
            and _ms(ttfb)
            and (redirects is None or (type(redirects) is int and 0 <= redirects <= 1000))
            and _text(tls_version, 32)
            and (tls_expires_at is None or tls_expires_at.tzinfo is not None)
        ):
            return (
                site_id, url, scheduled_at, checked_at, rt, status, up, matched, error, detail,
                dns, connect, tls, ttfb, redirects, tls_version, tls_expires_at,
            )  # fmt: skip
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        pass
    return result_row(decode(CheckResult, raw))
