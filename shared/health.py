"""Backoff for retries, and one log line per change of a dependency's state."""

from __future__ import annotations

import logging
import random
import time

DEFAULT_INITIAL_BACKOFF_S = 0.5
DEFAULT_MAX_BACKOFF_S = 15.0


class Backoff:
    """Exponential backoff with jitter: `fail()` pushes the next attempt out, `succeed()` resets."""

    def __init__(
        self,
        initial_s: float = DEFAULT_INITIAL_BACKOFF_S,
        max_s: float = DEFAULT_MAX_BACKOFF_S,
    ) -> None:
        self._initial = initial_s
        self._max = max_s
        self._delay = 0.0
        self._next_attempt = 0.0

    def fail(self) -> float:
        self._delay = min(self._max, self._delay * 2 if self._delay else self._initial)
        wait = self._delay * random.uniform(0.8, 1.2)
        self._next_attempt = time.monotonic() + wait
        return wait

    def succeed(self) -> None:
        self._delay = 0.0
        self._next_attempt = 0.0

    def remaining(self) -> float:
        return max(0.0, self._next_attempt - time.monotonic())

    def ready(self) -> bool:
        return self.remaining() == 0.0


class DependencyState:
    """Logs `<name>.lost` once when a dependency fails and `<name>.recovered` when it is back."""

    def __init__(self, name: str, logger: logging.Logger) -> None:
        self.name = name
        self._logger = logger
        self._lost_at: float | None = None
        self.failures = 0  # operations that failed
        self.outages = 0  # times it was lost

    @property
    def ok(self) -> bool:
        return self._lost_at is None

    def lost(self, reason: object) -> None:
        self.failures += 1
        if self._lost_at is None:
            self.outages += 1
            self._lost_at = time.monotonic()
            self._logger.warning("%s.lost reason=%s", self.name, reason)

    def recovered(self) -> None:
        if self._lost_at is not None:
            down_s = time.monotonic() - self._lost_at
            self._lost_at = None
            self._logger.info("%s.recovered down_s=%.1f", self.name, down_s)
