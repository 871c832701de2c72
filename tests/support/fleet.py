"""The fault-injection harness: real scheduler and checker processes, an exact ledger.

A test starts processes with a `Fleet` (the `fleet` fixture of tests/faults), injects one
fault, lets the system recover, stops the scheduler, waits until every emitted (site, slot,
region) is stored, stops the checkers, and then `Fleet.ledger()` compares the task topics
(the tasks topic and those of `Fleet.regions`) with check_results: every emitted check has
exactly one row, checked or missed (a task that
reached a checker after its next slot is stored as a miss), nothing stored that was not
emitted, each process exited 0 and stayed within its memory bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.db import count_at
from tests.support.processes import Process, wait_for
from tests.support.services import Services
from tests.support.slots import Slot, emitted_slots, stored_slots

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
    missed: int  # stored rows of slots not checked in time (error = 'missed')

    @property
    def duplicates_emitted(self) -> int:
        return self.emitted_messages - self.emitted

    def line(self, name: str) -> str:
        return (
            f"LEDGER {name}: emitted={self.emitted} (messages {self.emitted_messages},"
            f" duplicate emissions {self.duplicates_emitted}) stored={self.stored}"
            f" (checked {self.stored - self.missed}, missed {self.missed})"
            f" missing={self.missing} unexpected={self.unexpected}"
        )


class Fleet:
    def __init__(self, env: dict[str, str], services: Services, log_dir: Path) -> None:
        self.env = {**env, **FAULT_ENV}
        self.services = services
        self.db_url = env["WEBMON_DATABASE_URL"]
        self.log_dir = log_dir
        self.processes: list[Process] = []
        self.peak_rss_mb: dict[str, float] = {}
        # Regions other than the default whose task topics the ledger reads too.
        self.regions: list[str] = []

    def start(self, module: str, name: str, **extra: str) -> Process:
        p = Process(module, {**self.env, **extra}, self.log_dir, name)
        self.processes.append(p)
        return p

    def scheduler(self, name: str = "scheduler", **extra: str) -> Process:
        return self.start("scheduler", name, **extra)

    def checker(self, name: str, region: str | None = None, **extra: str) -> Process:
        if region is not None:
            extra["WEBMON_CHECKER_REGION"] = region
        return self.start("checker", name, **extra)

    def wait_joined(self, *checkers: Process) -> None:
        wait_for(
            lambda: all(c.logged("probe.assigned") for c in checkers),
            what="checkers to join their group",
        )

    def count(self, query: str, *params: object) -> int:
        return count_at(self.db_url, query, *params)

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

    def emitted_slots(self) -> tuple[int, set[Slot]]:
        tasks = self.env["WEBMON_TASKS_TOPIC"]
        regional = [f"{tasks}.{region}" for region in self.regions]
        return emitted_slots(self.services.kafka_bootstrap, tasks, regional)

    def stored_slots(self) -> set[Slot]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return stored_slots(conn)

    def settle(self, timeout_s: float = 120.0) -> None:
        """After the scheduler stopped: wait until every emitted slot has its row, checked
        or missed."""
        _, emitted = self.emitted_slots()
        wait_for(
            lambda: not emitted - self.stored_slots(),
            timeout_s=timeout_s,
            what="a row for every emitted slot",
        )

    def ledger(self, name: str) -> Ledger:
        """Compare the task topic with check_results, from rows alone: every emitted slot
        has exactly one row, a check or a miss, and nothing else is stored."""
        messages, emitted = self.emitted_slots()
        stored = self.stored_slots()
        ledger = Ledger(
            emitted_messages=messages,
            emitted=len(emitted),
            stored=len(stored),
            missing=len(emitted - stored),
            unexpected=len(stored - emitted),
            missed=self.count("SELECT count(*) FROM check_results WHERE error = 'missed'"),
        )
        print(ledger.line(name))
        for proc, rss in sorted(self.peak_rss_mb.items()):
            print(f"  peak RSS {proc}: {rss:.0f} MB")
        assert ledger.unexpected == 0, ledger
        assert ledger.missing == 0, ledger
        assert self.count("SELECT count(*) FROM check_results WHERE up IS NULL") == ledger.missed
        assert self.count("SELECT count(*) FROM check_results") == ledger.stored
        assert all(rss < RSS_BOUND_MB for rss in self.peak_rss_mb.values()), self.peak_rss_mb
        return ledger
