"""Dashboard users, sessions and CSRF tokens.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's defaults). A session is a
signed, HttpOnly, SameSite=Lax cookie holding the user's id, a CSRF token and when it was
issued (itsdangerous, keyed with the dashboard's secret, which the first API process makes
and stores in `webmon_secrets` so that every process signs alike). Every form carries the
CSRF token; htmx sends it as `X-CSRF-Token`. A one-time login link (for `make run`) logs a
user in once, before it expires; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.db import AsyncDatabase
from webmon.readmodel import DASHBOARD

COOKIE = "webmon_session"
SESSION_MAX_AGE_S = 7 * 24 * 3600
LOGIN_LINK_VALID_FOR = timedelta(hours=1)
SECRET_NAME = "dashboard"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> tuple[bool, str | None]:
    """(it matches, a new hash when the stored one's parameters are outdated)."""
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (hash_password(password) if _hasher.check_needs_rehash(password_hash) else None)


# A hash to verify against when the user does not exist, so that an unknown name takes
# as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_dummy(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


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


async def load_secret(db: AsyncDatabase) -> bytes:
    row = await db.fetchone(
        DASHBOARD["secret"], {"name": SECRET_NAME, "candidate": secrets.token_bytes(32)}
    )
    assert row is not None
    return bytes(row[0])


def link_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
