"""What the routes share: JSON responses, the target policy check of a submitted URL."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from yarl import URL

from shared.netpolicy import TargetPolicy
from webmon.api.problems import Problem

DEFAULT_EXPECTED_STATUS = "{[200,400)}"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson, straight from dicts and rows: a page of 50 sites costs no model validation."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def policy(request: Request) -> TargetPolicy:
    return request.app.state.policy  # type: ignore[no-any-return]


def refuse_blocked_literal(request: Request, url: str, field: str = "url") -> None:
    """A URL whose host is an IP literal the target policy refuses is refused now (422);
    a name is judged when a checker connects, and every redirect hop with it."""
    try:
        host = URL(url).raw_host
    except (ValueError, TypeError):
        return  # the database's constraints say what is wrong with it
    if host and policy(request).literal_refused(host):
        raise Problem(
            422,
            f"{field}: {host} is in a blocked network (WEBMON_BLOCKED_NETWORKS)",
            title="Target refused",
        )


def multirange(pairs: list[tuple[int, int]] | None) -> str:
    """[low, high) pairs as PostgreSQL's int4multirange text."""
    if pairs is None:
        return DEFAULT_EXPECTED_STATUS
    return "{" + ",".join(f"[{low},{high})" for low, high in pairs) + "}"
