"""The result topic's message, `CheckResult`, and the `check_results` row it is stored as.

The struct is the row's one definition: its fields that carry a column type
(`bounds.column`) are the COPY columns, in the struct's order (`RESULT_COLUMNS`,
`RESULT_COLUMN_TYPES`), and `copy_row` reads them off a result. Adding a column is a
field here, a migration, and the SQL that moves it from staging into its tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from msgspec import Meta

from shared.errors import MessageError
from shared.messages.bounds import (
    COLUMN,
    DEFAULT_REGION,
    MAX_BIGINT,
    MAX_ERROR,
    MAX_ERROR_DETAIL,
    MAX_MS,
    MAX_REDIRECTS,
    MAX_STATUS,
    MAX_TLS_VERSION,
    MAX_URL,
    MIN_STATUS,
    REGION_RULE,
    column,
    region_ok,
)
from shared.messages.codec import Message, decoder, describe
from shared.messages.tasks import CheckTask, Region, RegionCount

# The error class of a slot that was emitted but not checked before its next slot came.
MISSED: Final = "missed"
# Results that mean the check was not performed: an on-demand task ends as ERROR.
NOT_PERFORMED = frozenset({"blocked", "expired"})

_Stamp = Annotated[datetime, Meta(tz=True), column("timestamptz")]
# A duration in ms, stored as real (float4) but for the response time (double precision).
_Ms = Annotated[float, Meta(ge=0, le=MAX_MS), column("float4")]


class CheckResult(Message, kw_only=True, frozen=True):
    """What one check found, or that a slot was missed: `error` "missed" and `up` None
    (and nothing else measured), the only result whose `up` is None."""

    # The fields that are not stored come first (copy_row slices the others off).
    task_id: UUID | None = None  # an on-demand task's result: its task
    # The task's `region_count`: more than one, the writer takes the site's state from
    # its regions' quorum. Left out of the encoding when 1. Not stored.
    region_count: RegionCount = 1
    site_id: Annotated[int, Meta(ge=0, le=MAX_BIGINT), column("int8")]  # 0: on demand
    url: Annotated[str, Meta(max_length=MAX_URL), column("text")]
    scheduled_at: _Stamp
    checked_at: _Stamp
    response_time_ms: Annotated[float, Meta(ge=0, le=MAX_MS), column("float8")] | None = None
    status_code: Annotated[int, Meta(ge=MIN_STATUS, le=MAX_STATUS), column("int2")] | None = None
    regex_matched: Annotated[bool, column("bool")] | None = None
    error: Annotated[str, Meta(max_length=MAX_ERROR), column("text")] | None = None
    error_detail: Annotated[str, Meta(max_length=MAX_ERROR_DETAIL), column("text")] | None = None
    # None only for a missed slot (encoded without it, as every null is).
    up: Annotated[bool, column("bool")] | None = None
    # Phase durations in ms, null where the phase did not happen or did not complete:
    # name resolution, TCP connect, TLS handshake (summed over redirect hops), and the
    # time from the start of the check to the first byte of the final response.
    dns_ms: _Ms | None = None
    connect_ms: _Ms | None = None
    tls_ms: _Ms | None = None
    ttfb_ms: _Ms | None = None
    # Redirect hops followed; null when no HTTP response arrived at all.
    redirects: Annotated[int, Meta(ge=0, le=MAX_REDIRECTS), column("int2")] | None = None
    # Of the check's first TLS connection: protocol version and certificate expiry.
    tls_version: Annotated[str, Meta(max_length=MAX_TLS_VERSION), column("text")] | None = None
    tls_expires_at: _Stamp | None = None
    # The region of the checker that made the check (or recorded the miss): with the site
    # and the slot, the check's identity. Left out of the encoding for the default region.
    region: Annotated[Region, column("text")] = DEFAULT_REGION

    def __post_init__(self) -> None:
        # Spelt out, not a loop: on the writer's hot path this is a third of a decode.
        error, detail, tls_version = self.error, self.error_detail, self.tls_version
        if (self.up is None) != (error == MISSED):
            raise ValueError("up is null exactly when error is 'missed'")
        if not region_ok(self.region):
            raise ValueError(REGION_RULE)
        if (
            "\x00" in self.url
            or (error is not None and "\x00" in error)
            or (detail is not None and "\x00" in detail)
            or (tls_version is not None and "\x00" in tls_version)
        ):
            raise ValueError("a text field contains a NUL character (PostgreSQL text cannot)")

    @classmethod
    def missed(cls, task: CheckTask, at: datetime) -> CheckResult:
        """The record of a task dropped unchecked at `at`, past its `expires_at`."""
        late = (at - task.scheduled_at).total_seconds()
        detail = f"not checked before the next slot: the task reached a checker {late:.1f} s "
        return _unchecked(task, at, MISSED, detail + "after its slot", up=None)


def expired_result(task: CheckTask, at: datetime) -> CheckResult:
    """The result of an on-demand task no checker started before it expired."""
    detail = "not started before it expired: the checkers were busy or down"
    return _unchecked(task, at, "expired", detail, up=False)


def _unchecked(
    task: CheckTask, at: datetime, error: str, detail: str, *, up: bool | None
) -> CheckResult:
    return CheckResult(
        site_id=task.site_id,
        task_id=task.task_id,
        url=task.url,
        scheduled_at=task.scheduled_at,
        checked_at=at,
        error=error,
        error_detail=detail,
        up=up,
        region=task.region,
        region_count=task.region_count,
    )


def _column_type(t: msgspec.inspect.Type) -> str | None:
    """The column type a field's annotation names, if any (through `X | None`)."""
    if isinstance(t, msgspec.inspect.UnionType):
        found = {_column_type(member) for member in t.types} - {None}
        return found.pop() if found else None
    if isinstance(t, msgspec.inspect.Metadata) and t.extra is not None:
        pg_type = t.extra.get(COLUMN)
        return pg_type if isinstance(pg_type, str) else None
    return None


def _result_columns() -> tuple[tuple[str, str], ...]:
    info = msgspec.inspect.type_info(CheckResult)
    assert isinstance(info, msgspec.inspect.StructType)
    found = ((f.name, _column_type(f.type)) for f in info.fields)
    return tuple((name, pg_type) for name, pg_type in found if pg_type is not None)


# The stored fields of a result, in the struct's order, and their PostgreSQL types: what
# the writer COPYs into its staging table (checker/writer/queries.sql, `create_staging`).
RESULT_COLUMNS: Final = tuple(name for name, _ in _result_columns())
RESULT_COLUMN_TYPES: Final = tuple(pg_type for _, pg_type in _result_columns())
_FIRST_COLUMN: Final = CheckResult.__struct_fields__.index(RESULT_COLUMNS[0])
if CheckResult.__struct_fields__[_FIRST_COLUMN:] != RESULT_COLUMNS:
    raise TypeError("CheckResult: the stored fields (with a column type) must come last")
_astuple = msgspec.structs.astuple


def copy_row(result: CheckResult) -> tuple[Any, ...]:
    """A result's COPY row: its RESULT_COLUMNS' values. The struct's own tuple, sliced, on
    the writer's hot path: measured at about half the cost of an attrgetter of them."""
    return _astuple(result)[_FIRST_COLUMN:]


NO_SITE = "invalid CheckResult: site_id: 0 is an on-demand task's result, with no site to store"
_decode_result = decoder(CheckResult).decode


def decode_result(raw: bytes | None) -> CheckResult:
    """A result message to store (not an on-demand task's), or `MessageError`: the
    writer's hot path, its bounds and datetimes checked in C."""
    if raw is None:
        raise MessageError("empty message")
    try:
        result = _decode_result(raw)
    except msgspec.MsgspecError as exc:
        raise MessageError(describe(CheckResult, exc)) from None
    if result.site_id == 0:
        raise MessageError(NO_SITE)
    return result
