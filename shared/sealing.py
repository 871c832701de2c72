"""Site credentials sealed at rest and on the task topic: AES-256-GCM under WEBMON_SECRET_KEY.

Whoever writes a site's auth (the `webmon` CLI, the API) seals the secret; the database
holds the sealed bytes (`site_auth.sealed`), the scheduler copies them to the task
unopened, and a checker opens them just before the request. Only processes given the key
can read a secret: not the scheduler, not a reader of the database or the topic.

The sealed form is `b"\\x01" + nonce (12 bytes) + ciphertext and tag`, the version byte
first so the format can change. The associated data binds a secret to its site, kind and
user name: a sealed token copied to another site's row, or to a basic auth's password,
does not open (GCM's tag fails).

The key is 32 random bytes, written as URL-safe base64 (`new_key()`; `make run` makes one
for the local stack). Keep it as secret as the database password.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION: Final = b"\x01"
_NONCE_BYTES: Final = 12
KEY_BYTES: Final = 32
KEY_VARIABLE: Final = "WEBMON_SECRET_KEY"
MAX_SECRET_BYTES: Final = 4096


class SecretError(ValueError):
    """No key, a malformed key, or a sealed secret that does not open under it."""


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _associated(site_id: int, kind: str, username: str | None) -> bytes:
    return f"webmon-site-auth\x00{site_id}\x00{kind}\x00{username or ''}".encode()


class SecretBox:
    """Seals and opens site secrets under one key."""

    __slots__ = ("_aead",)

    def __init__(self, key: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise SecretError(f"{KEY_VARIABLE} is not base64") from None
        if len(raw) != KEY_BYTES:
            raise SecretError(f"{KEY_VARIABLE} must be {KEY_BYTES} bytes (base64), not {len(raw)}")
        self._aead = AESGCM(raw)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SecretBox | None:
        """The box of `WEBMON_SECRET_KEY`, None when it is unset or empty."""
        key = (os.environ if environ is None else environ).get(KEY_VARIABLE, "")
        return cls(key) if key.strip() else None

    def seal(self, site_id: int, kind: str, username: str | None, secret: str) -> bytes:
        data = secret.encode()
        if not data or len(data) > MAX_SECRET_BYTES:
            raise SecretError(f"a secret is 1 to {MAX_SECRET_BYTES} bytes long")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, _associated(site_id, kind, username))
        return _VERSION + nonce + sealed

    def open(self, site_id: int, kind: str, username: str | None, sealed: bytes) -> str:
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise SecretError("not a sealed secret of this version")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            data = self._aead.decrypt(nonce, body, _associated(site_id, kind, username))
        except InvalidTag:
            raise SecretError(
                f"the sealed secret does not open: another {KEY_VARIABLE}, or another site's"
            ) from None
        return data.decode()
