"""The two reads a dashboard or a script makes most, `GET /api/v1/sites` and
`GET /api/v1/sites/{id}/uptime`, answered without FastAPI's routing and dependency
injection.

Those cost about 400 µs of such a request's 900 in the one API process, spread thin over
routing, dependency solving and their context managers (py-spy, bench/bench_api.py); with
them, one process answered ~1,100 uptime reads a second where the same queries allow
~2,100 (docs/performance.md). Everything else is shared with the two routes:

* the parsers: the routes take their query as a model (`SitesQuery`, `UptimeQuery`) and
  the site id as `SiteId`; this module validates with the same ones;
* the answer: the routes' own functions (`sites_page`, `uptime_of`), the core's calls;
* the key: the door has judged it (`webmon.api.door`), and a read needs no more;
* the errors: raised by the answer, they go to the app's own exception handlers.

A request it cannot take whole goes on to FastAPI before any query ran: another path or
method, a repeated parameter, a value the parser refuses (FastAPI refuses it again, in its
own words). Once the answer is asked for, the request is this module's to the end: an
error is answered here, by the app's handler for it, so a query that failed never runs a
second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from webmon.api.auth import CALLER, READER
from webmon.api.routes import history, sites
from webmon.api.routes.history import UptimeQuery, uptime_of
from webmon.api.routes.sites import SiteId, SitesQuery, sites_page
from webmon.core import Core
from webmon.core.actors import Actor

SITE_ID: TypeAdapter[int] = TypeAdapter(SiteId)

Answer = Callable[[Request, Core], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotReads:
    """ASGI middleware, inside the door (which leaves the caller in the scope) and the
    metrics (which count these answers under their route's template, as any other)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        # The two routes, for the metrics' template and anything else that reads the
        # scope's route.
        self._routes = {
            route.endpoint: route
            for route in (*sites.router.routes, *history.router.routes)
            if isinstance(route, APIRoute) and route.methods == {"GET"}
        }
        # Their paths, as the routes declare them.
        self._sites_path = self._routes[sites.list_sites].path
        self._uptime_path = self._routes[history.uptime].path_regex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._answer(scope) if scope["type"] == "http" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        endpoint, ask = answer
        scope["route"] = self._routes[endpoint]
        request = Request(scope, receive)
        try:
            response = await ask(request, self.api.state.core)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[Callable[..., Any], Answer] | None:
        """The route's endpoint and the answer, for a request taken whole; else None."""
        if scope["method"] != "GET" or not _reader(scope.get(CALLER)):
            return None
        path = scope["path"]
        if path == self._sites_path:
            if (params := _query(scope)) is None:
                return None
            try:
                query = SitesQuery.model_validate(params)
            except ValidationError:
                return None
            return sites.list_sites, lambda request, core: sites_page(request, core, query)
        if (found := self._uptime_path.match(path)) is None:
            return None
        if (params := _query(scope)) is None:
            return None
        try:
            site_id = SITE_ID.validate_python(found["site_id"])
            uptime = UptimeQuery.model_validate(params)
        except ValidationError:
            return None
        return history.uptime, lambda request, core: uptime_of(core, site_id, uptime)

    def _handler(self, exc: Exception) -> Handler | None:
        handlers = self.api.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]  # type: ignore[return-value]  # ours are all async
        return None


def _reader(caller: object) -> bool:
    return isinstance(caller, Actor) and READER.admits(caller)


def _query(scope: Scope) -> dict[str, str] | None:
    """The query's parameters; None when one is given twice (FastAPI decides those)."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None
