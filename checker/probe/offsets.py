"""Which task offsets may be committed: per partition, everything below the first unfinished.

Tasks of one partition finish out of order (a slow site next to a fast one). An offset is
finished when its result was acknowledged by the broker, or it was dropped (expired,
dead-lettered and acknowledged). The commit position is one past the longest finished
prefix, so a crash never skips a task whose result is not durable.
"""

from __future__ import annotations

from collections import deque

PartitionKey = tuple[str, int]


class OffsetTracker:
    def __init__(self) -> None:
        self._order: dict[PartitionKey, deque[int]] = {}
        self._finished: dict[PartitionKey, set[int]] = {}
        self._position: dict[PartitionKey, int] = {}
        self._committed: dict[PartitionKey, int] = {}

    def started(self, key: PartitionKey, offset: int) -> None:
        self._order.setdefault(key, deque()).append(offset)
        self._finished.setdefault(key, set())

    def finished(self, key: PartitionKey, offset: int) -> None:
        order = self._order.get(key)
        if order is None:  # the partition was revoked meanwhile: not ours to commit
            return
        finished = self._finished[key]
        finished.add(offset)
        while order and order[0] in finished:
            finished.discard(order[0])
            self._position[key] = order.popleft() + 1

    def in_flight(self, key: PartitionKey) -> int:
        return len(self._order.get(key, ()))

    def to_commit(self, keys: set[PartitionKey] | None = None) -> dict[PartitionKey, int]:
        """Positions that moved since the last `committed()`; all partitions, or just `keys`."""
        return {
            key: position
            for key, position in self._position.items()
            if (keys is None or key in keys) and self._committed.get(key) != position
        }

    def committed(self, positions: dict[PartitionKey, int]) -> None:
        self._committed.update(positions)

    def forget(self, keys: set[PartitionKey]) -> None:
        for key in keys:
            self._order.pop(key, None)
            self._finished.pop(key, None)
            self._position.pop(key, None)
            self._committed.pop(key, None)
