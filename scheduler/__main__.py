"""`webmon-scheduler` / `python -m scheduler`: run one scheduler until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.maintenance import Maintenance
from scheduler.metrics import SchedulerMetrics
from scheduler.service import Scheduler, make_scheduler_producer
from scheduler.settings import SchedulerSettings
from scheduler.wakeups import SiteChanges
from shared.db import Database
from shared.lifecycle import install_stop_handlers, kafka_preflight
from shared.logs import configure_logging, log_summary
from shared.metrics import MetricsServer
from shared.settings import load_settings

logger = logging.getLogger("scheduler")

PROGRAM = "webmon-scheduler"
# How often the due backlog is counted for the metrics (a count on the claim's index).
BACKLOG_INTERVAL_S = 10
# The pool gives up on a connection after this long, which bounds how long a stop can wait.
POOL_TIMEOUT_S = 3.0
CLOSE_FLUSH_TIMEOUT_S = 2.0


def run(settings: SchedulerSettings, stop: threading.Event) -> int:
    started = time.monotonic()
    # Two connections for the pipelined claims, one for the backlog count, one for maintenance,
    # one to spare. (The claim loop's LISTEN connection is its own.)
    db = Database(
        settings.database_url.get_secret_value(),
        max_size=5,
        application_name=PROGRAM,
        pool_timeout_s=POOL_TIMEOUT_S,
    )
    producer = make_scheduler_producer(settings)
    metrics = SchedulerMetrics()
    scheduler = Scheduler(settings, db, producer, stop, metrics)
    maintenance = Maintenance(db, settings, stop, metrics=metrics)
    server = MetricsServer(
        settings.metrics_host, settings.metrics_port, metrics.registry, metrics.health
    )
    jobs = BackgroundScheduler(timezone=UTC)
    now = datetime.now(UTC)
    common = {"max_instances": 1, "coalesce": True, "next_run_time": now}
    jobs.add_job(
        maintenance.job,
        "interval",
        seconds=settings.maintenance_interval_s,
        id="maintenance",
        **common,
    )
    jobs.add_job(
        scheduler.measure_backlog, "interval", seconds=BACKLOG_INTERVAL_S, id="backlog", **common
    )
    changes = SiteChanges(settings.database_url.get_secret_value(), stop)
    claims = threading.Thread(target=scheduler.run, args=(changes,), name="claims", daemon=True)
    db.open()
    server.start()
    jobs.start()
    claims.start()
    logger.info(
        "scheduler.started batch_size=%d max_wait_s=%g topic=%s",
        settings.claim_batch_size,
        settings.tick_seconds,
        settings.tasks_topic,
    )
    stop.wait()
    logger.info("scheduler.stopping")
    maintenance.cancel()  # a long pack or recount would hold up the stop
    claims.join()  # the batch in flight commits or rolls back
    jobs.shutdown(wait=True)
    changes.close()
    scheduler.close()
    left = producer.close(CLOSE_FLUSH_TIMEOUT_S)
    db.close()
    server.stop()
    summary = {
        **asdict(scheduler.totals),
        **scheduler.outages(),
        "unflushed": left,
        "uptime_s": round(time.monotonic() - started, 1),
    }
    log_summary(logger, "scheduler.stopped", summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.parse_args(argv)
    settings = load_settings(SchedulerSettings, PROGRAM)
    configure_logging(settings.log_level, settings.log_format)
    if not kafka_preflight(settings, PROGRAM):
        return 2
    stop = threading.Event()
    install_stop_handlers(stop)
    return run(settings, stop)


if __name__ == "__main__":
    raise SystemExit(main())
