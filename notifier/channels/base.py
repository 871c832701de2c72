"""What every sender shares: the error it raises and the context it gets."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import aiohttp

from notifier.payload import Outgoing
from shared.netpolicy import TargetBlocked, TargetPolicy


class SendError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        # What the receiver asked for (Retry-After on a 429 or 503): no retry before it.
        self.retry_after_s = retry_after_s


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date, RFC 9110
    10.2.3), or None when there is none or it does not parse."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class SendContext:
    http: aiohttp.ClientSession  # its connector enforces the target policy
    policy: TargetPolicy
    timeout_s: float
    user_agent: str


class Sender(Protocol):
    async def __call__(self, n: Outgoing, ctx: SendContext) -> None: ...


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe_error(exc: BaseException) -> SendError:
    """A SendError that names what went wrong without the URL (aiohttp's messages carry
    the whole URL, and with it a webhook's token)."""
    if isinstance(exc, SendError):
        return exc
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, TargetBlocked):
            return SendError(f"blocked: {e}", permanent=True)
    for e in chain:
        if isinstance(e, asyncio.TimeoutError | TimeoutError):
            return SendError("timeout")
        if isinstance(e, ssl.SSLError | ssl.CertificateError):
            return SendError(f"tls: {type(e).__name__}")
    for e in chain:
        if isinstance(e, aiohttp.ClientResponseError):
            return SendError(f"status {e.status}")
        if isinstance(e, aiohttp.ClientConnectorError):
            return SendError(f"connect: {e.os_error.strerror or type(e.os_error).__name__}")
        if isinstance(e, OSError) and e.strerror:
            return SendError(f"{type(e).__name__}: {e.strerror}")
    return SendError(type(exc).__name__)


def config_text(n: Outgoing, key: str, *, required: bool = True) -> str | None:
    value = n.channel.config.get(key)
    if value is None or value == "":
        if required:
            raise SendError(f"channel {n.channel.name}: config.{key} is not set", permanent=True)
        return None
    return str(value)
