"""API keys: made here, shown once, stored only as a SHA-256; looked up with a short cache.

A key is `wm_` and 32 random bytes in URL-safe base64 (256 bits): no one guesses it, so a
fast hash is enough to make the stored form useless to a thief (a slow, salted hash is for
passwords, which people choose). Keys are looked up by that hash.

Looked-up keys are kept for KEY_CACHE_S so that a busy API does not ask PostgreSQL on every
request. Any change to `api_keys` that matters (a key created, revoked or re-scoped, by
`webmon keys` or by SQL) notifies `webmon_keys` from a trigger (migration 0017), on which
every API process listens (`listen`) and forgets them all, so the change takes effect at
once. Keys are cached only while that LISTEN is in place: a process that lost it asks
PostgreSQL on every request until it has it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from shared.db import AsyncDatabase, listen
from shared.errors import DatabaseError
from shared.queries import load_queries
from webmon.core.actors import Actor, Scope, api_key
from webmon.core.errors import ConstraintWords, Invalid, NotFound, invalid_from_database

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "keys.sql")
KEY_PREFIX = "wm_"
KEY_BYTES = 32
# How much of a key is kept in clear to tell keys apart in `webmon keys list`.
SHOWN_CHARS = 10
KEY_CACHE_S = 30.0
KEY_CACHE_MAX = 10_000
LISTEN_RETRY_S = 5.0
CHANNEL = "webmon_keys"

CONSTRAINTS: ConstraintWords = {
    "api_keys_live_name": ("name", "a live key of that name exists already"),
    "api_keys_name_length": ("name", "the name must be 1 to 100 characters long"),
    "api_keys_scope": ("scope", "the scope must be read, write or admin"),
}


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def shown_part(key: str) -> str:
    return key[:SHOWN_CHARS]


@dataclass(frozen=True, slots=True)
class Key:
    id: int
    name: str
    scope: Scope
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Key:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["scope"] = Scope(row["scope"])
        return cls(**values)


class Keys:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._cache: dict[bytes, tuple[Actor | None, float]] = {}
        # Whether the LISTEN on CHANNEL is in place: without it, nothing is cached.
        self._listening = False

    async def create(self, actor: Actor, name: str, scope: Scope) -> tuple[Key, str]:
        """The new key's record and the key itself, which is shown this once."""
        key = new_key()
        params = {"name": name, "scope": scope.value, "prefix": shown_part(key),
                  "sha256": key_hash(key)}  # fmt: skip
        try:
            row = await self._db.row(QUERIES["create_key"], params)
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None
        assert row is not None
        logger.info("keys.created key_id=%s scope=%s by=%s", row["id"], scope, actor)
        return Key.from_row(row), key

    async def every(self) -> list[Key]:
        return [Key.from_row(r) for r in await self._db.rows(QUERIES["keys"])]

    async def revoke(self, actor: Actor, ref: str) -> list[Key]:
        """Revoke the live key `ref` names (an id when all digits, else a name); every API
        process forgets its cached keys at once (the table's trigger tells them)."""
        if not ref:
            raise Invalid("key", "give a key's id or name")
        params = {"key_id": int(ref) if ref.isdigit() else None,
                  "name": None if ref.isdigit() else ref}  # fmt: skip
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(QUERIES["revoke_key"], params)
            revoked = [(int(r[0]), str(r[1])) for r in await cur.fetchall()]
            if not revoked:
                raise NotFound(f"no live key with {'id' if ref.isdigit() else 'name'} {ref}")
        for key_id, _ in revoked:
            logger.info("keys.revoked key_id=%d by=%s", key_id, actor)
        keys = {k.id: k for k in await self.every()}
        return [keys[key_id] for key_id, _ in revoked]

    async def lookup(self, key: str) -> Actor | None:
        """The caller a key stands for, or None for an unknown or revoked key."""
        digest = key_hash(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < KEY_CACHE_S and self._listening:
            return cached[0]
        row = await self._db.row(QUERIES["key_by_hash"], {"sha256": digest})
        caller = None if row is None else api_key(int(row["id"]), Scope(row["scope"]), row["name"])
        if self._listening:
            if len(self._cache) >= KEY_CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (caller, now)
        return caller

    def forget(self) -> None:
        self._cache.clear()

    async def listen(self, url: str) -> None:
        """Forget every cached key when `api_keys` changes; runs until cancelled. Keys are
        cached only while this listens."""
        while True:
            try:
                async for _ in listen(url, CHANNEL):
                    self.forget()  # the first time: whatever happened while not listening
                    self._listening = True
            except DatabaseError as exc:
                logger.warning("keys.listen_lost error=%s", exc)
            finally:
                self._listening = False
                self.forget()
            await asyncio.sleep(LISTEN_RETRY_S)
