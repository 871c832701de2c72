"""The slot arithmetic of `claim_due`, in Python, for tests and documentation.

PostgreSQL does the real work in one statement (scheduler/queries.sql); the integration
tests check that the SQL and this function agree.

A site's slots lie on the grid `anchor + k * interval`. Claiming a due site moves
`next_check_at` to the first grid point after `now`; the claimed slot is the one before it.
So a site that was due a moment ago is checked for that slot, and a site overdue by an
hour at a 60 s interval is checked once, for the latest slot, not sixty times.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def claim(
    next_check_at: datetime, interval_seconds: int, now: datetime
) -> tuple[datetime, datetime]:
    """Return (scheduled slot, new next_check_at) for a site due at `next_check_at`."""
    if next_check_at > now:
        raise ValueError("site is not due")
    steps = math.floor((now - next_check_at).total_seconds() / interval_seconds) + 1
    new_next = next_check_at + timedelta(seconds=steps * interval_seconds)
    return new_next - timedelta(seconds=interval_seconds), new_next


def first_check_bounds(created_at: datetime, interval_seconds: int) -> tuple[datetime, datetime]:
    """A new site's first check falls in [created_at, created_at + interval) (random spread)."""
    return created_at, created_at + timedelta(seconds=interval_seconds)
