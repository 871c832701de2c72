"""`Authorization: Bearer <key>` on every route but /healthz.

No key or an unknown or revoked one: 401. A key without the route's scope: 403. Looked-up
keys are kept for KEY_CACHE_S so that a busy API does not ask PostgreSQL on every request;
`webmon keys revoke` notifies `webmon_keys`, on which the API listens and forgets them all,
so a revoked key stops working at once (within KEY_CACHE_S if the notification is lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.db import AsyncDatabase, listen
from shared.errors import DatabaseError
from webmon.api.problems import Problem
from webmon.keys import Scope, grants, key_hash
from webmon.readmodel import KEYS

logger = logging.getLogger(__name__)

KEY_CACHE_S = 30.0
KEY_CACHE_MAX = 10_000
LISTEN_RETRY_S = 5.0

bearer = HTTPBearer(auto_error=False, description="An API key: `webmon keys create`")


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    scope: Scope


class KeyCache:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._entries: dict[bytes, tuple[Caller | None, float]] = {}

    async def lookup(self, key: str) -> Caller | None:
        digest = key_hash(key)
        now = time.monotonic()
        cached = self._entries.get(digest)
        if cached is not None and now - cached[1] < KEY_CACHE_S:
            return cached[0]
        row = await self._db.fetchone(KEYS["key_by_hash"], {"sha256": digest})
        caller = None if row is None else Caller(int(row[0]), str(row[1]), Scope(row[2]))
        if len(self._entries) >= KEY_CACHE_MAX:
            self._entries.clear()
        self._entries[digest] = (caller, now)
        return caller

    def forget(self) -> None:
        self._entries.clear()

    async def listen(self, url: str) -> None:
        """Forget every cached key when one is revoked; runs until cancelled."""
        while True:
            try:
                async for _ in listen(url, "webmon_keys"):
                    self.forget()  # the first time: whatever happened while not listening
            except DatabaseError as exc:
                logger.debug("api.keys_listen_lost error=%s", exc)
            await asyncio.sleep(LISTEN_RETRY_S)


def bearer_token(authorization: str) -> str | None:
    """The key in an Authorization header's value, read as HTTPBearer reads it."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not token or scheme.lower() != "bearer":
        return None
    return token


def require(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, who holds at least `scope`."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Caller:
        challenge = {"WWW-Authenticate": 'Bearer realm="webmon"'}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401, "an API key is needed: Authorization: Bearer <key>", headers=challenge
            )
        cache: KeyCache = request.app.state.keys
        caller = await cache.lookup(credentials.credentials)
        if caller is None:
            raise Problem(401, "unknown or revoked API key", headers=challenge)
        if not grants(caller.scope, scope):
            raise Problem(403, f"this key's scope is {caller.scope}; this needs {scope}")
        request.state.caller = caller
        return caller

    return dependency


READ = Depends(require(Scope.READ))
WRITE = Depends(require(Scope.WRITE))
ADMIN = Depends(require(Scope.ADMIN))
