"""API keys: made here, shown once, stored only as a SHA-256.

A key is `wm_` and 32 random bytes in URL-safe base64 (256 bits): no one guesses it, so a
fast hash is enough to make the stored form useless to a thief (a slow, salted hash is for
passwords, which people choose). Keys are looked up by that hash.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

KEY_PREFIX = "wm_"
KEY_BYTES = 32
# How much of a key is kept in clear to tell keys apart in `webmon keys list`.
SHOWN_CHARS = 10


class Scope(StrEnum):
    """read: GET anything; write: also change sites and submit tasks; admin: everything."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


def grants(held: Scope, needed: Scope) -> bool:
    return _RANK[held] >= _RANK[needed]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def shown_part(key: str) -> str:
    return key[:SHOWN_CHARS]
