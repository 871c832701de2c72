"""The dashboard's sessions and CSRF tokens.

A session is a signed, HttpOnly, SameSite=Lax cookie holding the user's id, a CSRF token
and when it was issued (itsdangerous, keyed with the dashboard's secret, which the core
makes once and shares through the database so that every API process signs alike). Every
form carries the CSRF token; htmx sends it as `X-CSRF-Token`. Users, their passwords and
login links are the core's (`webmon.core.users`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "webmon_session"
SESSION_MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf: str


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="webmon-session")
        self._secret = secret

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"u": user_id, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), int):
            return None
        return Session(int(data["u"]), str(data.get("c", "")))

    def badge_token(self, site_id: int) -> str:
        """An unguessable token for one site's badge URLs (the same for as long as the
        dashboard's secret lives)."""
        mac = hmac.new(self._secret, f"badge:{site_id}".encode(), hashlib.sha256).digest()
        return mac[:16].hex()


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())
