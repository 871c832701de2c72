"""The FastAPI application: routers, problem+json handlers, metrics, the documentation page,
and the web dashboard (webmon/web) unless WEBMON_DASHBOARD=false.

`create_app(settings)` builds it without I/O; the lifespan opens the core's PostgreSQL pools,
seals channel secrets written in clear before sealing existed (WEBMON_SECRET_KEY), starts
the listener that drops cached keys when one changes, and closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.version import version
from webmon.api import openapi, problems
from webmon.api.door import Door
from webmon.api.headers import SecurityHeaders
from webmon.api.hot_reads import HotReads
from webmon.api.metrics import ApiMetrics, MetricsMiddleware
from webmon.api.routes import alerting, history, ops, regions, sites, status, status_pages, tasks
from webmon.api.settings import ApiSettings
from webmon.core import Core
from webmon.core.tasks import TaskLimits
from webmon.web import pages

logger = logging.getLogger(__name__)

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/docs"
STATIC_URL = "/static"
# The routes that take many sites at once: a bulk import's body cap applies to them.
BULK_SITES = "/api/v1/sites/bulk"
IMPORT_SITES = "/sites/import"
SWAGGER = "vendor/swagger-ui-dist-5.35.0"


# Swagger UI, started by a script file (no inline script: webmon.api.headers).
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webmon API</title>
<link rel="stylesheet" href="{STATIC_URL}/{SWAGGER}/swagger-ui.css">
<link rel="icon" href="{STATIC_URL}/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_URL}/{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="{STATIC_URL}/swagger-init.js" data-openapi="{OPENAPI_URL}"></script>
</body>
</html>
"""


def static_dir() -> Path:
    return Path(str(resources.files("webmon.web").joinpath("static")))


def create_core(settings: ApiSettings) -> Core:
    """The core on two pools: the API's, and a few connections for the hot reads (a page
    of sites, a site's uptime) on sessions that plan their statements once: their optional
    filters made PostgreSQL plan a page of sites anew on every call, a third of its CPU."""
    limits = TaskLimits(
        per_minute=settings.tasks_per_minute,
        in_flight=settings.tasks_in_flight,
        start_within_s=settings.task_start_within_s,
    )
    return Core.for_url(
        settings.database_url.get_secret_value(),
        policy=settings.target_policy(),
        box=settings.secret_box(),
        limits=limits,
        pool_size=settings.api_db_pool_size,
        read_pool_size=settings.api_read_pool_size,
        name="webmon-api",
    )


def create_app(settings: ApiSettings) -> FastAPI:
    core = create_core(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await core.open()
        await core.channels.seal_clear_secrets()  # those written before sealing existed
        listener = asyncio.create_task(core.keys.listen(settings.database_url.get_secret_value()))
        logger.info("api.started host=%s port=%d", settings.api_host, settings.api_port)
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await core.close()
            logger.info("api.stopped")

    app = FastAPI(
        title="webmon",
        version=version(),
        description="Sites, their history, and on-demand checks. Every route but `/healthz`, "
        "`/api/v1/openapi.json` and `/api/docs` needs `Authorization: Bearer <key>` "
        "(`webmon keys create`). Errors are application/problem+json (RFC 9457); lists "
        'page by `Link: <…>; rel="next"`.',
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.settings = settings
    app.state.core = core
    app.state.metrics = metrics
    problems.install(app)
    openapi.install(app)
    for module in (sites, history, tasks, status, status_pages, regions, ops):
        app.include_router(module.router)
    for router in alerting.routers:
        app.include_router(router)
    if settings.dashboard:
        pages.install(app)
    app.mount(STATIC_URL, StaticFiles(directory=static_dir()), name="static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_PAGE)

    # Innermost of the app's own: the door's caller and the metrics' count apply to it.
    app.add_middleware(HotReads, api=app)
    app.add_middleware(
        Door,
        core=core,
        max_body=settings.api_max_body_bytes,
        max_bulk_body=settings.api_max_bulk_body_bytes,
        bulk_paths=(BULK_SITES, IMPORT_SITES),
        open_paths=(OPENAPI_URL,),
    )
    app.add_middleware(SecurityHeaders, static_prefix=STATIC_URL)
    if settings.trusted_proxies:
        # Only these proxies' X-Forwarded-For and -Proto are believed (uvicorn's own
        # trust of 127.0.0.1 is off: webmon.api.__main__).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
