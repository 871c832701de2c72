"""The fault-injection harness: real scheduler and checker processes, an exact ledger.

A test starts processes with `fleet`, injects one fault, lets the system recover, stops
the scheduler, waits until every emitted (site, slot) is stored, stops the checkers, and
then `Fleet.ledger()` compares the task topic with check_results: nothing missing (but
what the checkers logged as expired), nothing stored that was not emitted, each process
exited 0 and stayed within its memory bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.errors import MessageError
from shared.messages import CheckTask, decode
from tests.conftest import Services
from tests.processes import Process, wait_for
from tests.support import read_all

Conn = psycopg.Connection[Any]
# Peak RSS a webmon process may reach in these tests (the checker measured ~90 MB with
# 1,000 checks in flight).
RSS_BOUND_MB = 300
FAULT_ENV = {
    "WEBMON_TICK_SECONDS": "0.2",
    "WEBMON_WRITER_BATCH_AGE_S": "0.2",
    "WEBMON_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "WEBMON_GRACE_S": "10",
}


@dataclass
class Ledger:
    emitted_messages: int
    emitted: int
    stored: int
    missing: int
    unexpected: int
    expired: int

    @property
    def duplicates_emitted(self) -> int:
        return self.emitted_messages - self.emitted

    def line(self, name: str) -> str:
        return (
            f"LEDGER {name}: emitted={self.emitted} (messages {self.emitted_messages},"
            f" duplicate emissions {self.duplicates_emitted}) stored={self.stored}"
            f" missing={self.missing} unexpected={self.unexpected} expired={self.expired}"
        )


SLOT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class Fleet:
    def __init__(self, env: dict[str, str], services: Services, log_dir: Path) -> None:
        self.env = {**env, **FAULT_ENV}
        self.services = services
        self.db_url = env["WEBMON_DATABASE_URL"]
        self.log_dir = log_dir
        self.processes: list[Process] = []
        self.peak_rss_mb: dict[str, float] = {}

    def start(self, module: str, name: str, **extra: str) -> Process:
        p = Process(module, {**self.env, **extra}, self.log_dir, name)
        self.processes.append(p)
        return p

    def scheduler(self, name: str = "scheduler", **extra: str) -> Process:
        return self.start("scheduler", name, **extra)

    def checker(self, name: str, **extra: str) -> Process:
        return self.start("checker", name, **extra)

    def wait_joined(self, *checkers: Process) -> None:
        wait_for(
            lambda: all(c.logged("probe.assigned") for c in checkers),
            what="checkers to join their group",
        )

    def query(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """A fresh connection each time: PostgreSQL may have been restarted meanwhile."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def count(self, query: str, *params: object) -> int:
        return int(self.query(query, *params)[0][0])

    def stored(self) -> int:
        return self.count("SELECT count(*) FROM check_results")

    def record_rss(self, p: Process) -> None:
        try:
            status = Path(f"/proc/{p.proc.pid}/status").read_text()
        except OSError:
            return
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            self.peak_rss_mb[p.name] = int(match[1]) / 1024

    def stop(self, p: Process, bound_s: float = 15.0) -> float:
        """SIGTERM; the process must exit 0 within `bound_s`. Returns how long it took."""
        self.record_rss(p)
        code, took = p.stop(timeout_s=bound_s + 10)
        assert code == 0, f"{p.name} exited {code}:\n{p.output[-3000:]}"
        assert took <= bound_s, f"{p.name} took {took:.1f}s to stop"
        return took

    def stop_all(self, processes: list[Process], bound_s: float) -> None:
        """SIGTERM to every process at once; each must exit 0 within `bound_s`."""
        for p in processes:
            self.record_rss(p)
            p.signal_stop()
        for p in processes:
            self.stop(p, bound_s)

    def emitted_slots(self) -> tuple[int, set[tuple[int, str]]]:
        decoded = []
        for m in read_all(self.services.kafka_bootstrap, self.env["WEBMON_TASKS_TOPIC"]):
            try:
                decoded.append(decode(CheckTask, m.value()))
            except MessageError:
                continue  # poison a test injected: not a task the scheduler emitted
        slots = {(t.site_id, t.scheduled_at.astimezone(UTC).strftime(SLOT_FORMAT)) for t in decoded}
        return len(decoded), slots

    def stored_slots(self) -> set[tuple[int, str]]:
        rows = self.query(
            "SELECT site_id, to_char(scheduled_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM check_results"
        )
        return {(site_id, ts) for site_id, ts in rows}

    def expired_logged(self) -> int:
        total = 0
        for p in self.processes:
            if p.name.startswith("checker"):
                total += sum(
                    int(n) for n in re.findall(r"probe\.stopped .*expired=(\d+)", p.output)
                )
        return total

    def settle(self, timeout_s: float = 120.0) -> None:
        """After the scheduler stopped: wait until every emitted slot is stored or expired."""
        _, emitted = self.emitted_slots()

        def done() -> bool:
            return len(emitted - self.stored_slots()) == 0

        # Tasks may also expire: then they never arrive. Wait for the others, bounded.
        try:
            wait_for(done, timeout_s=timeout_s, what="every emitted slot stored")
        except AssertionError:
            pass  # the ledger below tells whether the gap is accounted for as expired

    def ledger(self, name: str, *, expiry_may_repeat: bool = False) -> Ledger:
        """Compare the task topic with check_results: every emitted slot is stored once or
        was dropped as expired. `expiry_may_repeat`: the checkers log how many tasks they
        dropped, not which; where tasks are redelivered (a killed checker's uncommitted tasks,
        lost partitions after a broker pause) or emitted twice (a killed scheduler), a slot
        may be dropped after it was stored, or dropped twice, so the drops may exceed the
        missing slots."""
        messages, emitted = self.emitted_slots()
        stored = self.stored_slots()
        ledger = Ledger(
            emitted_messages=messages,
            emitted=len(emitted),
            stored=len(stored),
            missing=len(emitted - stored),
            unexpected=len(stored - emitted),
            expired=self.expired_logged(),
        )
        print(ledger.line(name))
        for proc, rss in sorted(self.peak_rss_mb.items()):
            print(f"  peak RSS {proc}: {rss:.0f} MB")
        assert ledger.unexpected == 0, ledger
        if expiry_may_repeat:
            assert ledger.missing <= ledger.expired, ledger
        else:
            assert ledger.missing == ledger.expired, ledger
        assert self.count("SELECT count(*) FROM check_results") == ledger.stored
        assert all(rss < RSS_BOUND_MB for rss in self.peak_rss_mb.values()), self.peak_rss_mb
        return ledger


@pytest.fixture
def fleet(env: dict[str, str], services: Services, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(env, services, tmp_path)
    yield f
    for p in f.processes:
        p.ensure_dead()


def add_sites(db: Conn, url: str, count: int, interval: int, *, spread: bool = True) -> None:
    """`count` sites on `url` (distinct query strings); first checks spread over an interval,
    or all due now."""
    db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
        "SELECT %(url)s || %(sep)s || 'n=' || g, %(interval)s, 5,"
        "       now() + (g %% %(spread_over)s) * interval '1 second' "
        "FROM generate_series(1, %(count)s) g",
        {
            "url": url,
            "sep": "&" if "?" in url else "?",
            "interval": interval,
            "count": count,
            "spread_over": interval if spread else 1,
        },
    )
