"""`webmon-notifier` / `python -m notifier`: send the outbox's notifications until SIGINT or
SIGTERM; any number of replicas."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Any

from notifier.metrics import NotifierMetrics
from notifier.service import Notifier
from notifier.settings import NotifierSettings
from shared.db import AsyncDatabase
from shared.lifecycle import install_stack_dumps
from shared.logs import configure_logging, log_summary
from shared.metrics import MetricsServer
from shared.settings import load_settings

logger = logging.getLogger("notifier")

PROGRAM = "webmon-notifier"
POOL_TIMEOUT_S = 3.0


async def serve(settings: NotifierSettings) -> int:
    started = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    install_stack_dumps()
    metrics = NotifierMetrics()
    server = MetricsServer(
        settings.metrics_host, settings.metrics_port, metrics.registry, metrics.health
    )
    db = AsyncDatabase(
        settings.database_url.get_secret_value(),
        min_size=1,
        max_size=4,
        application_name=PROGRAM,
        pool_timeout_s=POOL_TIMEOUT_S,
    )
    await db.open()
    server.start()
    notifier = Notifier(settings, db, metrics)
    logger.info(
        "notifier.started concurrency=%d channel_concurrency=%d",
        settings.notifier_concurrency,
        settings.notifier_channel_concurrency,
    )
    try:
        totals = await notifier.run(stop)
    finally:
        await db.close()
        server.stop()
    log_summary(
        logger,
        "notifier.stopped",
        {**asdict(totals), "uptime_s": round(time.monotonic() - started, 1)},
    )
    return 0


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """asyncio.run on uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.parse_args(argv)
    settings = load_settings(NotifierSettings, PROGRAM)
    configure_logging(settings.log_level, settings.log_format)
    return run_async(serve(settings))


if __name__ == "__main__":
    raise SystemExit(main())
