"""What the dashboard's pages share: the logged-in viewer, the posted form after its CSRF
check, rendering, and the core."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from shared.sealing import SecretError
from webmon.core import Actor, Core
from webmon.core.users import User
from webmon.web.render import Pages
from webmon.web.sessions import COOKIE, SessionSigner, same

# The form field that carries the session's CSRF token.
CSRF = "csrf"


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class Forbidden(Exception):
    """A form without its CSRF token: refused (403)."""


class Unavailable(Exception):
    """The dashboard cannot sign sessions (no WEBMON_SECRET_KEY): every page says so (503)."""


class Viewer:
    """The logged-in user, their session's CSRF token, and who they are to the core."""

    def __init__(self, user: User, csrf: str) -> None:
        self.id, self.name, self.csrf = user.id, user.name, csrf
        self.actor: Actor = user.actor


def core(request: Request) -> Core:
    return request.app.state.core  # type: ignore[no-any-return]


async def signer(request: Request) -> SessionSigner:
    """The dashboard's signer, with the key shared (sealed) through the database, read
    once; `Unavailable` when it cannot be opened."""
    state = request.app.state
    if getattr(state, "signer", None) is None:
        try:
            state.signer = SessionSigner(await core(request).users.signing_secret())
        except SecretError as exc:
            raise Unavailable(str(exc)) from None
    return state.signer  # type: ignore[no-any-return]


async def session_viewer(request: Request) -> Viewer | None:
    """The user of a valid session: their signed cookie, of their current session version
    (logging out, a new password or being disabled ended every older one)."""
    session = (await signer(request)).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    found = await core(request).users.get(session.user_id)
    if found is None or found.session_version != session.version:
        return None
    return Viewer(found, session.csrf)


async def viewer(request: Request) -> Viewer:
    """The logged-in viewer, or LoginRequired (a redirect to /login)."""
    found = await session_viewer(request)
    if found is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return found


async def form_of(request: Request, who: Viewer) -> dict[str, str]:
    """The posted form's text fields, after its CSRF token was checked (403 otherwise)."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    token = values.get(CSRF) or request.headers.get("x-csrf-token", "")
    if not same(token, who.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page")
    return values


def secure_cookies(request: Request) -> bool:
    """Whether the dashboard's cookies are `Secure`: served over TLS (directly, or by a
    trusted proxy's X-Forwarded-Proto) or WEBMON_SECURE_COOKIES=true."""
    return bool(request.app.state.settings.secure_cookies) or request.url.scheme == "https"


def render(
    request: Request, template: str, who: Viewer | None = None, **context: Any
) -> HTMLResponse:
    status = int(context.pop("status", 200))
    headers = context.pop("headers", None)
    pages: Pages = request.app.state.pages
    return pages.render(request, template, status=status, headers=headers, user=who, **context)


def not_found(request: Request, who: Viewer, message: str) -> HTMLResponse:
    return render(request, "error.html", who, status=404, message=message)
