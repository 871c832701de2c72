"""Log lines: JSON that parses and names its event; secrets never appear."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.settings import SchedulerSettings
from shared.logs import JsonFormatter, configure_logging
from shared.settings import LogFormat, load_settings
from tests.support.processes import Process, wait_for

SECRET = "s3cret-pa55"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_line_carries_the_event_name() -> None:
    record = logging.LogRecord(
        "checker.writer", logging.WARNING, __file__, 1, "db.lost reason=%s", ("refused",), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "db.lost"
    assert line["message"] == "db.lost reason=refused"
    assert line["level"] == "warning"
    assert line["logger"] == "checker.writer"
    assert line["ts"].endswith("Z")


def test_json_line_keeps_an_exception_on_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "writer.crashed", (), exc_info)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["event"] == "writer.crashed"
    assert "ValueError: boom" in line["exception"]


def test_configured_json_logging_writes_one_object_per_line(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", LogFormat.JSON)
    logging.getLogger("scheduler").info("scheduler.started batch_size=%d", 5000)
    logging.getLogger("checker.probe").info("check.invalid_regex site_id=%s", 42)
    logging.getLogger("scheduler").debug("claim.batch tasks=1")  # below the level
    lines = capsys.readouterr().err.splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events == ["scheduler.started", "check.invalid_regex"]
    assert "site_id=42" in json.loads(lines[1])["message"]


def test_a_settings_error_never_shows_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("WEBMON_DATABASE_URL", f"postgresql://webmon:{SECRET}@db.example:5432/w")
    monkeypatch.setenv("WEBMON_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    monkeypatch.setenv("WEBMON_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("WEBMON_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("WEBMON_KAFKA_SASL_PASSWORD", SECRET)
    with pytest.raises(SystemExit) as exit_info:
        load_settings(SchedulerSettings, "webmon-scheduler")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == ("webmon-scheduler: WEBMON_KAFKA_SASL_USERNAME: required with SASL_PLAINTEXT\n")
    monkeypatch.setenv("WEBMON_KAFKA_EXTRA", f'{{"sasl.password": "{SECRET}"')  # broken JSON
    with pytest.raises(SystemExit):
        load_settings(SchedulerSettings, "webmon-scheduler")
    err = capsys.readouterr().err
    assert "WEBMON_KAFKA_EXTRA" in err
    assert SECRET not in err


def test_a_process_logs_json_and_never_its_password(tmp_path: Path) -> None:
    """A scheduler whose database refuses connections: every line it writes is JSON with an
    event, the outage is logged, and the password in its URL appears nowhere."""
    with socket.socket() as held:  # bound, not listening: connections to it are refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        env = {
            "WEBMON_DATABASE_URL": f"postgresql://webmon:{SECRET}@127.0.0.1:{port}/webmon",
            "WEBMON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
            "WEBMON_LOG_FORMAT": "json",
            "WEBMON_METRICS_PORT": "0",
            "WEBMON_TICK_SECONDS": "0.2",
        }
        scheduler = Process("scheduler", env, tmp_path, "scheduler")
        try:
            wait_for(lambda: scheduler.logged("db.lost"), timeout_s=30, what="db.lost")
            code, _ = scheduler.stop()
        finally:
            scheduler.ensure_dead()
    assert code == 0
    output = scheduler.output
    assert SECRET not in output
    lines = [json.loads(line) for line in output.splitlines()]
    events = [line["event"] for line in lines]
    for event in ("scheduler.started", "db.lost", "scheduler.stopping", "scheduler.stopped"):
        assert event in events
    assert all(line["message"].startswith(line["event"]) for line in lines)
