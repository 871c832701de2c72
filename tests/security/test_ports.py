"""The ports that answer without a key (metrics and health of the scheduler, checkers and
notifier) listen on loopback unless WEBMON_METRICS_HOST says otherwise; containers say so."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from checker.settings import CheckerSettings
from devstack.localstack import free_port
from notifier.settings import NotifierSettings
from scheduler.settings import SchedulerSettings
from tests.support.processes import Process, start, wait_for

pytestmark = pytest.mark.integration

# Linux routes all of 127/8 to lo: a socket bound to every interface answers on it too.
OTHER_ADDRESS = "127.0.0.2"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_every_metrics_port_defaults_to_loopback() -> None:
    for model in (SchedulerSettings, CheckerSettings, NotifierSettings):
        assert model.model_fields["metrics_host"].default == "127.0.0.1", model.__name__


def test_a_scheduler_serves_its_metrics_on_loopback_only(
    env: dict[str, str], processes: list[Process], tmp_path: Path
) -> None:
    port = free_port()
    start(processes, "scheduler", {**env, "WEBMON_METRICS_PORT": str(port)}, "scheduler",
          tmp_path)  # fmt: skip
    wait_for(lambda: answers("127.0.0.1", port), what="the metrics port on 127.0.0.1")
    assert not answers(OTHER_ADDRESS, port)
