"""The dashboard, served by the API process: its routers and its two refusals.

Every page reads without JavaScript; htmx swaps the parts that change (`/ui/...` partials,
polled every few seconds) and uPlot draws the site page's chart from the data embedded in
the page. A logged-out visitor sees only /login, /status and the badges.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from webmon.web import (
    alerts,
    certificates,
    login,
    overview,
    public,
    site_pages,
    status_admin,
    status_public,
    task_pages,
)
from webmon.web.common import Forbidden, LoginRequired, Unavailable, render, session_viewer
from webmon.web.render import Pages

logger = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """Add the dashboard to the API's application."""
    app.state.pages = Pages()
    for module in (login, overview, site_pages, task_pages, public, status_public,
                   status_admin, alerts, certificates):  # fmt: skip
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = "/login?" + urlencode({"next": exc.path})
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, 303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        who = await session_viewer(request)
        return render(request, "error.html", who, status=403, message=str(exc))

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        logger.error("dashboard.unavailable error=%s", exc)
        message = f"The dashboard is not available: {exc}."
        return render(request, "error.html", None, status=503, message=message)
