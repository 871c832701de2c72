"""When the claim loop looks for due sites again: as soon as the earliest one is due, or
at once when a site is added or made due sooner (LISTEN `webmon_sites`) or an on-demand
task is accepted (`webmon_tasks`), and at least every `WEBMON_TICK_SECONDS`.

The notifications arrive on a connection of their own. While it is lost the loop falls
back to its timed looks and reconnects with backoff; nothing depends on a notification
arriving, they only cut the wait short.
"""

from __future__ import annotations

import logging
import threading
import time

from shared.db import Connection, connect, notifications, translated_errors
from shared.errors import DatabaseError
from shared.health import Backoff
from shared.queries import load_queries

logger = logging.getLogger(__name__)

QUERIES = load_queries("scheduler")
# Waiting is sliced so that a stop is seen within this long.
SLICE_S = 0.2


class SiteChanges:
    """`wait(seconds)`: sleep until the deadline, a change of `sites`, or a stop."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        self._url = url
        self._stop = stop
        self._conn: Connection | None = None
        self._backoff = Backoff(initial_s=1.0, max_s=30.0)
        self.wakeups = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def wait(self, seconds: float) -> bool:
        """True when a notification cut the wait short."""
        deadline = time.monotonic() + max(0.0, seconds)
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            conn = self._listening()
            if conn is None:
                self._stop.wait(min(left, SLICE_S))
                continue
            try:
                if notifications(conn, min(left, SLICE_S)):
                    self.wakeups += 1
                    return True
            except DatabaseError as exc:
                self._lost(exc)
        return False

    def _listening(self) -> Connection | None:
        if self._conn is not None:
            return self._conn
        if not self._backoff.ready():
            return None
        try:
            conn = connect(self._url, autocommit=True, application_name="webmon-scheduler")
            with translated_errors():
                conn.execute(QUERIES["listen_for_sites"])
                conn.execute(QUERIES["listen_for_tasks"])
        except DatabaseError as exc:
            self._backoff.fail()
            logger.debug("wakeups.unavailable error=%s", exc)
            return None
        self._backoff.succeed()
        self._conn = conn
        return conn

    def _lost(self, exc: DatabaseError) -> None:
        logger.debug("wakeups.lost error=%s", exc)
        self.close()
        self._backoff.fail()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
