"""The whole system keeping up: N sites at one interval, one scheduler and C checkers with
their default settings, against a local target.

After a warm-up of one interval, every slot due in the next `--seconds` is counted: checked,
missed (reached a checker after its next slot), or absent (never emitted); and the
lateness of the checks (`checked_at` minus the slot), p50 and p99.

Then the cost model (`bench/costs.py`): every process's CPU per stored slot in the window
and what that comes to in cores per 100,000 sites at 60 s, with its memory, beside the bare
HTTP engine and `Prober.check` on the same target (run before the system starts). The
target is Debian's nginx where installed, else the project's Python server.

    .venv/bin/python -m bench.bench_system --sites 2000 --interval 1 --seconds 120
    .venv/bin/python -m bench.bench_system --sites 100000 --interval 60 --checkers 2
    ... --code ../other-checkout   # the same load on another version's processes
    ... --env WEBMON_KAFKA_EXTRA='{"linger.ms": 50}'   # a setting A/B, same code
"""

from __future__ import annotations

import argparse
import os
import ssl
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import bench_env, report, services
from bench.costs import Ledger, cost_rows, listener_pid, tree_cpu
from bench.http_engines import AiohttpEngine, ProberEngine, measure
from bench.system import (
    Runner,
    Target,
    add_sites,
    db_now,
    machine_busy_seconds,
    stop,
    target,
    wait_until,
    window,
)

BARE_CONCURRENCY = 256


class _TargetMeter:
    def __init__(self, tgt: Target) -> None:
        self.pids = tgt.pids

    def cpu_seconds(self) -> float:
        return sum(tree_cpu(p) for p in self.pids)


def bare_rows(tgt: Target, seconds: float) -> list[tuple[str, str]]:
    """The bare probe on the same target in the same session: aiohttp alone, and the
    checker's `Prober.check` without Kafka around it (bench_checker's bare figure)."""
    rows = []
    meter = _TargetMeter(tgt)
    for engine in (AiohttpEngine, ProberEngine):
        rate, errors, client, server = measure(
            engine, ssl.create_default_context(), tgt.url, seconds, BARE_CONCURRENCY, True, meter
        )
        rows.append(
            (
                f"bare: {engine.name}",
                f"{1e6 * client / rate:7.1f} µs/check client, {1e6 * server / rate:5.1f} target"
                f" ({rate:,.0f}/s, {errors} errors)",
            )
        )
    return rows


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=120.0, help="the measured window")
    parser.add_argument("--checkers", type=int, default=1)
    parser.add_argument("--notifier", action="store_true", help="run and count the notifier")
    parser.add_argument(
        "--bare-seconds", type=float, default=5.0, help="the bare probe's run (0: none)"
    )
    parser.add_argument("--code", type=Path, help="run the processes from this checkout")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every process started (repeatable), e.g. WEBMON_KAFKA_EXTRA=...",
    )
    args = parser.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-system-"))
    load_before = _load()
    with target() as tgt, services() as (server, bootstrap), bench_env(server, bootstrap) as env:
        bare = bare_rows(tgt, args.bare_seconds) if args.bare_seconds > 0 else []
        runner = Runner(env, logs) if args.code is None else Runner(env, logs, args.code.resolve())
        try:
            add_sites(env.database_url, tgt.url, args.sites, args.interval)
            checkers = [
                runner.start("checker", f"checker-{n}", **extra) for n in range(args.checkers)
            ]
            wait_until(
                lambda: all(
                    runner.logged(f"checker-{n}", "probe.assigned") for n in range(args.checkers)
                ),
                120,
                "the checkers to join their group",
            )
            scheduler = runner.start("scheduler", "scheduler", **extra)
            notifier = runner.start("notifier", "notifier", **extra) if args.notifier else None
            ledger = Ledger()
            ledger.add_tree("scheduler", scheduler.pid)
            for n, checker in enumerate(checkers):
                ledger.add_checker(f"checker-{n}", checker.pid)
            if notifier is not None:
                ledger.add_tree("notifier", notifier.pid)
            ledger.add_tree(
                "PostgreSQL (all backends)", listener_pid(urlsplit(server).port or 5432)
            )
            ledger.add_tree("broker", listener_pid(int(bootstrap.rsplit(":", 1)[1])))
            ledger.add_processes(f"target: {tgt.name}", tgt.pids)
            warm = max(args.interval, 10)
            time.sleep(warm)  # the load itself: it runs for as long as it is measured
            start = db_now(env.database_url)
            ledger.start()
            busy_before = machine_busy_seconds()
            time.sleep(args.seconds)
            busy = machine_busy_seconds() - busy_before
            spent = ledger.stop()
            end = db_now(env.database_url)
            load_after = _load()
            time.sleep(args.interval + 5)  # the window's last slots are checked
            stop(scheduler)
            if notifier is not None:
                stop(notifier)
            result = window(env.database_url, start, end)
            for checker in checkers:
                stop(checker)
        finally:
            runner.kill_all()
    version = "this checkout" if args.code is None else str(args.code)
    version += "".join(f", {e}" for e in args.env)
    report(
        f"system: {args.sites:,} sites every {args.interval} s, {args.checkers} checker(s),"
        f" {args.seconds:g} s measured ({version}; logs in {logs})",
        [
            ("machine", f"{os.cpu_count()} cores; before: {load_before}; window end: {load_after}"),
            ("slots due", f"{result.due:,}"),
            ("checked", f"{result.checked:,} ({100 * result.performed_share:.3f} %)"),
            ("missed (stored as such)", f"{result.missed:,}"),
            ("no row", f"{result.due - result.rows:,}"),
            ("checks/s", f"{result.checked / args.seconds:,.0f}"),
            ("machine busy in the window", f"{busy / args.seconds:.2f} cores"),
            (
                "lateness p50 / p99",
                f"{result.lateness_p50_s:.3f} s / {result.lateness_p99_s:.3f} s",
            ),
        ],
    )
    report(
        "cost model: CPU of each process in the window (user + system, /proc) per stored"
        " slot (a check, or a missed slot: both pass the scheduler, broker, writer and"
        f" PostgreSQL): {result.rows:,} slots, {result.checked:,} checked",
        cost_rows(spent, result.rows, ledger.memory) + bare,
    )


if __name__ == "__main__":
    main()
