"""The rules of a request's header names, header values and expected statuses, written once.

A site (the API's models) and a check task (the wire message, `shared.messages.tasks`)
both follow them: the plain checks here serve the message's `__post_init__`, the
pydantic types the API's request models.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, Field

MAX_HEADER_VALUE: Final = 8192
MAX_HEADERS: Final = 50
# An HTTP token (RFC 9110), at most 256 characters. \Z, not $: $ lets a final newline by.
HEADER_NAME_PATTERN: Final = r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}\Z"
_TOKEN = re.compile(HEADER_NAME_PATTERN)
STATUS_RANGE_RULE: Final = "a status range is [low, high) with 100 <= low < high <= 600"


def header_value_ok(value: str) -> bool:
    """No control character: a CR or LF would inject a header."""
    return not any(c < " " or c == "\x7f" for c in value)


def status_range_ok(low: int, high: int) -> bool:
    return 100 <= low < high <= 600


def _header_name(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError("not an HTTP header name")
    return value


def _header_value(value: str) -> str:
    if not header_value_ok(value):
        raise ValueError("contains a control character")
    return value


def _status_range(value: tuple[int, int]) -> tuple[int, int]:
    if not status_range_ok(*value):
        raise ValueError(STATUS_RANGE_RULE)
    return value


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, Field(max_length=MAX_HEADER_VALUE), AfterValidator(_header_value)]
# [low, high): the statuses low .. high - 1.
StatusRange = Annotated[tuple[int, int], AfterValidator(_status_range)]
