"""The dashboard's sessions and CSRF tokens.

A session is a signed, HttpOnly, SameSite=Lax cookie holding the user's id, their session
version, a CSRF token and when it was issued (itsdangerous, keyed with the dashboard's
secret, which the core makes once and shares, sealed, through the database so that every
API process signs alike). A cookie whose version is not the user's current one is no
session: logging out, a new password and disabling the user bump it
(`webmon.core.users`), which ends every session of theirs at once. Every form carries the
CSRF token; htmx sends it as `X-CSRF-Token`. The login form too, before any session: its
token is bound to a random nonce in a cookie of its own (`LOGIN_COOKIE`), so a page of
another site cannot log a browser in (as the attacker, to watch what it then enters).
Users, their passwords and login links are the core's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "webmon_session"
SESSION_MAX_AGE_S = 7 * 24 * 3600
# Before a session: a random nonce that the login form's CSRF token is bound to.
LOGIN_COOKIE = "webmon_login"
LOGIN_COOKIE_MAX_AGE_S = 3600


@dataclass(frozen=True)
class Session:
    user_id: int
    version: int  # the user's session version when it was issued
    csrf: str


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="webmon-session")
        self._secret = secret

    def issue(self, user_id: int, version: int) -> str:
        return self._serializer.dumps({"u": user_id, "v": version, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        user_id, version, csrf = data.get("u"), data.get("v"), data.get("c")
        if not (isinstance(user_id, int) and isinstance(version, int) and isinstance(csrf, str)):
            return None  # a cookie of the format without versions, or not ours
        return Session(user_id, version, csrf)

    def login_token(self, nonce: str) -> str:
        """The login form's CSRF token for the browser whose login cookie holds `nonce`:
        a page of another site can neither read it nor make it."""
        return hmac.new(self._secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()

    def badge_token(self, site_id: int) -> str:
        """An unguessable token for one site's badge URLs (the same for as long as the
        dashboard's secret lives)."""
        mac = hmac.new(self._secret, f"badge:{site_id}".encode(), hashlib.sha256).digest()
        return mac[:16].hex()


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())
