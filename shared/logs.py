"""Logging for operators: one line per event, text or JSON.

Every message starts with a stable event name (`claim.batch`, `db.lost`, ...) followed by
`key=value` pairs, e.g. `logger.info("check.invalid_regex site_id=%s", site_id)`. The JSON
format puts that first word in its own `event` field. A loop's last line, its totals when it
stops, goes through `log_summary`: the same `key=value` text, and in JSON the values
themselves in a `fields` object, which scripts (and the tests) read instead of the text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping

from shared.settings import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "ts": _utc_timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message.split(" ", 1)[0],
            "message": message,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line["fields"] = fields
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _utc_timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class UtcTextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_timestamp(record)


def log_summary(logger: logging.Logger, event: str, fields: Mapping[str, object]) -> None:
    """One INFO line `event k=v ...` with the totals of a loop that stopped."""
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    logger.info("%s %s", event, text, extra={"fields": dict(fields)})


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
