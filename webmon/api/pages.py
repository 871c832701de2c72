"""Keyset pages: the body stays a JSON array, the next page is in `Link: <…>; rel="next"`.

A cursor is the sort key of the last item of a page, opaque to clients (URL-safe base64
of JSON). A page never costs more than its size, however deep it is.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from fastapi import Request
from starlette.datastructures import URL

from webmon.api.problems import Problem


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise Problem(422, "cursor: not a cursor this API gave out") from None
    if not isinstance(key, list) or len(key) != length:
        raise Problem(422, "cursor: not a cursor this API gave out")
    return key


def next_link(request: Request, key: list[Any] | None) -> dict[str, str]:
    """The Link header for the page after this one (none when this is the last)."""
    if key is None:
        return {}
    return {"Link": link_value(request.url, key)}


def link_value(url: URL, key: list[Any]) -> str:
    """`<url with the cursor of key>; rel="next"`: the Link header's value."""
    return f'<{url.include_query_params(cursor=encode_cursor(key))}>; rel="next"'
