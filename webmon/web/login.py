"""Logging in and out: a password, or a one-time link (`webmon users link NAME`).

The login form carries a CSRF token like every other form; before there is a session it
is bound to a random nonce in a cookie of its own (`webmon.web.sessions.LOGIN_COOKIE`).
"""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from webmon.core.errors import Limited
from webmon.core.users import User
from webmon.web import forms
from webmon.web.common import (
    CSRF,
    core,
    form_of,
    render,
    secure_cookies,
    session_viewer,
    signer,
    viewer,
)
from webmon.web.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_COOKIE_MAX_AGE_S,
    SESSION_MAX_AGE_S,
    same,
)

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
MAX_NONCE = 100


async def _form(
    request: Request,
    target: str,
    *,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The login page, its form's CSRF token bound to this browser's login cookie (made
    here when it has none)."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    fresh = not nonce or len(nonce) > MAX_NONCE
    if fresh:
        nonce = secrets.token_urlsafe(24)
    token = (await signer(request)).login_token(nonce)
    page = render(request, "login.html", next=target, error=error, csrf=token, status=status,
                  headers=headers)  # fmt: skip
    if fresh:
        page.set_cookie(
            LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_MAX_AGE_S, httponly=True,
            samesite="strict", secure=secure_cookies(request), path="/login",
        )  # fmt: skip
    return page


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if await session_viewer(request) is not None:
        return RedirectResponse(forms.safe_next(next), 303)
    return await _form(request, forms.safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = forms.safe_next(str(form.get("next", "/")))
    # The connection's address, or what a trusted proxy said (WEBMON_TRUSTED_PROXIES).
    client = request.client.host if request.client else "?"
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = (await signer(request)).login_token(nonce) if nonce else ""
    if not same(str(form.get(CSRF, "")), expected):
        logger.info("dashboard.login_csrf_refused client=%s", client)
        error = "The login form expired or came from another page; log in again here."
        return await _form(request, target, error=error, status=403)
    try:
        found = await core(request).users.log_in(name, password, client)
    except Limited as exc:
        logger.info("dashboard.login_limited name=%s client=%s", name[:100], client)
        error = "Too many failed logins; wait a few minutes."
        return await _form(request, target, error=error, status=429,
                           headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
    if found is None:
        logger.info("dashboard.login_failed name=%s client=%s", name[:100], client)
        return await _form(request, target, error="Wrong user name or password.", status=401)
    logger.info("dashboard.login user_id=%d", found.id)
    return await _logged_in(request, found, target)


@router.get("/login/once/{token}")
async def login_once(request: Request, token: str) -> Response:
    found = await core(request).users.use_login_link(token)
    if found is None:
        error = "That login link was used already or has expired."
        return await _form(request, "/", error=error, status=401)
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
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
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
