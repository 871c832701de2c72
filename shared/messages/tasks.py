"""The task topic's message: one check of one site for one scheduled slot."""

from __future__ import annotations

from typing import Annotated, Final, Literal
from uuid import UUID

import msgspec

from shared.http_fields import (
    HEADER_NAME_PATTERN,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    STATUS_RANGE_RULE,
    header_value_ok,
    status_range_ok,
)
from shared.messages.bounds import (
    DEFAULT_REGION,
    MAX_BIGINT,
    MAX_BODY_BYTES,
    MAX_HEADER_REGEX,
    MAX_HOST_NAME,
    MAX_PATH,
    MAX_REGION_NAME,
    MAX_REGIONS,
    MAX_SEALED,
    MAX_SITE_REDIRECTS,
    MAX_STATUS_RANGES,
    MAX_TIMEOUT_S,
    MAX_URL,
    MAX_USERNAME,
    REGION_RULE,
    AwareDatetime,
    has_nul,
    region_ok,
)
from shared.messages.codec import Message

DEFAULT_METHOD: Final = "GET"
# Final statuses that count as up when a task names none: 200-399.
DEFAULT_EXPECTED_STATUS: tuple[tuple[int, int], ...] = ((200, 400),)
# The per-site HTTP options (migrations/0013_http_options.sql) in the task's field order;
# each is on a task only when it is not the default, as claim_due's `options` holds them.
HTTP_OPTIONS: Final = (
    "body", "body_content_type", "proxy", "tls_ca_file", "tls_cert_file", "tls_key_file",
    "tls_verify", "tls_server_name", "ip_version", "require_tls", "header_name",
    "header_regex", "header_mode", "regex_mode",
)  # fmt: skip

_HeaderName = Annotated[str, msgspec.Meta(pattern=HEADER_NAME_PATTERN)]
_HeaderValue = Annotated[str, msgspec.Meta(max_length=MAX_HEADER_VALUE)]
_FilePath = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH)]
_Headers = Annotated[dict[_HeaderName, _HeaderValue], msgspec.Meta(max_length=MAX_HEADERS)]
# [low, high) pairs: the statuses low .. high - 1.
_StatusRanges = Annotated[
    tuple[tuple[int, int], ...], msgspec.Meta(min_length=1, max_length=MAX_STATUS_RANGES)
]
_Url = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_URL)]
_Body = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BODY_BYTES)]
_HostName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_HOST_NAME)]
_HeaderRegex = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_HEADER_REGEX)]
# Its pattern (REGION_PATTERN) is checked in __post_init__, once per distinct name.
Region = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REGION_NAME)]
RegionCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_REGIONS)]


class TaskAuth(msgspec.Struct, kw_only=True, frozen=True, gc=False, omit_defaults=True):
    """A site's credentials on its task: the secret sealed (`shared.sealing`), base64."""

    kind: Literal["basic", "bearer"]
    username: Annotated[str, msgspec.Meta(max_length=MAX_USERNAME)] | None = None
    sealed: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SEALED)]

    def __repr__(self) -> str:  # never the sealed bytes in a log line either
        return f"TaskAuth(kind={self.kind!r}, username={self.username!r})"

    __str__ = __repr__


class CheckTask(Message, kw_only=True, frozen=True):
    """One check of one site for one scheduled slot.

    `method`, `headers` and `expected_status` are optional: a task without them (as every
    task before they existed) is a GET with webmon's headers, up on 200-399. A GET method,
    a false `restricted` and every option at its default are left out of the encoding, so
    a plain site's task stays small.

    `url`'s scheme is the kind of check: http(s), or tcp://, tls://, dns://
    (`checker.probe.kind_urls`); the HTTP options mean nothing to the other kinds.

    `restricted`: the URL came from an untrusted user (the HTTP API), so the check may
    connect only to addresses the target policy permits (`shared.netpolicy`). Sites the
    operator registered (with SQL) are not restricted.
    """

    # A site's task, or (site 0) an on-demand check of the task `task_id`.
    site_id: Annotated[int, msgspec.Meta(ge=0, le=MAX_BIGINT)]
    task_id: UUID | None = None
    url: _Url
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=MAX_TIMEOUT_S)]
    scheduled_at: AwareDatetime
    # The next slot: a task still unchecked by then is dropped as expired, not checked late.
    expires_at: AwareDatetime
    regex: str | None = None
    method: Literal["GET", "HEAD", "POST", "PUT"] = DEFAULT_METHOD
    # Extra request headers, over webmon's defaults.
    headers: _Headers | None = None
    # Final statuses that count as up, as [low, high) pairs; None: DEFAULT_EXPECTED_STATUS.
    expected_status: _StatusRanges | None = None
    restricted: bool = False
    # The site's redirect limit; None: the checker's WEBMON_MAX_REDIRECTS.
    max_redirects: Annotated[int, msgspec.Meta(ge=0, le=MAX_SITE_REDIRECTS)] | None = None
    # The per-site HTTP options (README, "Registering sites"), in HTTP_OPTIONS' order.
    body: _Body | None = None
    body_content_type: _HeaderValue | None = None
    proxy: _Url | None = None
    tls_ca_file: _FilePath | None = None
    tls_cert_file: _FilePath | None = None
    tls_key_file: _FilePath | None = None
    tls_verify: bool = True
    tls_server_name: _HostName | None = None
    ip_version: Literal[4, 6] | None = None
    require_tls: bool = False
    header_name: _HeaderName | None = None
    header_regex: _HeaderRegex | None = None
    header_mode: Literal["match", "not_match"] = "match"
    regex_mode: Literal["match", "absent"] = "match"
    auth: TaskAuth | None = None
    # The region whose checkers perform this check (each region has its own task topic);
    # left out of the encoding for the default region, so a single-region task is as
    # before.
    region: Region = DEFAULT_REGION
    # How many regions the site is checked from: with more than one, the writer takes its
    # state from the quorum of its regions' rows (docs/regions.md, "Quorum"). Left out of
    # the encoding when 1, so a single-region task is as before.
    region_count: RegionCount = 1

    def __post_init__(self) -> None:
        if (self.site_id == 0) != (self.task_id is not None):
            raise ValueError("a task names a site (site_id >= 1) or a task_id, not both")
        if not region_ok(self.region):
            raise ValueError(REGION_RULE)
        if self.headers is not None:
            for value in self.headers.values():
                if not header_value_ok(value):
                    raise ValueError("a header value contains a control character")
        if self.body_content_type is not None and not header_value_ok(self.body_content_type):
            raise ValueError("body_content_type contains a control character")
        if self.expected_status is not None:
            for low, high in self.expected_status:
                if not status_range_ok(low, high):
                    raise ValueError(f"expected_status: {STATUS_RANGE_RULE}")
        files = (self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
        if files != _NO_FILES and has_nul(*files):
            raise ValueError("a TLS file path contains a NUL character")

    @property
    def has_http_options(self) -> bool:
        """Whether any per-site HTTP option or credential differs from its default: a plain
        site's check skips preparing them."""
        return any(getattr(self, name) != default for name, default in _OPTION_DEFAULTS)


_NO_FILES: Final = (None, None, None)
# The HTTP options and the credentials, with their defaults.
_OPTION_DEFAULTS: Final = tuple(
    (f.name, f.default)
    for f in msgspec.structs.fields(CheckTask)
    if f.name in HTTP_OPTIONS or f.name == "auth"
)
