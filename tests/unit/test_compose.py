"""docker-compose.yml against the contract, without a Docker engine: every WEBMON_ variable
is a setting of the process it is given to, and the services, ports and start order line up.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pydantic_settings import BaseSettings

from checker.settings import CheckerSettings
from migrations.settings import MigrateSettings
from notifier.settings import NotifierSettings
from scheduler.settings import SchedulerSettings
from shared.settings import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
MODELS: dict[str, type[BaseSettings]] = {
    "webmon-migrate": MigrateSettings,
    "webmon-scheduler": SchedulerSettings,
    "webmon-checker": CheckerSettings,
    "webmon-notifier": NotifierSettings,
}
Service = dict[str, Any]


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the compose file speaks: no WEBMON_* of the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT / "tests")  # and no .env file
    yield


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(compose["services"])


def webmon_services(services: dict[str, Service]) -> dict[str, Service]:
    return {n: s for n, s in services.items() if s.get("command", [None])[0] in MODELS}


def by_command(services: dict[str, Service], command: str) -> dict[str, Service]:
    return {n: s for n, s in services.items() if s.get("command", [None])[0] == command}


def interpolated(value: object) -> str:
    """Compose's `${NAME:-default}` with nothing in the environment: the default."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", str(value))
    return match.group(1) if match else str(value)


def settings_of(service: Service) -> BaseSettings:
    """The service's settings, built and validated the way the process builds them."""
    model = MODELS[service["command"][0]]
    values: dict[str, Any] = {
        name.removeprefix(ENV_PREFIX).lower(): interpolated(value)
        for name, value in service["environment"].items()
    }
    return model(_env_file=None, **values)


def replicas(service: Service) -> int:
    return int(service.get("deploy", {}).get("replicas", 1))


def test_every_variable_is_a_setting_of_its_process(services: dict[str, Service]) -> None:
    found = webmon_services(services)
    assert set(s["command"][0] for s in found.values()) == set(MODELS)
    for name, service in found.items():
        model = MODELS[service["command"][0]]
        for variable in service["environment"]:
            assert variable.startswith(ENV_PREFIX), (name, variable)
            field = variable.removeprefix(ENV_PREFIX).lower()
            assert field in model.model_fields, f"{name}: {variable} is not a {model.__name__}"
        settings_of(service)  # and every value is valid


def test_commands_are_the_console_scripts(services: dict[str, Service]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for service in webmon_services(services).values():
        assert service["command"][0] in scripts
        assert service["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    assert "FROM python:3.11-slim" in dockerfile
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_one_scheduler_and_three_checkers_in_one_group(services: dict[str, Service]) -> None:
    assert sum(replicas(s) for s in by_command(services, "webmon-scheduler").values()) == 1
    checkers = by_command(services, "webmon-checker").values()
    assert sum(replicas(s) for s in checkers) == 3
    groups = set()
    for service in checkers:
        settings = settings_of(service)
        assert isinstance(settings, CheckerSettings)
        groups.add((settings.probe_group, settings.writer_group))
    assert len(groups) == 1, groups


def test_official_images(services: dict[str, Service]) -> None:
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka_env = services["kafka"]["environment"]
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}  # KRaft
    assert not any("ZOOKEEPER" in name for name in kafka_env)


def _listeners(spec: str) -> dict[str, tuple[str, int]]:
    """ "NAME://host:port,..." -> {NAME: (host, port)}"""
    out = {}
    for item in spec.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


def test_bootstrap_servers_are_the_kafka_service(services: dict[str, Service]) -> None:
    for name, service in webmon_services(services).items():
        settings = settings_of(service)
        if "kafka_bootstrap_servers" not in type(settings).model_fields:
            continue  # the notifier needs no Kafka
        for server in settings.kafka_bootstrap_servers.split(","):  # type: ignore[attr-defined]
            host, _, port = server.rpartition(":")
            assert host in services, f"{name}: {host} is not a service"
            env = services[host]["environment"]
            advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
            listening = _listeners(env["KAFKA_LISTENERS"])
            protocols = dict(
                p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
            )
            matches = [
                listener for listener, address in advertised.items() if address == (host, int(port))
            ]
            assert matches, f"{name}: {server} is not advertised by {host}"
            assert listening[matches[0]][1] == int(port)
            protocol = settings.kafka_security_protocol.value  # type: ignore[attr-defined]
            assert protocols[matches[0]] == protocol


def test_database_url_is_the_postgres_service(services: dict[str, Service]) -> None:
    for name, service in webmon_services(services).items():
        url = settings_of(service).database_url.get_secret_value()  # type: ignore[attr-defined]
        parts = psycopg.conninfo.conninfo_to_dict(url)
        host = str(parts["host"])
        assert host in services, f"{name}: {host} is not a service"
        pg = services[host]
        assert pg["image"].startswith("postgres:")
        env = pg["environment"]
        assert int(str(parts.get("port", 5432))) == int(env.get("PGPORT", 5432))
        assert parts["user"] == env["POSTGRES_USER"]
        assert parts["password"] == env["POSTGRES_PASSWORD"]
        assert parts["dbname"] == env["POSTGRES_DB"]


def test_start_order(services: dict[str, Service]) -> None:
    (migrate,) = by_command(services, "webmon-migrate").values()
    assert "restart" not in migrate  # one shot
    for dependency, condition in migrate["depends_on"].items():
        assert condition == {"condition": "service_healthy"}
        assert "healthcheck" in services[dependency]
    assert set(migrate["depends_on"]) == {"postgres", "kafka"}
    for command in ("webmon-scheduler", "webmon-checker"):
        for service in by_command(services, command).values():
            assert service["depends_on"] == {
                "migrate": {"condition": "service_completed_successfully"}
            }


def test_healthchecks_ask_the_metrics_port(services: dict[str, Service]) -> None:
    for command in ("webmon-scheduler", "webmon-checker"):
        for name, service in by_command(services, command).items():
            port = settings_of(service).metrics_port  # type: ignore[attr-defined]
            assert port > 0
            assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
            published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
            assert str(port) in published + [str(p) for p in service.get("expose", [])], name


def test_metrics_listen_beyond_the_container_where_a_port_is_given(
    services: dict[str, Service],
) -> None:
    # The processes listen on 127.0.0.1 by default; in a container, a published or exposed
    # port reaches them only on every interface.
    for name, service in webmon_services(services).items():
        settings = settings_of(service)
        if getattr(settings, "metrics_port", 0):
            assert settings.metrics_host == "0.0.0.0", name  # type: ignore[attr-defined]


def test_the_processes_that_open_secrets_are_given_the_key(services: dict[str, Service]) -> None:
    """The checkers open the sites' credentials, the notifier the channels' secrets."""
    for command in ("webmon-checker", "webmon-notifier"):
        for name, service in by_command(services, command).items():
            assert service["environment"].get("WEBMON_SECRET_KEY") == "${WEBMON_SECRET_KEY:-}", name
