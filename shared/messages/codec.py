"""The base of every message, its JSON encoding, and `decode`, which raises only
`MessageError`.

A message is a frozen msgspec `Struct`: its fields and `msgspec.Meta` bounds are its
schema; `__post_init__` holds the rules that span fields (it runs on construction and on
decoding). The schema version `v` is the struct's tag: always encoded, first; optional
on decoding (1 when absent); any other value refused. Fields equal to their default are
left out, so a plain task stays small, and unknown fields are ignored, so that a newer
producer can add optional ones.

Decoding is lax where pydantic's lax mode was (`"up": 1`, an integer where a float is
expected, a numeric string): nothing webmon writes needs it, but a message a consumer
took before still decodes.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from shared.errors import MessageError
from shared.messages.bounds import SCHEMA_VERSION


class Message(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    gc=False,  # flat values only: never part of a reference cycle
    omit_defaults=True,
    tag_field="v",
    tag=SCHEMA_VERSION,
):
    """A message on a topic: `encode()` its bytes, `decode(Type, raw)` it back."""

    def encode(self) -> bytes:
        return _encode(self)


M = TypeVar("M", bound=Message)

_encode = msgspec.json.Encoder().encode
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
# msgspec's reasons end with where they are: "Expected `int` >= 0 - at `$.site_id`", or
# "... - at `key` in `$.headers`" for a mapping's key.
_AT = re.compile(r" - at `([^`]*)`(?: in `([^`]*)`)?$")
_MISSING = re.compile(r"^Object missing required field `([^`]*)`$")


def decoder(model: type[M]) -> msgspec.json.Decoder[M]:
    """The (cached) decoder of one message type."""
    found = _decoders.get(model)
    if found is None:
        found = _decoders[model] = msgspec.json.Decoder(model, strict=False)
    return found


def decode(model: type[M], raw: bytes | None) -> M:
    """Parse a message or raise `MessageError` with a short reason."""
    if raw is None:
        raise MessageError("empty message")
    try:
        return decoder(model).decode(raw)
    except msgspec.MsgspecError as exc:
        raise MessageError(describe(model, exc)) from None


def describe(model: type[Any], exc: msgspec.MsgspecError) -> str:
    """`invalid CheckTask: max_redirects: Expected int <= 30`: the message, where, why."""
    reason = str(exc)
    where = "message"
    at = _AT.search(reason)
    if at is not None:
        reason = reason[: at.start()]
        key, path = at.groups()
        where = f"{_path(path)} key" if path is not None else _path(key)
    missing = _MISSING.match(reason)
    if missing is not None:
        field = missing.group(1)
        where = field if where == "message" else f"{where}.{field}"
        reason = "field required"
    return f"invalid {model.__name__}: {where}: {reason.replace('`', '')}"


def _path(at: str) -> str:
    return at.removeprefix("$").removeprefix(".") or "message"
