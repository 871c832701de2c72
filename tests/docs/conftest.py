"""Fixtures of the docs' tests: one running webmon for every example of every page, as
`make run` runs it (the demo server and its sites, a scheduler, a checker, the API with
the demo's address allowed), on the session's PostgreSQL and broker and free ports."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.demo import DemoServer, demo_sites
from devstack.localstack import free_port
from devstack.run import register_demo_sites
from shared.sealing import new_key
from shared.settings import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_ONDEMAND_RESULTS_TOPIC,
    DEFAULT_ONDEMAND_TASKS_TOPIC,
    DEFAULT_RESULTS_TOPIC,
    DEFAULT_TASKS_TOPIC,
)
from tests.support.db import count_at
from tests.support.docs_examples import Addresses, DocsStack, environment_without_webmon
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services, database

DOCUMENTED_DEMO = "127.0.0.1:18080"
DOCUMENTED_API = "127.0.0.1:8080"
DOCUMENTED_POSTGRES = "127.0.0.1:54329"
DOCUMENTED_BROKER = "127.0.0.1:19092"
DEMO_SITES = demo_sites(18080)
TOPICS = {
    "WEBMON_TASKS_TOPIC": DEFAULT_TASKS_TOPIC,
    "WEBMON_RESULTS_TOPIC": DEFAULT_RESULTS_TOPIC,
    "WEBMON_DEAD_LETTER_TOPIC": DEFAULT_DEAD_LETTER_TOPIC,
    "WEBMON_ONDEMAND_TASKS_TOPIC": DEFAULT_ONDEMAND_TASKS_TOPIC,
    "WEBMON_ONDEMAND_RESULTS_TOPIC": DEFAULT_ONDEMAND_RESULTS_TOPIC,
}


@pytest.fixture(scope="session")
def docs_stack(
    services: Services, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DocsStack]:
    logs = tmp_path_factory.mktemp("docs-logs")
    # The documented topic names on the session's private broker; on configured test
    # services, names of this run's own (shown as the documented ones).
    suffix = "" if services.stack is not None else f".docs-{uuid.uuid4().hex[:8]}"
    demo = DemoServer(free_port())
    demo.start()
    api_port = free_port()
    processes: list[Process] = []
    with database(services.database_url, "webmon_docs", template=template_db) as url:
        dbname = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
        pg = psycopg.conninfo.conninfo_to_dict(services.database_url)
        kafka = services.kafka_bootstrap
        env = {
            **environment_without_webmon(),
            "PATH": f"{Path(sys.executable).parent}:{environment_without_webmon()['PATH']}",
            "WEBMON_DATABASE_URL": url,
            "WEBMON_KAFKA_BOOTSTRAP_SERVERS": kafka,
            **{name: topic + suffix for name, topic in TOPICS.items()},
            "WEBMON_API_PORT": str(api_port),
            "WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32",  # as make run allows its demo server
            "WEBMON_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "WEBMON_METRICS_PORT": "0",
            "WEBMON_SECRET_KEY": new_key(),
        }
        subprocess.run(
            [sys.executable, "-m", "migrations"], env=env, check=True, capture_output=True
        )
        with psycopg.connect(url, autocommit=True) as conn:
            register_demo_sites(conn, demo.port)
        try:
            api = start(processes, "webmon.api", env, "api", logs)
            checker = start(processes, "checker", env, "checker", logs)
            start(processes, "scheduler", env, "scheduler", logs)
            wait_for(lambda: api.logged("api.started"), what="the API to start")
            wait_for(lambda: checker.logged("probe.assigned"), what="the checker to join")
            # As a reader of the pages finds it: every demo site checked once.
            wait_for(
                lambda: count_at(url, "SELECT count(*) FROM site_status") >= len(DEMO_SITES),
                what="a result of every demo site",
            )
            addresses = Addresses(
                {
                    DOCUMENTED_DEMO: f"127.0.0.1:{demo.port}",
                    f"localhost:{DOCUMENTED_DEMO.split(':')[1]}": f"localhost:{demo.port}",
                    DOCUMENTED_API: f"127.0.0.1:{api_port}",
                },
                {
                    f"{pg['host']}:{pg.get('port', 5432)}": DOCUMENTED_POSTGRES,
                    kafka: DOCUMENTED_BROKER,
                    dbname: "webmon",
                    **{topic + suffix: topic for topic in TOPICS.values() if suffix},
                },
            )
            yield DocsStack(env, url, addresses, Path(sys.prefix))
        finally:
            for process in processes:
                process.ensure_dead()
            demo.stop()
