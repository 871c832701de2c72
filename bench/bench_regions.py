"""Regions at the load of one region: R regions with N sites each checked from all R,
beside one region with N x R sites (the same checks a minute, the same rows stored), in
one run: the same PostgreSQL, broker and target, a fresh database and topics per phase.

Each phase runs the processes as the reference deployment does (docs/regions.md): R
checkers that only probe (`WEBMON_CHECKER_ROLES=probe`, no database URL), one per region
(in the one-region phase, R of the default region: one consumer group); one writer
(`WEBMON_CHECKER_ROLES=writer`) beside the database; one scheduler. After a warm-up of
one interval, every (site, slot, region) due in the measured window is counted: a row
(checked, or stored as missed) or none; then the checks' lateness (`checked_at` minus the
slot), p50 and p99; every process's CPU per stored row (bench/costs.py's cost model, with
PostgreSQL's backends split by the process they serve); the bytes on each process's
connections to the broker and to PostgreSQL, and PostgreSQL's WAL, per row. Last, the two
phases side by side: the writer's CPU per result (its process and its backends), with
regions over without.

    .venv/bin/python -m bench.bench_regions            # a short load (make bench)
    .venv/bin/python -m bench.bench_regions --sites 30000 --interval 60 --seconds 120
    ... --rounds 3                                      # the pair three times, A B, B A, A B
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from bench.common import BenchEnv, bench_env, report, services
from bench.costs import Ledger, listener_pid, own_cpu
from bench.regions_report import (
    SCHEDULER,
    WRITER,
    Phase,
    Rows,
    comparison,
    phase_report,
    rounds_summary,
)
from bench.system import (
    Runner,
    Target,
    db_now,
    machine_busy_seconds,
    stop,
    target,
    wait_until,
)
from bench.wire import WireMeter, message_sizes
from shared.messages.bounds import DEFAULT_REGION

REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "af-south")
JOIN_TIMEOUT_S = 180


@dataclass(frozen=True)
class Load:
    server: str  # the PostgreSQL server's maintenance URL
    bootstrap: str
    target: Target
    interval: int
    seconds: float
    logs: Path


_ADD_SITES = """
INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at, regions)
SELECT %(url)s || '?n=' || g, %(interval)s, least(5, %(interval)s),
       now() + interval '2 s' + (g %% %(count)s) * %(interval)s * interval '1 s' / %(count)s,
       %(regions)s::text[]
  FROM generate_series(1, %(count)s) g
"""
# Every (site, slot, region) due in [start, end): a site's grid is anchored at its first
# stored slot, and each of its regions owes a row for each slot.
_ROWS = """
WITH anchored AS (
    SELECT s.id, s.regions, s.interval_seconds * interval '1 s' AS i,
           (SELECT min(scheduled_at) FROM check_results c WHERE c.site_id = s.id) AS first_slot
      FROM sites s),
grid AS (
    SELECT a.id, r.region, g.slot
      FROM anchored a
     CROSS JOIN LATERAL generate_series(
           a.first_slot + ceil(greatest(0, extract(epoch FROM %(start)s - a.first_slot))
                               / extract(epoch FROM a.i)) * a.i,
           %(end)s - interval '1 microsecond', a.i) AS g(slot)
     CROSS JOIN LATERAL unnest(a.regions) AS r(region)
     WHERE a.first_slot IS NOT NULL)
SELECT count(*), count(c.site_id), count(*) FILTER (WHERE c.up IS NOT NULL),
       count(*) FILTER (WHERE c.site_id IS NOT NULL AND c.up IS NULL)
  FROM grid
  LEFT JOIN check_results c
    ON c.site_id = grid.id AND c.scheduled_at = grid.slot AND c.region = grid.region
"""
_IN_WINDOW = """
SELECT count(*) FROM check_results WHERE scheduled_at >= %(start)s AND scheduled_at < %(end)s
"""
_LATENESS = """
SELECT extract(epoch FROM checked_at - scheduled_at)::float8 FROM check_results
 WHERE scheduled_at >= %(start)s AND scheduled_at < %(end)s AND up IS NOT NULL
"""
_BACKENDS = """
SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s
"""


def add_sites(db_url: str, url: str, count: int, interval: int, regions: tuple[str, ...]) -> None:
    """`count` sites checked from `regions`, their first slots spread over one interval."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        params = {"url": url, "count": count, "interval": interval, "regions": list(regions)}
        conn.execute(_ADD_SITES, params)
        conn.execute("VACUUM ANALYZE sites")


def stored_rows(db_url: str, start: datetime, end: datetime) -> Rows:
    params = {"start": start, "end": end}
    with psycopg.connect(db_url, autocommit=True) as conn:
        found = conn.execute(_ROWS, params).fetchone()
        in_window = conn.execute(_IN_WINDOW, params).fetchone()
        late = sorted(r[0] for r in conn.execute(_LATENESS, params).fetchall())
    assert found is not None and in_window is not None
    due, stored, checked, missed = found
    return Rows(
        due=due,
        stored=stored,
        checked=checked,
        missed=missed,
        off_grid=in_window[0] - stored,
        lateness_p50_s=statistics.median(late) if late else float("nan"),
        lateness_p99_s=late[min(len(late) - 1, int(len(late) * 0.99))] if late else float("nan"),
    )


def wal_position(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    high, low = str(row[0]).split("/")
    return (int(high, 16) << 32) + int(low, 16)


def backends_cpu(db_url: str, application: str) -> Callable[[], dict[str, float]]:
    """A counter of the CPU seconds of the PostgreSQL backends serving one program (by its
    application_name). A backend that ends inside the window is lost from it (the programs'
    pools keep theirs)."""

    def read() -> dict[str, float]:
        with psycopg.connect(db_url, autocommit=True) as conn:
            pids = [r[0] for r in conn.execute(_BACKENDS, (application,)).fetchall()]
        return {"total": sum(own_cpu(p) for p in pids)}

    return read


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run_phase(load: Load, label: str, regions: tuple[str, ...], sites: int, probes: int) -> Phase:
    """One phase: `probes` probe-only checkers spread over `regions`, one writer, one
    scheduler, `sites` sites checked from every one of `regions`."""
    logs = load.logs / label
    logs.mkdir(parents=True)
    with bench_env(load.server, load.bootstrap) as env:
        runner = Runner(env, logs)
        try:
            return _measure(load, env, runner, label, regions, sites, probes)
        finally:
            runner.kill_all()


def _measure(
    load: Load,
    env: BenchEnv,
    runner: Runner,
    label: str,
    regions: tuple[str, ...],
    sites: int,
    probes: int,
) -> Phase:
    checkers = {}
    for n in range(probes):
        region = regions[n % len(regions)]
        name = f"probe {region}" + (f" {n // len(regions) + 1}" if probes > len(regions) else "")
        checkers[name] = runner.start(  # as a remote region's: no database URL at all
            "checker",
            name,
            WEBMON_CHECKER_ROLES="probe",
            WEBMON_CHECKER_REGION=region,
            WEBMON_DATABASE_URL="",
        )
    writer = runner.start("checker", WRITER, WEBMON_CHECKER_ROLES="writer")
    wait_until(
        lambda: (
            runner.logged(WRITER, "writer.assigned")
            and all(runner.logged(name, "probe.assigned") for name in checkers)
        ),
        JOIN_TIMEOUT_S,
        "the probes and the writer to join their groups",
    )
    add_sites(env.database_url, load.target.url, sites, load.interval, regions)
    scheduler = runner.start("scheduler", SCHEDULER)
    pg_port = urlsplit(load.server).port or 5432
    broker_port = int(load.bootstrap.rsplit(":", 1)[1])
    ledger, backends = Ledger(), Ledger()
    wire = WireMeter({"broker": broker_port, "PostgreSQL": pg_port})
    ledger.add_tree(SCHEDULER, scheduler.pid)
    for name, proc in [*checkers.items(), (WRITER, writer)]:
        ledger.add_checker(name, proc.pid)
        wire.add(name, proc.pid)
    wire.add(SCHEDULER, scheduler.pid)
    ledger.add_tree("PostgreSQL (all backends)", listener_pid(pg_port))
    for program, name in (("webmon-checker", WRITER), ("webmon-scheduler", SCHEDULER)):
        backends.add(name, [], backends_cpu(env.database_url, program))
    ledger.add_tree("broker", listener_pid(broker_port))
    ledger.add_processes(f"target: {load.target.name}", load.target.pids)
    time.sleep(max(load.interval, 10))  # the warm-up: the load runs for as long as measured
    load_before = _load()
    start = db_now(env.database_url)
    wal_start = wal_position(env.database_url)
    ledger.start()
    backends.start()
    wire.start()
    busy_before = machine_busy_seconds()
    time.sleep(load.seconds)
    busy = machine_busy_seconds() - busy_before
    spent = ledger.stop()
    served = {name: cpu["total"] for name, cpu in backends.stop().items()}
    crossed = wire.stop()
    wal = wal_position(env.database_url) - wal_start
    end = db_now(env.database_url)
    load_after = _load()
    time.sleep(load.interval + 5)  # the window's last slots are checked
    stop(scheduler)
    rows = stored_rows(env.database_url, start, end)
    for proc in [*checkers.values(), writer]:
        stop(proc)
    return Phase(
        label=label,
        regions=regions,
        sites=sites,
        rows=rows,
        spent=spent,
        backends=served,
        memory=ledger.memory,
        wire=crossed,
        wal_bytes=wal,
        busy_cores=busy / load.seconds,
        load=(load_before, load_after),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=1000, help="sites (each in every region)")
    parser.add_argument("--regions", type=int, default=3, choices=range(2, len(REGIONS) + 1))
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured window")
    parser.add_argument(
        "--one-region-first", action="store_true", help="run the one-region phase first"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the pair of phases this many times, in turn in either order (a machine "
        "whose speed drifts within a run moves a single pair's ratio by 10 %% and more)",
    )
    args = parser.parse_args()
    report("message sizes (JSON, before the producer's compression)", list(message_sizes()))
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-regions-"))
    regions = REGIONS[: args.regions]
    print(f"\nmachine: {os.cpu_count()} cores, load average {_load()} at the start; logs in {logs}")
    plans: list[tuple[str, tuple[str, ...], int]] = [
        (f"{len(regions)} regions", regions, args.sites),
        ("one region", (DEFAULT_REGION,), args.sites * len(regions)),
    ]
    ratios: list[float] = []
    with target() as tgt, services() as (server, bootstrap):
        load = Load(server, bootstrap, tgt, args.interval, args.seconds, logs)
        for n in range(args.rounds):
            done: dict[str, Phase] = {}
            backwards = args.one_region_first != (n % 2 == 1)
            here = load if args.rounds == 1 else replace(load, logs=logs / f"round {n + 1}")
            for label, where, sites in plans[:: -1 if backwards else 1]:
                phase = run_phase(here, label, where, sites, len(regions))
                phase_report(load.interval, load.seconds, phase)
                done[label] = phase
            ratios.append(comparison(*(done[label] for label, _, _ in plans)))
    rounds_summary(ratios)
    print(f"\nload average at the end: {_load()}")


if __name__ == "__main__":
    main()
