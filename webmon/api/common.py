"""What the routes share: JSON responses, the app's database and target policy, the policy's
check of a submitted URL."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from shared.db import AsyncDatabase
from shared.netpolicy import TargetPolicy
from webmon.api.problems import Problem
from webmon.targets import blocked_literal


def json_bytes(body: Any) -> bytes:
    """orjson, straight from dicts and rows: no model validation."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON; bytes or str are taken as JSON already (a page PostgreSQL made)."""
    content = body if isinstance(body, bytes | str) else json_bytes(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def database(request: Request) -> AsyncDatabase:
    return request.app.state.db  # type: ignore[no-any-return]


def reads(request: Request) -> AsyncDatabase:
    """The pool of the hot reads, planned once (webmon.api.app)."""
    return request.app.state.reads  # type: ignore[no-any-return]


def policy(request: Request) -> TargetPolicy:
    return request.app.state.policy  # type: ignore[no-any-return]


def refuse_blocked_literal(request: Request, url: str, field: str = "url") -> None:
    """A URL whose host is an IP literal the target policy refuses is refused now (422);
    a name is judged when a checker connects, and every redirect hop with it."""
    host = blocked_literal(policy(request), url)
    if host is not None:
        raise Problem(
            422,
            f"{field}: {host} is in a blocked network (WEBMON_BLOCKED_NETWORKS)",
            title="Target refused",
        )
