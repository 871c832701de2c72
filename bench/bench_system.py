"""The whole system keeping up: N sites at one interval, one scheduler and C checkers with
their default settings, against a local target.

After a warm-up of one interval, every slot due in the next `--seconds` is counted: checked,
missed (reached a checker after its next slot), or absent (never emitted); and the
lateness of the checks (`checked_at` minus the slot), p50 and p99.

    .venv/bin/python -m bench.bench_system --sites 2000 --interval 1 --seconds 120
    .venv/bin/python -m bench.bench_system --sites 100000 --interval 60 --checkers 2
    ... --code ../other-checkout   # the same load on another version's processes
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import bench_env, report, services
from bench.system import (
    Runner,
    add_sites,
    cpu_seconds,
    db_now,
    machine_busy_seconds,
    stop,
    target,
    wait_until,
    window,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=120.0, help="the measured window")
    parser.add_argument("--checkers", type=int, default=1)
    parser.add_argument("--code", type=Path, help="run the processes from this checkout")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-system-"))
    with target() as url, services() as (server, bootstrap), bench_env(server, bootstrap) as env:
        runner = Runner(env, logs) if args.code is None else Runner(env, logs, args.code.resolve())
        add_sites(env.database_url, url, args.sites, args.interval)
        checkers = [runner.start("checker", f"checker-{n}") for n in range(args.checkers)]
        wait_until(
            lambda: all(
                runner.logged(f"checker-{n}", "probe.assigned") for n in range(args.checkers)
            ),
            120,
            "the checkers to join their group",
        )
        scheduler = runner.start("scheduler", "scheduler")
        warm = max(args.interval, 10)
        time.sleep(warm)  # the load itself: it runs for as long as it is measured
        start = db_now(env.database_url)
        cpu_before = [cpu_seconds(p) for p in (scheduler, *checkers)]
        busy_before = machine_busy_seconds()
        time.sleep(args.seconds)
        busy = machine_busy_seconds() - busy_before
        cpu = [cpu_seconds(p) - b for p, b in zip((scheduler, *checkers), cpu_before, strict=True)]
        end = db_now(env.database_url)
        time.sleep(args.interval + 5)  # the window's last slots are checked
        stop(scheduler)
        result = window(env.database_url, start, end)
        for checker in checkers:
            stop(checker)
    version = "this checkout" if args.code is None else str(args.code)
    report(
        f"system: {args.sites:,} sites every {args.interval} s, {args.checkers} checker(s),"
        f" {args.seconds:g} s measured ({version}; logs in {logs})",
        [
            ("slots due", f"{result.due:,}"),
            ("checked", f"{result.checked:,} ({100 * result.performed_share:.3f} %)"),
            ("missed (stored as such)", f"{result.missed:,}"),
            ("no row", f"{result.due - result.rows:,}"),
            ("checks/s", f"{result.checked / args.seconds:,.0f}"),
            (
                "CPU in the window",
                f"machine {busy / args.seconds:.2f} cores; scheduler {cpu[0] / args.seconds:.2f},"
                f" checkers {sum(cpu[1:]) / args.seconds:.2f} cores"
                f" ({1000 * sum(cpu[1:]) / max(1, result.checked):.2f} ms per check)",
            ),
            (
                "lateness p50 / p99",
                f"{result.lateness_p50_s:.3f} s / {result.lateness_p99_s:.3f} s",
            ),
        ],
    )


if __name__ == "__main__":
    main()
