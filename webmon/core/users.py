"""Dashboard users: added by the operator, logged in by password or by a one-time link.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's defaults). An unknown name
costs as long as a wrong password. Failed logins are limited per client address and per
account (`webmon.core.logins`). A one-time login link (for `make run`) logs a user in
once, before it expires; only its SHA-256 is stored.

Sessions can be ended: each user has a `session_version` that every session cookie
carries (`webmon.web.sessions`), and logging out, a new password and `disable` bump it,
which ends all of that user's sessions at once (`get` returns the version to compare).

The key that signs the dashboard's sessions is made by the first process that needs it
and shared through the database, sealed with WEBMON_SECRET_KEY (`shared.sealing`): a
reader of the database cannot forge a session. A key kept in clear before is sealed in
place, unchanged.
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
from shared.sealing import KEY_VARIABLE, SecretBox, SecretError
from webmon.core.actors import Actor, dashboard_user
from webmon.core.errors import ConstraintWords, Invalid, NotFound, invalid_from_database
from webmon.core.logins import (
    ACCOUNT_LOCKOUT,
    ADDRESS_WINDOW_S,
    LOGIN_FAILURES,
    FailureLimiter,
    refuse,
)

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
    # What a session cookie of this user must carry to be valid (`end_sessions`).
    session_version: int = 0

    @property
    def actor(self) -> Actor:
        return dashboard_user(self.id, self.name)


class Users:
    def __init__(self, db: AsyncDatabase, box: SecretBox | None = None) -> None:
        self._db = db
        self._box = box
        # Failed logins by client address, and by names no user has (webmon.core.logins).
        self._addresses = FailureLimiter(LOGIN_FAILURES, ADDRESS_WINDOW_S)
        self._names = FailureLimiter(LOGIN_FAILURES, ACCOUNT_LOCKOUT.total_seconds())

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

    async def log_in(self, name: str, password: str, client: str) -> User | None:
        """The user whose name and password these are, or None (as slowly either way).
        `Limited` when `client` (an address) or the account failed too often lately
        (`webmon.core.logins`): then the password is not even checked."""
        refuse(self._addresses.retry_after(client))
        row = await self._db.row(QUERIES["user_by_name"], {"name": name}) if name else None
        refuse(self._names.retry_after(name) if row is None else float(row["locked_for_s"]))
        if row is None:
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
            self._addresses.failed(client)
            self._names.failed(name)
            return None
        ok, rehash = await asyncio.to_thread(verify_password, str(row["password_hash"]), password)
        if not ok:
            self._addresses.failed(client)
            failed = await self._db.row(QUERIES["login_failed"], {
                "user_id": row["id"], "limit": LOGIN_FAILURES, "lockout": ACCOUNT_LOCKOUT,
            })  # fmt: skip
            if failed is not None and int(failed["failed_logins"]) >= LOGIN_FAILURES:
                logger.warning("users.locked user_id=%s client=%s", row["id"], client)
            return None
        await self._db.execute(QUERIES["login_succeeded"], {"user_id": row["id"]})
        if rehash is not None:
            await self._db.execute(
                QUERIES["rehash_user"], {"user_id": row["id"], "password_hash": rehash}
            )
        return User(int(row["id"]), str(row["name"]), int(row["session_version"]))

    async def use_login_link(self, token: str) -> User | None:
        """The user a one-time link logs in, once, before it expires."""
        row = await self._db.row(QUERIES["use_login_link"], {"sha256": link_hash(token)})
        return None if row is None else await self.get(int(row["user_id"]))

    async def get(self, user_id: int) -> User | None:
        """A user who may log in (not disabled), with their session version, or None."""
        row = await self._db.row(QUERIES["user_by_id"], {"user_id": user_id})
        if row is None:
            return None
        return User(int(row["id"]), str(row["name"]), int(row["session_version"]))

    async def end_sessions(self, actor: Actor, user_id: int) -> None:
        """End every session of the user at once (logging out ends them all)."""
        await self._db.execute(QUERIES["end_sessions"], {"user_id": user_id})
        logger.info("users.sessions_ended user_id=%d by=%s", user_id, actor)

    async def disable(self, actor: Actor, name: str) -> int:
        """Keep the user from logging in and end their sessions; `add` enables them again
        with a new password. The user's id."""
        row = await self._db.row(QUERIES["disable_user"], {"name": name})
        if row is None:
            raise NotFound(f"no user {name} who may log in")
        logger.info("users.disabled user_id=%s by=%s", row["id"], actor)
        return int(row["id"])

    async def named(self, name: str) -> User:
        row = await self._db.row(QUERIES["user_by_name"], {"name": name})
        if row is None:
            raise NotFound(f"no user {name}")
        return User(int(row["id"]), str(row["name"]))

    @property
    def can_sign(self) -> bool:
        """Whether the dashboard's signing key can be had: it is sealed with
        WEBMON_SECRET_KEY, so not without one."""
        return self._box is not None

    async def signing_secret(self) -> bytes:
        """The key that signs the dashboard's sessions, the same in every API process;
        `SecretError` without WEBMON_SECRET_KEY (or with another one than sealed it)."""
        if self._box is None:
            raise SecretError(f"{KEY_VARIABLE} is not set: the dashboard's key is sealed with it")
        box, name = self._box, SECRET_NAME
        for _ in range(3):  # another process may make or seal it meanwhile
            row = await self._db.row(QUERIES["signing_key"], {"name": name})
            if row is None:
                key = secrets.token_bytes(32)
                made = await self._db.row(
                    QUERIES["make_signing_key"], {"name": name, "sealed": box.seal_key(name, key)}
                )
                if made is not None:
                    logger.info("users.signing_key_made")
                    return key
                continue
            stored = bytes(row["secret"])
            if row["sealed"]:
                return box.open_key(name, stored)
            params = {"name": name, "clear": stored, "sealed": box.seal_key(name, stored)}
            await self._db.execute(QUERIES["seal_signing_key"], params)
            logger.info("users.signing_key_sealed")
            return stored
        raise SecretError("the dashboard's signing key changed under us three times")
