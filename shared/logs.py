"""Logging for operators: one line per event, text or JSON.

Every message starts with a stable event name (`claim.batch`, `db.lost`, ...) followed by
`key=value` pairs, e.g. `logger.info("check.invalid_regex site_id=%s", site_id)`. The JSON
format puts that first word in its own `event` field.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from shared.settings import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = {
            "ts": _utc_timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message.split(" ", 1)[0],
            "message": message,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _utc_timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class UtcTextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_timestamp(record)


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.TEXT) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if fmt is LogFormat.JSON else UtcTextFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter is not operator news.
    # (APScheduler warns on every skipped tick while a long drain runs; the pool on every
    # reconnect attempt: webmon logs those state changes itself, once.)
    for noisy in ("httpx", "httpcore", "apscheduler", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
