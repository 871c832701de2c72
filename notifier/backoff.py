"""When a failed send is tried again: capped exponential backoff with jitter."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first send).

    "Equal jitter": half the capped exponential step is kept and the other half drawn at
    random, so replicas that failed together do not retry together, and no wait is
    shorter than half its step.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    step = min(cap_s, base_s * 2.0 ** min(attempt - 1, 62))
    draw = (rng or random).random()
    return step / 2 + draw * step / 2
