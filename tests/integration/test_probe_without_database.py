"""A checker that only probes needs no PostgreSQL: a remote region's checker in the
reference deployment (docs/regions.md) runs with its Kafka settings alone, and the
database's credentials stay on the database's side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import confluent_kafka
import pytest

from shared.messages import CheckResult, CheckTask, decode
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.targets import Targets
from tests.support.topics import count_at_least, read_topic

pytestmark = pytest.mark.integration


def test_a_probe_only_checker_without_a_database_url_checks_its_regions_tasks(
    env: dict[str, str],
    services: Services,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEBMON_DATABASE_URL", raising=False)
    remote = {k: v for k, v in env.items() if k != "WEBMON_DATABASE_URL"}
    remote |= {"WEBMON_CHECKER_ROLES": "probe", "WEBMON_CHECKER_REGION": "eu-west"}
    probe = start(processes, "checker", remote, "probe-eu-west", tmp_path)
    wait_for(lambda: probe.logged("probe.assigned"), 60, "the probe to join its region's group")
    now = datetime.now(UTC)
    task = CheckTask(
        site_id=7,
        url=targets.url("/ok"),
        timeout_s=2.0,
        scheduled_at=now,
        expires_at=now + timedelta(minutes=1),
        region="eu-west",
    )
    producer = confluent_kafka.Producer({"bootstrap.servers": services.kafka_bootstrap})
    producer.produce(f"{env['WEBMON_TASKS_TOPIC']}.eu-west", task.encode(), b"7")
    assert producer.flush(10) == 0
    messages = read_topic(
        services.kafka_bootstrap,
        env["WEBMON_RESULTS_TOPIC"],
        until=count_at_least(1),
        timeout_s=60,
    )
    assert messages, probe.output[-2000:]
    result = decode(CheckResult, messages[0].value())
    assert (result.site_id, result.region, result.up, result.status_code) == (
        7,
        "eu-west",
        True,
        200,
    )
    assert probe.proc.poll() is None, probe.output[-2000:]  # nothing needed PostgreSQL
    code, _ = probe.stop()
    assert code == 0
