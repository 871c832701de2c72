"""The records a site's history is read into (webmon.core.history): a check, a bar's
tick, a chart, an uptime, a state change, the strips and days of the overview and the
status pages. Each says why a check was down in every surface's words (shared.causes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field

from shared.causes import why_down
from webmon.core.site_regions import Advisory, RegionSummary

Step = Literal["hour", "day"]


class _Outcome(Protocol):
    @property
    def up(self) -> bool | None: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def regex_matched(self) -> bool | None: ...


def _cause(check: _Outcome) -> str | None:
    """Why a check (or a bar's tick) was down, in every surface's words; None when up or
    missed."""
    if check.up is not False:
        return None
    return why_down(check.status_code, check.error, check.regex_matched)


@dataclass(frozen=True, slots=True)
class Check:
    """A stored check, or a missed slot (error "missed", up None)."""

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
    region: str
    counted: Annotated[
        bool,
        Field(description="false: an outage of its region covers its slot (the region was "
              "unhealthy); the check counts for no site's quorum"),
    ] = True  # fmt: skip

    @property
    def cause(self) -> str | None:
        return _cause(self)


@dataclass(frozen=True, slots=True)
class Tick:
    """One check (or missed slot) of a bar of a site's latest checks."""

    site_id: int
    scheduled_at: datetime
    checked_at: datetime
    up: bool | None
    status_code: int | None
    response_time_ms: float | None
    regex_matched: bool | None
    error: str | None
    error_detail: str | None
    # A site checked from several regions: the tick is a slot, `up` the quorum's verdict
    # (None: no verdict yet), and these the regions whose check failed and those that
    # checked it. None for a single check.
    failed_regions: list[str] | None = None
    reported_regions: list[str] | None = None

    @property
    def state(self) -> str:
        """up, down, or missed (a slot no checker performed in time, or a slot of several
        regions without the quorum's verdict)."""
        return "missed" if self.up is None else ("up" if self.up else "down")

    @property
    def cause(self) -> str | None:
        return _cause(self)


@dataclass(frozen=True, slots=True)
class Chart:
    """A site's response times over a period, for the site page's chart: `step` "check"
    (one point per performed check, when the period holds few) or the rollups' "hour" or
    "day" (average and percentiles per bucket)."""

    step: str
    t: list[datetime]
    avg_ms: list[float | None]
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    # A site checked from several regions: one line per region over `t` (its response
    # times check by check, or its buckets' p50), in the order of the site's regions.
    regions: list[RegionLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RegionLine:
    region: str
    ms: list[float | None]


@dataclass(frozen=True, slots=True)
class Uptime:
    """A site's uptime over a period. `by_quorum`: the site is checked from several regions
    and no region was asked for, so `checks` counts its slots, each by the quorum's verdict
    (`missed`: the slots without one), from `quorum_from` on (the checks kept); `regions`
    and `advisories` are then the regions' own figures and the regions below the quorum
    (empty otherwise)."""

    checks: int
    up_checks: int
    uptime_pct: float | None
    missed: int
    p50_ms: float | None
    p95_ms: float | None
    by_quorum: bool = False
    quorum_from: datetime | None = None
    regions: list[RegionSummary] = field(default_factory=list)
    advisories: list[Advisory] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Bucket:
    """An hour or a day of a site's checks, for a chart."""

    t: datetime
    checks: int
    up_checks: int
    missed: int
    uptime_pct: float | None
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class Event:
    """A change of a site's state."""

    scheduled_at: datetime
    checked_at: datetime
    from_up: bool | None
    to_up: bool
    status_code: int | None
    error: str | None
    error_detail: str | None
    regex_matched: Annotated[
        bool | None, Field(description="of the check that made the change (raw days only)")
    ]

    @property
    def cause(self) -> str | None:
        """Why it went down, in every surface's words; None for a change to up."""
        return None if self.to_up else why_down(self.status_code, self.error, self.regex_matched)


@dataclass(frozen=True, slots=True)
class Strip:
    """The overview's uptime of one site: 24 h, 30 d, and the last 24 hours hour by hour
    (each a share of up checks, None for an hour without checks)."""

    site_id: int
    up_24h: float | None
    up_30d: float | None
    hours: list[float | None]


@dataclass(frozen=True, slots=True)
class RegionShare:
    """One region's own share of up checks over a day."""

    region: str
    up_share: float


@dataclass(frozen=True, slots=True)
class Day:
    """A UTC day's uptime. By quorum (a site checked from several regions): `checks` are
    its slots with a verdict, `region_checks` every region's checks, `below` the regions
    whose own checks were not all up; `up_share` None with `region_checks` means the day's
    checks are no longer kept, so it cannot be counted by quorum."""

    day: Any  # a date
    checks: int | None
    up_share: float | None
    by_quorum: bool = False
    region_checks: int = 0
    below: list[RegionShare] = field(default_factory=list)

    @property
    def unkept(self) -> bool:
        """By quorum, checked but no longer countable: its checks are past retention."""
        return self.by_quorum and self.checks is None and self.region_checks > 0


@dataclass(frozen=True, slots=True)
class Series:
    """A site's buckets for a chart. `by_quorum`: a site checked from several regions, no
    region asked: `checks` are slots counted by the quorum's verdict (from the checks kept,
    from `quorum_from` on), the response times every region's checks together."""

    buckets: list[Bucket]
    by_quorum: bool = False
    quorum_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class Phases:
    hour: datetime
    dns: float | None
    connect: float | None
    tls: float | None
    ttfb: float | None
