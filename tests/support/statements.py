"""Counting the statements a piece of code sends, for "a fixed number of queries whatever
the size" (tests/api/test_status_pages.py and bench/bench_status_page.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg


class CountedStatements:
    """Counts, while entered, the statements psycopg's async cursors send that are among
    `ours` (so the pool's own checks of its connections are not counted)."""

    def __init__(self, ours: Collection[str]) -> None:
        self.ours = frozenset(ours)
        self.count = 0

    def __enter__(self) -> CountedStatements:
        self._original = psycopg.AsyncCursor.execute
        counted = self

        async def execute(cur: Any, *args: Any, **kwargs: Any) -> Any:
            if args and args[0] in counted.ours:
                counted.count += 1
            return await counted._original(cur, *args, **kwargs)

        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        psycopg.AsyncCursor.execute = self._original  # type: ignore[method-assign]
