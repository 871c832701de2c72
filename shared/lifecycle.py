"""Process lifecycle: the Kafka preflight at startup; signal handling (SIGINT and SIGTERM
only set a flag; the loops watch it; SIGUSR1 prints every thread's stack); and the bounds
on a stop: a consumer's close within a deadline, and a watchdog for the whole stop."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

import confluent_kafka

from shared.errors import ConfigError
from shared.kafka import check_kafka_config
from shared.settings import CommonSettings

logger = logging.getLogger(__name__)

# How long a consumer's close may wait for its group (close_consumers).
CLOSE_TIMEOUT_S = 5.0


def kafka_preflight(settings: CommonSettings, program: str) -> bool:
    """Connect to Kafka once. False (after one line on stderr) when the broker refuses our
    TLS or credentials: the caller exits 2. An unreachable broker is logged, not fatal."""
    try:
        if not check_kafka_config(settings):
            logger.warning(
                "kafka.unreachable bootstrap=%s (retrying in the background)",
                settings.kafka_bootstrap_servers,
            )
    except ConfigError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        return False
    return True


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    install_stack_dumps()


def install_stack_dumps() -> None:
    """`kill -USR1 <pid>` shows where a process that will not stop is waiting, without
    stopping it: every thread's Python stack on stderr (the tests ask for it too)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def close_consumers(
    consumers: dict[str, confluent_kafka.Consumer], timeout_s: float = CLOSE_TIMEOUT_S
) -> bool:
    """`close()` each consumer (by name) at once, given up on after `timeout_s`: False when
    one did not finish.

    librdkafka's close leaves the group, and waits for a rebalance in progress to end
    first; a JoinGroup may be answered only when the broker ends the rebalance (its request
    timeout is max.poll.interval.ms, 5 minutes by default). Callers commit what is durable
    before they close, so a close cut short loses nothing: the group hands the partitions
    on after the session timeout instead of at once. The close goes on in a daemon thread,
    which the process does not wait for at exit."""
    deadline = time.monotonic() + timeout_s
    closing = []
    for name, consumer in consumers.items():
        thread = threading.Thread(
            target=_close, args=(consumer, name), name=f"close-{name}", daemon=True
        )
        thread.start()
        closing.append((name, thread))
    done = True
    for name, thread in closing:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            done = False
            logger.warning(
                "kafka.close_overdue consumer=%s waited_s=%g (the group hands its partitions"
                " on after the session timeout)",
                name,
                timeout_s,
            )
    return done


def _close(consumer: confluent_kafka.Consumer, name: str) -> None:
    try:
        consumer.close()
    except Exception as exc:  # closed already, or the client failed: nothing to wait for
        logger.warning("kafka.close_failed consumer=%s error=%s", name, exc)


def stop_watchdog(stop: threading.Event, bound_s: float, program: str) -> None:
    """Once `stop` is set, give the process `bound_s` to exit; past that, print every
    thread's stack on stderr and exit 1. A stop waits only for bounded steps, so this is a
    last resort against a wait in a library, made loud instead of endless."""

    def watch() -> None:
        stop.wait()
        time.sleep(bound_s)  # the watchdog's deadline: a process that stops exits before it
        logger.error(
            "lifecycle.stop_overdue program=%s bound_s=%g (threads below; exiting 1)",
            program,
            bound_s,
        )
        faulthandler.dump_traceback(sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(1)

    threading.Thread(target=watch, name="stop-watchdog", daemon=True).start()
