"""Secrets sealed at rest: AES-256-GCM under WEBMON_SECRET_KEY.

Three kinds of secret are sealed, each bound to what it belongs to:

* a site's credentials (`site_auth.sealed`): whoever writes a site's auth (the `webmon`
  CLI, the API) seals the secret, the scheduler copies it to the task unopened, and a
  checker opens it just before the request; bound to the site, the kind and the user name;
* a notification channel's secret (`channels.secret_sealed`): sealed by whoever writes it
  (the API, the dashboard, the CLI), opened by the notifier (or a test send) just before
  it sends; bound to the channel's id and kind;
* the dashboard's signing key (`webmon_secrets`): sealed by the API process that makes
  it, opened by every API process; bound to its name.

Only processes given the key can read a secret: not the scheduler, not a reader of the
database or the topic.

The sealed form is `b"\\x01" + nonce (12 bytes) + ciphertext and tag`, the version byte
first so the format can change. The associated data binds a secret to what it belongs
to: a sealed token copied to another site's or channel's row, or to a basic auth's
password, does not open (GCM's tag fails).

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


def _channel(channel_id: int, kind: str) -> bytes:
    return f"webmon-channel\x00{channel_id}\x00{kind}".encode()


def _named_key(name: str) -> bytes:
    return f"webmon-key\x00{name}".encode()


class SecretBox:
    """Seals and opens secrets under one key."""

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
        """A site's credential, bound to the site, its kind and user name."""
        return self._seal(_associated(site_id, kind, username), secret.encode())

    def open(self, site_id: int, kind: str, username: str | None, sealed: bytes) -> str:
        return self._open(_associated(site_id, kind, username), sealed, "site's").decode()

    def seal_channel(self, channel_id: int, kind: str, secret: str) -> bytes:
        """A notification channel's secret, bound to the channel and its kind."""
        return self._seal(_channel(channel_id, kind), secret.encode())

    def open_channel(self, channel_id: int, kind: str, sealed: bytes) -> str:
        return self._open(_channel(channel_id, kind), sealed, "channel's").decode()

    def seal_key(self, name: str, key: bytes) -> bytes:
        """A key webmon made (the dashboard's signing key), bound to its name."""
        return self._seal(_named_key(name), key)

    def open_key(self, name: str, sealed: bytes) -> bytes:
        return self._open(_named_key(name), sealed, "key's")

    def _seal(self, associated: bytes, data: bytes) -> bytes:
        if not data or len(data) > MAX_SECRET_BYTES:
            raise SecretError(f"a secret is 1 to {MAX_SECRET_BYTES} bytes long")
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, associated)

    def _open(self, associated: bytes, sealed: bytes, whose: str) -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise SecretError("not a sealed secret of this version")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, associated)
        except InvalidTag:
            raise SecretError(
                f"the sealed secret does not open: another {KEY_VARIABLE}, or another {whose}"
            ) from None
