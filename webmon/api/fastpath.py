"""The two reads a dashboard or a script makes most, `GET /api/v1/sites` and
`GET /api/v1/sites/{id}/uptime`, answered without FastAPI's routing, parameter validation
and dependency injection.

Those were about half of such a request's CPU in the one API process (bench/bench_api.py).
The fast path calls the same functions as the two routes (`sites_page`, `uptime_of`) and
the same key cache, and it only takes a request it understands completely: the exact path,
a key that may read, and query parameters it parses exactly as the route would. Anything
else — another path or method, no key or a bad one, an unknown, repeated or invalid
parameter, an error on the way — goes on to FastAPI, which answers it as always: its 401s,
422s, problem+json bodies and the OpenAPI document stay FastAPI's alone.
tests/api/test_fast_reads.py holds the two paths to the same answers.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import DatabaseUnavailable
from webmon.api.auth import KeyCache, bearer_token
from webmon.api.common import json_bytes
from webmon.api.pages import link_value
from webmon.api.problems import Problem, unavailable
from webmon.api.routes import history, sites
from webmon.api.routes.history import PERIODS, uptime_of
from webmon.api.routes.sites import MAX_SITE_ID, after_cursor, sites_page
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.keys import Scope as KeyScope
from webmon.keys import grants

logger = logging.getLogger(__name__)

SITES_PATH = "/api/v1/sites"
UPTIME_PATH = re.compile(r"/api/v1/sites/([1-9][0-9]{0,18})/uptime")
SITE_STATES = frozenset({"up", "down", "unchecked"})
BOOLEANS = {"true": True, "false": False}
MAX_Q = 200
JSON_HEADER = (b"content-type", b"application/json")


class Unsure(Exception):
    """The request is not one the fast path takes: FastAPI answers it."""


class FastReads:
    """ASGI middleware, the innermost of the app's own (inside MetricsMiddleware, which
    counts these requests under their route templates as it counts every other)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._routes: dict[str, APIRoute] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        try:
            if path == SITES_PATH:
                answer = await self._sites(scope)
            elif (found := UPTIME_PATH.fullmatch(path)) is not None:
                answer = await self._uptime(scope, int(found.group(1)))
            else:
                raise Unsure
        except (Unsure, Problem):
            await self.app(scope, receive, send)
            return
        except DatabaseUnavailable as exc:
            # Answered here: through FastAPI it would wait for the pool a second time.
            logger.warning("api.db_unavailable path=%s error=%s", path, exc)
            await unavailable()(scope, receive, send)
            return
        except Exception as exc:
            logger.debug("api.fast_read_passed path=%s error=%s", path, type(exc).__name__)
            await self.app(scope, receive, send)
            return
        body, headers, template = answer
        scope["route"] = self._route(template)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    *headers,
                    (b"content-length", str(len(body)).encode()),
                    JSON_HEADER,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _sites(self, scope: Scope) -> tuple[bytes, list[tuple[bytes, bytes]], str]:
        query = _query(scope, {"state", "enabled", "q", "limit", "cursor"})
        await self._reader(scope)
        state = query.get("state")
        if state is not None and state not in SITE_STATES:
            raise Unsure
        enabled = None
        if "enabled" in query:
            if query["enabled"] not in BOOLEANS:
                raise Unsure
            enabled = BOOLEANS[query["enabled"]]
        q = query.get("q")
        if q is not None and not (1 <= len(q) <= MAX_Q and "\x00" not in q):
            raise Unsure
        limit = _limit(query.get("limit"))
        after = after_cursor(query.get("cursor"))
        page, last = await sites_page(self.api.state.reads, after, state, enabled, q, limit)
        headers = []
        if last is not None:
            headers.append((b"link", link_value(URL(scope=scope), [last]).encode("latin-1")))
        return page, headers, SITES_PATH

    async def _uptime(
        self, scope: Scope, site_id: int
    ) -> tuple[bytes, list[tuple[bytes, bytes]], str]:
        if site_id > MAX_SITE_ID:
            raise Unsure
        query = _query(scope, {"since"})
        since = query.get("since", "24h")
        if since not in PERIODS:
            raise Unsure
        await self._reader(scope)
        body = await uptime_of(self.api.state.reads, site_id, since)
        if body is None:
            raise Unsure  # the route's 404
        return json_bytes(body), [], "/api/v1/sites/{site_id}/uptime"

    async def _reader(self, scope: Scope) -> None:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if token is not None:
                    raise Unsure
                token = bearer_token(value.decode("latin-1"))
        if token is None:
            raise Unsure
        keys: KeyCache = self.api.state.keys
        caller = await keys.lookup(token)
        if caller is None or not grants(caller.scope, KeyScope.READ):
            raise Unsure

    def _route(self, template: str) -> APIRoute | None:
        """The route FastAPI would have chosen: MetricsMiddleware labels by its template."""
        if not self._routes:
            for route in (*sites.router.routes, *history.router.routes):
                if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                    self._routes[route.path] = route
        return self._routes.get(template)


def _query(scope: Scope, names: set[str]) -> dict[str, str]:
    """The query parameters, each at most once and each one of `names`."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if name not in names or name in query:
            raise Unsure
        query[name] = value
    return query


def _limit(given: str | None) -> int:
    if given is None:
        return DEFAULT_PAGE_SIZE
    if not (given.isascii() and given.isdigit() and len(given) <= 6):
        raise Unsure
    limit = int(given)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise Unsure
    return limit
