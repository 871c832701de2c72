"""Failed logins, limited per client address and per account, each with an end.

Guessing a password takes many tries; these limits make it take forever:

* per client address: at most `LOGIN_FAILURES` failed logins in `ADDRESS_WINDOW_S`, then
  every attempt from that address is refused until the oldest failure leaves the window.
  The address is the connection's, or what a trusted proxy says it is
  (WEBMON_TRUSTED_PROXIES; no proxy is trusted by default), never a header anyone sends.
* per account: after `LOGIN_FAILURES` failed logins in a row, the account is locked for
  `ACCOUNT_LOCKOUT`, whichever addresses they came from (kept in PostgreSQL, so every
  API process sees it); once the lock ends, each further failure locks it again, until a
  login succeeds. A locked account refuses even the right password, without checking it.
  A name no user has is limited alike (in this process), so that a lockout does not tell
  which names exist.

A refusal is `Limited`, with when to try again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import timedelta
from typing import Final

from webmon.core.errors import Limited

LOGIN_FAILURES: Final = 10
ADDRESS_WINDOW_S: Final = 300.0
ACCOUNT_LOCKOUT: Final = timedelta(minutes=15)
# Keys a limiter keeps at most; past it, it starts afresh (a flood of addresses or names
# cannot grow the process without bound).
MAX_KEYS: Final = 10_000
TOO_MANY = "too many failed logins; try again in a few minutes"


class FailureLimiter:
    """At most `limit` failures per key (a client address, a name) in a sliding window."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        cutoff = time.monotonic() - self._window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, None when it may now."""
        times = self._recent(key)
        if len(times) < self._limit:
            return None
        return max(1.0, times[0] + self._window - time.monotonic())

    def failed(self, key: str) -> None:
        if len(self._failures) > MAX_KEYS:
            self._failures.clear()
        self._recent(key).append(time.monotonic())


def refuse(retry_after_s: float | None) -> None:
    """`Limited` when there is a wait."""
    if retry_after_s is not None and retry_after_s > 0:
        raise Limited(TOO_MANY, retry_after=max(1, math.ceil(retry_after_s)))
