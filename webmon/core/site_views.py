"""Sites as the core hands them out: typed rows, read by name, never by position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from shared.causes import why_down
from webmon.core.site_text import fields_as_text


@dataclass(frozen=True, slots=True)
class Status:
    """A site's latest check."""

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

    @property
    def cause(self) -> str | None:
        """Why it is down, in every surface's words; None while up."""
        return None if self.up else why_down(self.status_code, self.error, self.regex_matched)


_STATUS_FIELDS = tuple(f.name for f in fields(Status))


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    url: str
    name: str | None
    interval_seconds: int
    timeout_seconds: float
    regex: str | None
    method: str
    headers: dict[str, str] | None
    expected_status: list[tuple[int, int]]
    enabled: bool
    restricted: bool
    public: bool
    created_at: datetime
    next_check_at: datetime
    status: Status | None
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
    auth_kind: str | None
    auth_username: str | None
    failure_threshold: int
    success_threshold: int
    reminder_interval_seconds: int | None
    tags: list[str]
    regions: list[str]
    quorum: int | None
    cert_expiry_days: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Site:
        values = {f.name: row[f.name] for f in fields(cls) if f.name != "status"}
        values["expected_status"] = [(int(lo), int(hi)) for lo, hi in row["expected_status"]]
        status = None
        if row["up"] is not None:
            status = Status(**{name: row[name] for name in _STATUS_FIELDS})
        return cls(status=status, **values)

    @property
    def label(self) -> str:
        """What a page calls the site: its name, else its URL."""
        return self.name or self.url

    @property
    def by_quorum(self) -> bool:
        """Whether its state is its regions' quorum (checked from several regions,
        docs/regions.md), which every surface reads it by, rather than its checks."""
        return len(self.regions) > 1

    def form(self) -> dict[str, str]:
        """The site's fields as a form or a CSV row writes them."""
        return fields_as_text(asdict(self))


@dataclass(frozen=True, slots=True)
class Thresholds:
    id: int
    failure_threshold: int
    success_threshold: int
    reminder_interval_seconds: int | None
    tags: list[str]
    cert_expiry_days: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Thresholds:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Summary:
    """Enabled sites up, down and not checked yet; disabled sites."""

    up: int
    down: int
    unchecked: Annotated[int, Field(description="enabled sites not checked yet")]
    disabled: int


@dataclass(frozen=True, slots=True)
class DownSite:
    """A site down now, as the overview lists it."""

    site_id: int
    url: str
    name: str | None
    down_since: datetime
    status_code: int | None
    error: str | None
    error_detail: str | None
    regex_matched: bool | None

    @property
    def cause(self) -> str:
        return why_down(self.status_code, self.error, self.regex_matched)


@dataclass(frozen=True, slots=True)
class PublicSite:
    id: int
    url: str
    up: bool | None
    checked_at: datetime | None
