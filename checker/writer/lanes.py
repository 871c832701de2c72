"""The writer's lanes: each a database thread with the batches queued on it, in order.

A batch holds results and the offset after each partition's last message. The consumer
thread fills a lane's open batch; once it closes (by size or age) it is sealed and queued
on the lane's thread, which writes it; the consumer commits its offsets when it is
written, in order. Up to LANE_DEPTH batches are in flight per lane.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from shared.health import Backoff
from shared.messages import CheckResult

LANE_DEPTH = 2

PartitionKey = tuple[str, int]


@dataclass
class Batch:
    """Results and the offsets they came from, per partition."""

    results: dict[PartitionKey, list[CheckResult]] = field(default_factory=dict)
    next_offsets: dict[PartitionKey, int] = field(default_factory=dict)
    counts: dict[PartitionKey, int] = field(default_factory=dict)
    messages: int = 0
    opened_at: float = 0.0

    def add(self, key: PartitionKey, offset: int, result: CheckResult | None) -> None:
        if not self.messages:
            self.opened_at = time.monotonic()
        if result is not None:
            self.results.setdefault(key, []).append(result)
        self.next_offsets[key] = offset + 1
        self.counts[key] = self.counts.get(key, 0) + 1
        self.messages += 1

    def all_results(self) -> list[CheckResult]:
        return [result for results in self.results.values() for result in results]

    def drop(self, keys: set[PartitionKey]) -> None:
        for key in keys:
            self.results.pop(key, None)
            self.next_offsets.pop(key, None)
            self.messages -= self.counts.pop(key, 0)


@dataclass
class Lane:
    """A database thread, the batches queued on it in order, and the batch filling up.

    Up to LANE_DEPTH batches are in flight: one being written and the next one waiting, so
    that the thread starts on it at once rather than after the consumer thread comes round.
    """

    thread: ThreadPoolExecutor
    open: Batch = field(default_factory=Batch)
    in_flight: deque[tuple[Batch, Future[bool]]] = field(default_factory=deque)
    backoff: Backoff = field(default_factory=Backoff)
    # Set when a batch gave up unwritten: nothing queued behind it is committed either.
    gave_up: bool = False

    def ready(self, batch_size: int, age_s: float) -> bool:
        """Its open batch should be written now, and there is room in flight for it."""
        if len(self.in_flight) >= LANE_DEPTH or not self.open.messages:
            return False
        return self.open.messages >= batch_size or time.monotonic() - self.open.opened_at >= age_s

    def blocked(self, batch_size: int) -> bool:
        """Its open batch is full and the batches before it are still being written."""
        return len(self.in_flight) >= LANE_DEPTH and self.open.messages >= batch_size

    def holds(self, key: PartitionKey) -> bool:
        return any(key in batch.next_offsets for batch, _ in self.in_flight)
