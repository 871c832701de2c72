"""Dashboard users: added by the operator, logged in by password or by a one-time link.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's defaults). An unknown name
costs as long as a wrong password. A one-time login link (for `make run`) logs a user in
once, before it expires; only its SHA-256 is stored. The key that signs the dashboard's
sessions is made by the first process that needs it and shared through the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.queries import load_queries
from webmon.core.actors import Actor, dashboard_user
from webmon.core.errors import ConstraintWords, Invalid, NotFound, invalid_from_database

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "users.sql")
LOGIN_LINK_VALID_FOR = timedelta(hours=1)
MIN_PASSWORD = 8
SECRET_NAME = "dashboard"

CONSTRAINTS: ConstraintWords = {
    "users_name": ("name", "a user name is 1 to 100 letters, digits and . _ @ -"),
}

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


def link_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str

    @property
    def actor(self) -> Actor:
        return dashboard_user(self.id, self.name)


class Users:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def add(self, actor: Actor, name: str, password: str) -> int:
        """Add the user, or set a new password for an existing (or disabled) one."""
        if len(password) < MIN_PASSWORD:
            raise Invalid("password", f"a password needs at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(hash_password, password)
        try:
            row = await self._db.row(
                QUERIES["add_user"], {"name": name, "password_hash": password_hash}
            )
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None
        assert row is not None
        logger.info("users.added user_id=%s by=%s", row["id"], actor)
        return int(row["id"])

    async def ensure_one(self, actor: Actor, name: str) -> None:
        """A user for a first look, when there is none at all: a random password nobody
        knows, so that only a login link lets anyone in until `webmon users add` sets one."""
        row = await self._db.row(QUERIES["count_users"])
        if row is not None and int(row["users"]) == 0:
            await self.add(actor, name, secrets.token_urlsafe(24))

    async def login_link(self, actor: Actor, name: str) -> str:
        """The path of a new one-time login link for `name`."""
        row = await self._db.row(QUERIES["user_by_name"], {"name": name})
        if row is None:
            raise NotFound(f"no user {name}")
        token = secrets.token_urlsafe(32)
        await self._db.execute(
            QUERIES["create_login_link"],
            {"sha256": link_hash(token), "user_id": row["id"], "valid_for": LOGIN_LINK_VALID_FOR},
        )
        logger.info("users.login_link user_id=%s by=%s", row["id"], actor)
        return f"/login/once/{token}"

    async def log_in(self, name: str, password: str) -> User | None:
        """The user whose name and password these are, or None (as slowly either way)."""
        row = await self._db.row(QUERIES["user_by_name"], {"name": name}) if name else None
        if row is None:
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
            return None
        ok, rehash = await asyncio.to_thread(verify_password, str(row["password_hash"]), password)
        if not ok:
            return None
        if rehash is not None:
            await self._db.execute(
                QUERIES["rehash_user"], {"user_id": row["id"], "password_hash": rehash}
            )
        return User(int(row["id"]), str(row["name"]))

    async def use_login_link(self, token: str) -> User | None:
        """The user a one-time link logs in, once, before it expires."""
        row = await self._db.row(QUERIES["use_login_link"], {"sha256": link_hash(token)})
        return None if row is None else await self.get(int(row["user_id"]))

    async def get(self, user_id: int) -> User | None:
        """A user who may log in (not disabled), or None."""
        row = await self._db.row(QUERIES["user_by_id"], {"user_id": user_id})
        return None if row is None else User(int(row["id"]), str(row["name"]))

    async def named(self, name: str) -> User:
        row = await self._db.row(QUERIES["user_by_name"], {"name": name})
        if row is None:
            raise NotFound(f"no user {name}")
        return User(int(row["id"]), str(row["name"]))

    async def signing_secret(self) -> bytes:
        """The key that signs the dashboard's sessions, the same in every API process."""
        row = await self._db.row(
            QUERIES["secret"], {"name": SECRET_NAME, "candidate": secrets.token_bytes(32)}
        )
        assert row is not None
        return bytes(row["secret"])
