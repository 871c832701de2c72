"""Logging in and out: a password, or a one-time link (`webmon users link NAME`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from webmon.core.errors import Limited
from webmon.core.users import User
from webmon.web import forms
from webmon.web.common import core, form_of, render, session_viewer, signer, viewer
from webmon.web.sessions import COOKIE, SESSION_MAX_AGE_S

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if await session_viewer(request) is not None:
        return RedirectResponse(forms.safe_next(next), 303)
    return render(request, "login.html", next=forms.safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = forms.safe_next(str(form.get("next", "/")))
    # The connection's address, or what a trusted proxy said (WEBMON_TRUSTED_PROXIES).
    client = request.client.host if request.client else "?"
    try:
        found = await core(request).users.log_in(name, password, client)
    except Limited as exc:
        logger.info("dashboard.login_limited name=%s client=%s", name[:100], client)
        return render(
            request,
            "login.html",
            next=target,
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
            error="Too many failed logins; wait a few minutes.",
        )
    if found is None:
        logger.info("dashboard.login_failed name=%s client=%s", name[:100], client)
        return render(
            request, "login.html", next=target, status=401, error="Wrong user name or password."
        )
    logger.info("dashboard.login user_id=%d", found.id)
    return await _logged_in(request, found, target)


@router.get("/login/once/{token}")
async def login_once(request: Request, token: str) -> Response:
    found = await core(request).users.use_login_link(token)
    if found is None:
        return render(
            request,
            "login.html",
            next="/",
            status=401,
            error="That login link was used already or has expired.",
        )
    logger.info("dashboard.login_link user_id=%d", found.id)
    return await _logged_in(request, found, "/")


async def _logged_in(request: Request, user: User, target: str) -> Response:
    signed = (await signer(request)).issue(user.id, user.session_version)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        signed,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the user's sessions, this one and any other (a stolen cookie included)."""
    who = await viewer(request)
    await form_of(request, who)
    await core(request).users.end_sessions(who.actor, who.id)
    logger.info("dashboard.logout user_id=%d", who.id)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
