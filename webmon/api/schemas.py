"""Response models, where a response is not one of the core's typed rows as it is: the
OpenAPI document names the core's rows (`Check`, `Event`, `Incident`, ...) themselves, and
the request models are the core's too (`webmon.core.site_rules`, `webmon.core.tasks`, ...),
where their rules live. Responses are serialised with orjson, or are JSON PostgreSQL made."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.task_status import TaskStatus


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


class AdvisoryOut(BaseModel):
    """A region below the quorum: failing check after check while the quorum says up."""

    region: str
    since: datetime = Field(description="the first slot of its current run of down checks")
    failures: int = Field(description="down checks in a row (checks in a region outage skipped)")


class RegionUptime(BaseModel):
    """One region of a site over the period, beside the quorum's uptime."""

    region: str
    checks: int
    up_checks: int
    uptime_pct: float | None
    missed: int
    p50_ms: float | None = Field(description="approximate beyond the last hour (rollups)")
    avg_ms: float | None
    last_up: bool | None = Field(description="its latest check's state; null: none kept raw")
    last_checked_at: datetime | None
    out: bool = Field(
        description="an outage of the region covers now: its checks count for nothing"
    )


class AuthOut(BaseModel):
    kind: Literal["basic", "bearer"]
    username: str | None = Field(description="basic auth's; the secret is never shown")


class SiteOut(BaseModel):
    id: int
    url: str
    name: str | None = Field(description="the display name; null: pages show the URL")
    tags: list[str] = Field(description="each `key` or `key:value`")
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
    regions: list[str] = Field(description="the regions the site is checked from")
    quorum: int | None = Field(description="regions that must see it down; null: a majority")
    cert_expiry_days: int = Field(description="warns this many days before its certificate expires")
    auth: AuthOut | None = Field(description="the kind (and basic's user name), never the secret")
    advisories: list[AdvisoryOut] = Field(
        description="regions failing in a row while the quorum says up; empty for most sites"
    )


class BulkResult(BaseModel):
    ids: list[int] = Field(description="the new sites' ids, in the order of the items")


class Uptime(BaseModel):
    since: str
    region: str | None = Field(description="the region counted; null: the site")
    checks: int = Field(
        description="checks performed (missed slots are not checks); by quorum: slots with a "
        "verdict"
    )
    up_checks: int
    uptime_pct: float | None
    missed: int = Field(description="slots not checked in time; by quorum: slots without a verdict")
    p50_ms: float | None = Field(description="approximate beyond the last hour (rollups)")
    p95_ms: float | None
    by_quorum: bool = Field(
        description="a site checked from several regions, no region asked: its slots counted "
        "by the quorum's verdict"
    )
    quorum_from: datetime | None = Field(
        description="by quorum: the first slot counted (the checks kept: later than the "
        "period's start when the period reaches past them)"
    )
    regions: list[RegionUptime] = Field(description="by quorum: each region's own figures")
    advisories: list[AdvisoryOut] = Field(description="by quorum: the regions below the quorum")


class Series(BaseModel):
    """Columns as arrays, one entry per hour or day, ready for a chart."""

    step: Literal["hour", "day"]
    region: str | None = Field(description="the region counted; null: the site")
    by_quorum: bool = Field(
        description="a site checked from several regions, no region asked: `checks` are its "
        "slots counted by the quorum's verdict; response times are every region's checks"
    )
    quorum_from: datetime | None = Field(
        description="by quorum: the first slot counted (the checks kept: buckets before it "
        "count nothing)"
    )
    t: list[datetime]
    checks: list[int]
    up_checks: list[int]
    missed: list[int]
    uptime_pct: list[float | None]
    avg_ms: list[float | None]
    p50_ms: list[float | None]
    p95_ms: list[float | None]


class TaskRef(BaseModel):
    task_id: UUID
    region: str


class TaskAccepted(BaseModel):
    task_id: UUID = Field(description="the first task's: the request's")
    tasks: list[TaskRef] = Field(description="one task per region asked, each with its result")


class TaskOut(BaseModel):
    task_id: UUID
    name: str
    url: str
    region: str = Field(description="the region whose checkers performed it")
    request_id: UUID = Field(description="shared by the tasks submitted together")
    status: Literal[1, 2, 3, 4] = Field(
        description="; ".join(f"{s.value} {s.name}" for s in TaskStatus)
    )
    status_name: Literal["NEW", "PROCESSING", "COMPLETED", "ERROR"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        description="null until final; then the fields of a check_results row"
    )


def task_out(task: Any) -> dict[str, Any]:
    """A core `Task` as TaskOut's JSON object."""
    return {
        "task_id": str(task.task_id),
        "name": task.name,
        "url": task.url,
        "region": task.region,
        "request_id": str(task.request_id),
        "status": int(task.status),
        "status_name": task.status.name,
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "result": task.result,
    }


class Health(BaseModel):
    status: Literal["ok", "fail"]
    database: Literal["ok", "lost"]


class TestSent(BaseModel):
    sent: bool
    channel_id: int
    error: str | None
