"""`webmon-checker` / `python -m checker`: one replica, probe and writer roles by default.

The probe runs on an asyncio loop in the main thread, the writer in a thread of its own;
SIGINT or SIGTERM sets one flag both watch. `--role probe` or `--role writer` (or
WEBMON_CHECKER_ROLES) runs one role alone.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import threading
from collections.abc import Coroutine
from typing import Any, Final

from checker.metrics import CheckerMetrics
from checker.probe import Prober
from checker.probe.loop import ProbeLoop
from checker.settings import CheckerRole, CheckerSettings
from checker.writer.loop import ResultWriter
from checker.writer.tasks import TaskWriter
from shared.db import Database
from shared.kafka import make_producer
from shared.lifecycle import install_stop_handlers, kafka_preflight, stop_watchdog
from shared.logs import configure_logging
from shared.metrics import MetricsServer
from shared.settings import load_settings
from shared.thread_names import name_os_thread

logger = logging.getLogger("checker")

PROGRAM = "webmon-checker"
# What a stop may take past the grace period (flushes, commits, closes: each bounded)
# before the watchdog prints every thread's stack and exits 1.
STOP_RESERVE_S = 20.0
# A write attempt waits this long for a connection while PostgreSQL is away, which bounds
# how long a stop can take (the grace period plus this).
WRITER_POOL_TIMEOUT_S = 3.0


# The cyclic collector's thresholds (CPython's default: 700, 10, 10). A check allocates a
# few hundred container objects (aiohttp's request, response, protocol, futures), so the
# default ran a young collection every two or three checks and a full one every few
# hundred; these run it ~14 times less often (cyclic garbage waits longer between passes).
# A/B on Prober.check (256 in flight, local nginx, one session, load average ~17):
# 409 -> 381 and 442 -> 406 µs of CPU per check (-7 to -8 %).
GC_THRESHOLDS: Final = (10_000, 20, 20)


def run_writer(
    settings: CheckerSettings,
    stop: threading.Event,
    failed: threading.Event,
    metrics: CheckerMetrics,
) -> None:
    name_os_thread()
    db = Database(
        settings.database_url.get_secret_value(),
        max_size=settings.writer_lanes,
        application_name=PROGRAM,
        pool_timeout_s=WRITER_POOL_TIMEOUT_S,
    )
    db.open()
    tasks = threading.Thread(
        target=run_task_writer,
        args=(settings, stop, failed, metrics),
        name="task-writer",
        daemon=True,
    )
    tasks.start()
    try:
        ResultWriter(settings, db, make_producer(settings), stop, metrics).run()
    except Exception:
        logger.exception("writer.crashed")
        failed.set()
        stop.set()
    finally:
        tasks.join(timeout=settings.grace_s + 5)
        db.close()


def run_task_writer(
    settings: CheckerSettings,
    stop: threading.Event,
    failed: threading.Event,
    metrics: CheckerMetrics,
) -> None:
    """The on-demand side of the writer role, on its own thread and connection."""
    name_os_thread()
    db = Database(
        settings.database_url.get_secret_value(),
        max_size=1,
        application_name=PROGRAM,
        pool_timeout_s=WRITER_POOL_TIMEOUT_S,
    )
    db.open()
    try:
        TaskWriter(settings, db, make_producer(settings), stop, metrics).run()
    except Exception:
        logger.exception("tasks_writer.crashed")
        failed.set()
        stop.set()
    finally:
        db.close()


async def run_probe(
    settings: CheckerSettings, stop: threading.Event, metrics: CheckerMetrics
) -> None:
    prober = Prober(
        max_body_bytes=settings.max_body_bytes,
        max_redirects=settings.max_redirects,
        max_header_field_bytes=settings.max_header_field_bytes,
        max_header_bytes=settings.max_header_bytes,
        policy=settings.target_policy(),
        secrets=settings.secret_box(),
    )
    # Results wait in the producer for as long as the broker is away (message.timeout.ms=0):
    # a task offset is only committed once its result is acknowledged.
    producer = make_producer(settings, **{"message.timeout.ms": 0})
    await ProbeLoop(settings, prober, producer, stop, metrics).run()


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def run(settings: CheckerSettings, stop: threading.Event) -> int:
    roles = settings.checker_roles
    failed = threading.Event()
    metrics = CheckerMetrics()
    server = MetricsServer(
        settings.metrics_host, settings.metrics_port, metrics.registry, metrics.health
    )
    server.start()
    logger.info(
        "checker.started roles=%s concurrency=%d",
        ",".join(sorted(roles)),
        settings.concurrency,
    )
    # What exists now (modules, settings, clients) lives as long as the process: keep it out
    # of the cyclic collector's passes. A probe with 256 TLS checks in flight spent ~7.5 % of
    # its CPU in the collector, ~4.5 % with this (gc.callbacks timing, bench_checker's load).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    writer = None
    if CheckerRole.WRITER in roles:
        writer = threading.Thread(
            target=run_writer, args=(settings, stop, failed, metrics), name="writer", daemon=True
        )
        writer.start()
    try:
        if CheckerRole.PROBE in roles:
            run_async(run_probe(settings, stop, metrics))
        else:
            stop.wait()
    except Exception:
        logger.exception("probe.crashed")
        failed.set()
        stop.set()
    if writer is not None:
        writer.join(timeout=settings.grace_s + 5)
    server.stop()
    logger.info("checker.stopped")
    return 1 if failed.is_set() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in CheckerRole],
        help="run only this role (repeatable); default: WEBMON_CHECKER_ROLES, else both",
    )
    args = parser.parse_args(argv)
    roles = {"checker_roles": {CheckerRole(r) for r in args.role}} if args.role else {}
    settings = load_settings(CheckerSettings, PROGRAM, **roles)
    configure_logging(settings.log_level, settings.log_format)
    if not kafka_preflight(settings, PROGRAM):
        return 2
    stop = threading.Event()
    install_stop_handlers(stop)
    stop_watchdog(stop, settings.grace_s + STOP_RESERVE_S, PROGRAM)
    return run(settings, stop)


if __name__ == "__main__":
    raise SystemExit(main())
