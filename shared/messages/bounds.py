"""The bounds of the messages' fields, and the column a result field is stored in.

A result's bounds are what its `check_results` column can hold: a value past them would
fail its whole COPY batch, at every retry, so the decoder refuses it (dead letter) instead.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final

import msgspec

SCHEMA_VERSION: Final = 1
# bigint ids; durations far above any check's deadline (timeout_s <= 600) are refused.
MAX_BIGINT: Final = 2**63 - 1
MAX_MS: Final = 1e7
MAX_URL: Final = 8192
MAX_ERROR: Final = 64
MAX_ERROR_DETAIL: Final = 1000
MAX_TLS_VERSION: Final = 32
MIN_STATUS, MAX_STATUS = 100, 999
MAX_REDIRECTS: Final = 1000
# A site's own redirect limit (sites.max_redirects): the bound of WEBMON_MAX_REDIRECTS too.
MAX_SITE_REDIRECTS: Final = 30
# A site's request body (sites_body_length), in UTF-8 bytes.
MAX_BODY_BYTES: Final = 65536
MAX_TIMEOUT_S: Final = 600
MAX_PATH: Final = 4096
MAX_HOST_NAME: Final = 253
MAX_HEADER_REGEX: Final = 1000
MAX_USERNAME: Final = 256
MAX_SEALED: Final = 8192
MAX_STATUS_RANGES: Final = 64
# A region's name (WEBMON_CHECKER_REGION, sites.regions): the table's webmon_valid_regions.
DEFAULT_REGION: Final = "default"
REGION_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_REGION_NAME: Final = 40
REGION_RULE: Final = "region: 1-40 of a-z, 0-9, '_' and '-', starting with a letter or digit"
MAX_REGIONS: Final = 16
_REGION = re.compile(REGION_PATTERN)
# The region names seen valid: a message's region is one of a handful, so each is matched
# once (a pattern on the message's type cost a regex search per decode: half of a
# result's decode on the writer's hot path, measured). Bounded, so that a stream of
# made-up names cannot grow it.
_KNOWN_REGIONS: set[str] = {DEFAULT_REGION}
_MAX_KNOWN_REGIONS: Final = 1024


def region_ok(name: str) -> bool:
    """Whether `name` is a region's name (REGION_PATTERN)."""
    if name in _KNOWN_REGIONS:
        return True
    if _REGION.fullmatch(name) is None:
        return False
    if len(_KNOWN_REGIONS) < _MAX_KNOWN_REGIONS:
        _KNOWN_REGIONS.add(name)
    return True


# The key of a field's `msgspec.Meta.extra` that names its column type (binary COPY).
COLUMN: Final = "column"


def column(pg_type: str) -> msgspec.Meta:
    """A stored field's PostgreSQL type, beside its bounds: `Annotated[int, Meta(ge=100),
    column("int2")]`. Fields without one are not stored (`results.RESULT_COLUMNS`)."""
    return msgspec.Meta(extra={COLUMN: pg_type})


AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


def has_nul(*values: str | None) -> bool:
    """PostgreSQL text cannot hold NUL: such a row would fail its whole batch, every retry."""
    return any(v is not None and "\x00" in v for v in values)
