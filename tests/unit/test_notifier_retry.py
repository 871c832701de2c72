"""When a failed notification is tried again: the backoff, and a receiver's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from notifier.backoff import retry_delay
from notifier.channels.base import retry_after

NOW = datetime(2026, 12, 2, 6, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Wed, 02 Dec 2026 06:01:30 GMT", 90.0),
        ("Wed, 02 Dec 2026 05:59:00 GMT", 0.0),  # in the past: at once
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after(header, NOW) == seconds


def test_backoff_doubles_to_its_cap_and_never_waits_less_than_half_a_step() -> None:
    rng = random.Random(7)
    for attempt, step in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 300.0), (80, 300.0)):
        for _ in range(50):
            assert step / 2 <= retry_delay(attempt, 2.0, 300.0, rng) <= step
    with pytest.raises(ValueError):
        retry_delay(0, 2.0, 300.0)
