"""Process lifecycle: the Kafka preflight at startup, and signal handling (SIGINT and
SIGTERM only set a flag; the loops watch it)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from shared.errors import ConfigError
from shared.kafka import check_kafka_config
from shared.settings import CommonSettings

logger = logging.getLogger(__name__)


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
