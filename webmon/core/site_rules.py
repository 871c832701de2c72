"""A site's rules, in one place: what a new site and a change may hold, what each of the
table's constraints means in words, and which changes put a site under the target policy.

The API's request models are these models; the dashboard, the CSV import and the CLI feed
the same models from text (`webmon.core.site_text`). So every way in refuses the same input
with the same words, naming the same field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from checker.probe.regex import RegexError, compile_regex
from shared.http_fields import HeaderName, HeaderValue, StatusRange
from shared.messages import MAX_BODY_BYTES, MAX_SITE_REDIRECTS
from shared.messages.bounds import DEFAULT_REGION, MAX_REGIONS, REGION_PATTERN
from shared.sealing import MAX_SECRET_BYTES
from webmon.core.errors import Invalid
from webmon.core.site_labels import normal_name, normal_tags
from webmon.core.site_words import CERT_DAYS_WORDS, MAX_CERT_DAYS, MIN_CERT_DAYS
from webmon.core.site_words import CONSTRAINTS as CONSTRAINTS  # the table's words, re-exported
from webmon.core.site_words import URL_FORMS as URL_FORMS

# A timeout not given is min(DEFAULT_TIMEOUT_S, interval), as the table's insert trigger
# fills it for a row inserted with SQL.
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 60
DEFAULT_EXPECTED_STATUS = ((200, 400),)
DEFAULT_CERT_EXPIRY_DAYS = 14  # the column's default (migration 0019)


def regex_problem(pattern: str) -> str | None:
    """Why the checkers' own RE2 compiler refuses `pattern` (with their limits), or None:
    a pattern is refused when it is saved rather than recorded later as `invalid_regex`."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        return str(exc)
    return None


def _compiles(pattern: str) -> str:
    if (problem := regex_problem(pattern)) is not None:
        raise ValueError(problem)
    return pattern


Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/health"])]
Regex = Annotated[str, Field(min_length=1, max_length=1000, examples=['"status":\\s*"ok"'])]
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


class Input(BaseModel):
    """An input model: unknown fields refused, NUL characters refused (PostgreSQL's text
    cannot hold U+0000; refused here rather than by the driver)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("a string contains a NUL character (U+0000), which is not stored")
        return data


def _no_control(value: str) -> str:
    if any(c < " " or c == "\x7f" for c in value):
        raise ValueError("contains a control character")
    return value


class BasicAuthIn(Input):
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


class BearerAuthIn(Input):
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
LocalOption = Annotated[str, Field(min_length=1, max_length=4096)]
ServerName = Annotated[str, Field(min_length=1, max_length=253, examples=["internal.example"])]
HeaderMode = Literal["match", "not_match"]
RegexMode = Literal["match", "absent"]
Interval = Annotated[int, Field(ge=1, le=86400)]
RegionName = Annotated[
    str, Field(min_length=1, max_length=40, pattern=REGION_PATTERN, examples=["eu-central-1"])
]


def _distinct(regions: list[str]) -> list[str]:
    if len(set(regions)) != len(regions):
        raise ValueError("each region may be named once")
    return regions


Regions = Annotated[
    list[RegionName],
    Field(
        min_length=1,
        max_length=MAX_REGIONS,
        description="the regions whose checkers check the site (WEBMON_CHECKER_REGION)",
        examples=[["eu-central-1", "us-east-1", "ap-southeast-1"]],
    ),
    AfterValidator(_distinct),
]
Quorum = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_REGIONS,
        description="regions that must see the site down for it to be down; null: a majority",
    ),
]
# A name's and tags' rules are webmon.core.site_labels' (its words, whatever the length).
Name = Annotated[str, Field(examples=["Shop checkout"]), AfterValidator(normal_name)]
Tags = Annotated[
    list[str],
    Field(description="each `key` or `key:value`", examples=[["env:prod", "db"]]),
    AfterValidator(normal_tags),
]
Timeout = Annotated[float, Field(gt=0, le=120)]


def _cert_days(days: int) -> int:
    if not MIN_CERT_DAYS <= days <= MAX_CERT_DAYS:
        raise ValueError(CERT_DAYS_WORDS)  # the constraint's words, not pydantic's
    return days


CertDays = Annotated[
    int,
    Field(
        description="warn this many days before the site's TLS certificate expires",
        json_schema_extra={"minimum": MIN_CERT_DAYS, "maximum": MAX_CERT_DAYS},
    ),
    AfterValidator(_cert_days),
]


class SiteIn(Input):
    url: Url
    name: Name | None = Field(default=None, description="shown instead of the URL")
    tags: Tags = Field(default_factory=list)
    interval_seconds: Interval = DEFAULT_INTERVAL_S
    timeout_seconds: Timeout | None = Field(
        default=None, description="default: min(10, interval_seconds)"
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
    regions: Regions = Field(default_factory=lambda: [DEFAULT_REGION])
    quorum: Quorum | None = None
    cert_expiry_days: CertDays = DEFAULT_CERT_EXPIRY_DAYS
    auth: AuthIn | None = Field(default=None, description="write-only")


class SitePatch(Input):
    """Only the fields given change; `null` clears regex, headers, expected_status,
    max_redirects, body, body_content_type, tls_server_name, ip_version, the header check
    or auth. `restricted: false` (admin keys only) takes a site from under the target
    policy; any change to what the check sends or reads puts it back."""

    url: Url | None = None
    name: Name | None = None
    tags: Tags | None = Field(default=None, description="the whole set; null or [] clears it")
    interval_seconds: Interval | None = None
    timeout_seconds: Timeout | None = None
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
    regions: Regions | None = None
    quorum: Quorum | None = None
    cert_expiry_days: CertDays | None = None
    auth: AuthIn | None = None
    restricted: bool | None = Field(
        default=None, description="false: check without the target policy (admin keys only)"
    )


# The columns a site's row holds for its request, besides url, interval and timeout, in the
# order of the table's writes (sites.sql); each is a field of SiteIn of the same name.
OPTION_COLUMNS = (
    "regex", "method", "headers", "expected_status", "enabled", "max_redirects", "body",
    "body_content_type", "proxy", "tls_ca_file", "tls_cert_file", "tls_key_file",
    "tls_verify", "tls_server_name", "ip_version", "require_tls", "header_name",
    "header_regex", "header_mode", "regex_mode", "regions", "quorum",
)  # fmt: skip
# PATCH fields that may not be null (they have a default instead).
NOT_NULL_FIELDS = (
    "url", "interval_seconds", "method", "enabled", "tls_verify", "require_tls",
    "header_mode", "regex_mode", "restricted", "regions", "cert_expiry_days",
)  # fmt: skip

# -- the target policy's rule ------------------------------------------------------------

# What a change may touch without shaping the request the check sends or what it reads
# back: when, how long, whether, and where its news goes. Any other field (the URL and so
# the kind, the method, headers, body, auth, regex, TLS and proxy options, the redirect
# limit, the header check, the IP version) is the request itself: a change to it by anyone
# but the operator puts the site under the target policy. A field added later is shaping
# unless it is named here.
NOT_SHAPING = frozenset(
    {
        "interval_seconds", "timeout_seconds", "enabled", "expected_status", "failure_threshold",
        "success_threshold", "reminder_interval_seconds", "name", "tags", "public", "channels",
        "restricted", "regions", "quorum", "cert_expiry_days",
    }
)  # fmt: skip
# An API or dashboard site may not use these: the policy would see only a proxy's address,
# and a path names a file on the checker host.
LOCAL_OPTIONS = ("proxy", "tls_ca_file", "tls_cert_file", "tls_key_file")


def shapes_request(changed: set[str]) -> bool:
    """Whether a change of these fields shapes what the check sends or reads."""
    return not changed <= NOT_SHAPING


def refuse_local_options(values: Mapping[str, Any]) -> None:
    """A restricted site may not have a proxy or files of the checker host."""
    for name in LOCAL_OPTIONS:
        if values.get(name) is not None:
            _, words = CONSTRAINTS["sites_restricted_options"]
            raise Invalid(name, words, constraint="sites_restricted_options")


def check_timeout(interval: float, timeout: float | None) -> None:
    """A rule across two fields that every surface meets before the database does."""
    if timeout is not None and timeout > interval:
        field, words = CONSTRAINTS["sites_timeout_within_interval"]
        raise Invalid(field, words, constraint="sites_timeout_within_interval")


def check_quorum(regions: list[str], quorum: int | None) -> None:
    """The other: a quorum no larger than the regions that could reach it."""
    if quorum is not None and not 1 <= quorum <= len(regions):
        field, words = CONSTRAINTS["sites_quorum_range"]
        raise Invalid(field, words, constraint="sites_quorum_range")


def quorum_of(regions: list[str], quorum: int | None) -> int:
    """How many regions must see a slot down: the site's quorum, or a majority."""
    return quorum if quorum is not None else len(regions) // 2 + 1
