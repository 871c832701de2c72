"""What the routes share: JSON responses and the app's core."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from webmon.core import Core


def json_bytes(body: Any) -> bytes:
    """orjson, straight from dicts, rows and dataclasses: no model validation."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON; bytes or str are taken as JSON already (a page PostgreSQL made)."""
    content = body if isinstance(body, bytes | str) else json_bytes(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def core(request: Request) -> Core:
    return request.app.state.core  # type: ignore[no-any-return]
