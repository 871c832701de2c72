"""The failover gap: `kill -9` of a checker, measured on the embedded broker.

500 sites every 5 s, one scheduler, and either two checkers of which one is killed, or
the only checker, killed and restarted one second later. Reported: the longest a site
waited for its next check after the kill (its interval, 5 s, when nothing was lost), the
slots recorded as missed, and the ledger: every emitted slot has exactly one row.

    .venv/bin/python -m bench.bench_failover [--session-ms 6000] [--static]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psycopg

from bench.common import BenchEnv, bench_env, report, services
from bench.system import Runner, add_sites, db_now, stop, target, wait_until
from shared.settings import DEFAULT_SESSION_TIMEOUT_MS
from tests.support.slots import emitted_slots, stored_slots

SITES = 500
INTERVAL_S = 5
WARM_S = 20
AFTER_S = 40


def after_the_kill(db_url: str, killed_at: datetime) -> tuple[float, int, int]:
    """(the longest wait of a site for its first check after the kill, the sites that got
    none at all, the slots missed)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(first_after) - %(k)s)::float8,"
            "       count(*) FILTER (WHERE first_after IS NULL) FROM ("
            " SELECT (SELECT min(checked_at) FROM check_results c"
            "          WHERE c.site_id = s.id AND up IS NOT NULL AND checked_at > %(k)s)"
            "        AS first_after FROM sites s) AS f",
            {"k": killed_at},
        ).fetchone()
        missed = conn.execute("SELECT count(*) FROM check_results WHERE up IS NULL").fetchone()
    assert row is not None and missed is not None
    return float(row[0]), int(row[1]), int(missed[0])


def ledger(env: BenchEnv) -> str:
    messages, emitted = emitted_slots(env.kafka_bootstrap, env.variables()["WEBMON_TASKS_TOPIC"])
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        stored = stored_slots(conn)
        rows = conn.execute("SELECT count(*) FROM check_results").fetchone()
    assert rows is not None
    exact = emitted == stored and rows[0] == len(emitted)
    return (
        f"{len(emitted):,} slots emitted ({messages:,} messages), {rows[0]:,} rows:"
        f" {'each slot exactly once' if exact else 'NOT exactly once'}"
        f" (no row {len(emitted - stored)}, unexpected {len(stored - emitted)})"
    )


def scenario(
    env: BenchEnv, url: str, logs: Path, *, checkers: int, restart: bool, session_ms: int,
    static: bool,
) -> list[tuple[str, str]]:  # fmt: skip
    runner = Runner(env, logs)
    add_sites(env.database_url, url, SITES, INTERVAL_S)

    def checker(n: int, run: int = 0) -> tuple[str, subprocess.Popen[bytes]]:
        name = f"checker-{n}-{run}"
        settings = {"WEBMON_KAFKA_SESSION_TIMEOUT_MS": str(session_ms)}
        if static:  # the same name for the replica after its restart
            settings["WEBMON_CHECKER_INSTANCE_ID"] = f"checker-{n}"
        return name, runner.start("checker", name, **settings)

    running = dict(checker(n) for n in range(checkers))
    wait_until(lambda: all(runner.logged(n, "probe.assigned") for n in running), 120, "joins")
    scheduler = runner.start("scheduler", "scheduler")
    time.sleep(WARM_S)  # the load runs before the fault
    victim_name, victim = next(iter(running.items()))
    killed_at = db_now(env.database_url)
    victim.kill()
    victim.wait()
    del running[victim_name]
    if restart:
        time.sleep(1)
        name, proc = checker(0, run=1)
        running[name] = proc
    time.sleep(AFTER_S)
    stop(scheduler)
    time.sleep(INTERVAL_S + 5)  # the last slots' results are stored
    for proc in running.values():
        stop(proc)
    wait_s, unchecked, missed = after_the_kill(env.database_url, killed_at)
    return [
        ("longest wait for a check after the kill", f"{wait_s:.1f} s (interval {INTERVAL_S} s)"),
        ("sites never checked again", f"{unchecked:,} of {SITES}"),
        ("slots recorded as missed", f"{missed:,}"),
        ("ledger", ledger(env)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--session-ms", type=int, default=DEFAULT_SESSION_TIMEOUT_MS,
        help="WEBMON_KAFKA_SESSION_TIMEOUT_MS",
    )  # fmt: skip
    parser.add_argument("--static", action="store_true", help="static group membership")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webmon-bench-failover-"))
    rows: list[tuple[str, str]] = []
    with target() as tgt, services() as (server, bootstrap):
        url = tgt.url
        for title, checkers, restart in (
            ("one of two checkers killed", 2, False),
            ("the only checker killed, restarted 1 s later", 1, True),
        ):
            with bench_env(server, bootstrap) as env:
                found = scenario(
                    env, url, logs, checkers=checkers, restart=restart,
                    session_ms=args.session_ms, static=args.static,
                )  # fmt: skip
            rows += [(f"{title}: {key}", value) for key, value in found]
    report(
        f"failover: {SITES} sites every {INTERVAL_S} s, session timeout {args.session_ms} ms,"
        f" {'static' if args.static else 'dynamic'} membership (logs in {logs})",
        rows,
    )


if __name__ == "__main__":
    main()
