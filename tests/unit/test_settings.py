from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from scheduler.settings import SchedulerSettings
from shared.settings import CommonSettings, SecurityProtocol, describe_validation_error

BASE = {"WEBMON_DATABASE_URL": "postgresql://u:pw@db/x", "WEBMON_KAFKA_BOOTSTRAP_SERVERS": "k:9092"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("WEBMON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def error_line(model: type[CommonSettings]) -> str:
    with pytest.raises(ValidationError) as info:
        model()
    return describe_validation_error(info.value)


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = SchedulerSettings()
    assert settings.kafka_security_protocol is SecurityProtocol.PLAINTEXT
    assert settings.tasks_topic == "webmon.tasks"
    assert settings.kafka_config() == {
        "bootstrap.servers": "k:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_missing_variable_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("WEBMON_KAFKA_BOOTSTRAP_SERVERS")
    assert error_line(CommonSettings) == "WEBMON_KAFKA_BOOTSTRAP_SERVERS is not set"


def test_bogus_protocol_is_named_with_the_value(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WEBMON_KAFKA_SECURITY_PROTOCOL", "bogus")
    line = error_line(CommonSettings)
    assert line.startswith("WEBMON_KAFKA_SECURITY_PROTOCOL: ")
    assert "'bogus'" in line


def test_unreadable_ca_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("WEBMON_KAFKA_SECURITY_PROTOCOL", "SSL")
    clean_env.setenv("WEBMON_KAFKA_SSL_CA_FILE", str(tmp_path / "missing-ca.pem"))
    line = error_line(CommonSettings)
    assert line.startswith("WEBMON_KAFKA_SSL_CA_FILE: no such file")


def test_ssl_with_client_certificate(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ca.pem", "service.cert", "service.key"):
        (tmp_path / name).write_text("x")
    clean_env.setenv("WEBMON_KAFKA_SECURITY_PROTOCOL", "SSL")
    clean_env.setenv("WEBMON_KAFKA_SSL_CA_FILE", str(tmp_path / "ca.pem"))
    clean_env.setenv("WEBMON_KAFKA_SSL_CERT_FILE", str(tmp_path / "service.cert"))
    clean_env.setenv("WEBMON_KAFKA_SSL_KEY_FILE", str(tmp_path / "service.key"))
    config = CommonSettings().kafka_config()
    assert config["ssl.ca.location"].endswith("ca.pem")
    assert config["ssl.certificate.location"].endswith("service.cert")
    assert config["ssl.key.location"].endswith("service.key")


def test_sasl_needs_credentials_and_hides_the_password(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WEBMON_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    assert error_line(CommonSettings) == ("WEBMON_KAFKA_SASL_MECHANISM: required with SASL_SSL")
    clean_env.setenv("WEBMON_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    clean_env.setenv("WEBMON_KAFKA_SASL_USERNAME", "avnadmin")
    clean_env.setenv("WEBMON_KAFKA_SASL_PASSWORD", "hunter2-secret")
    settings = CommonSettings()
    assert "hunter2-secret" not in repr(settings)
    assert settings.kafka_config()["sasl.password"] == "hunter2-secret"


def test_extra_librdkafka_options_pass_through(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WEBMON_KAFKA_EXTRA", '{"socket.keepalive.enable": true, "linger.ms": 20}')
    config = CommonSettings().kafka_config()
    assert config["socket.keepalive.enable"] is True
    assert config["linger.ms"] == 20


def test_database_password_never_in_errors(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WEBMON_DATABASE_URL", "")  # invalid? SecretStr accepts "", so force a type
    clean_env.setenv("WEBMON_CLAIM_BATCH_SIZE", "many")
    line = error_line(SchedulerSettings)
    assert line.startswith("WEBMON_CLAIM_BATCH_SIZE: ")
    assert "pw@" not in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WEBMON_KAFKA_SECURITY_PROTOCOL", "bogus", "WEBMON_KAFKA_SECURITY_PROTOCOL: "),
        ("WEBMON_KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem", "WEBMON_KAFKA_SSL_CA_FILE: "),
    ],
)
def test_process_prints_one_line_and_exits_2(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    import os

    env = {**os.environ, variable: value}
    if variable == "WEBMON_KAFKA_SSL_CA_FILE":
        env["WEBMON_KAFKA_SECURITY_PROTOCOL"] = "SSL"
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler"], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"webmon-scheduler: {expected}")
    assert "Traceback" not in proc.stderr


def test_trusted_proxies_are_networks_and_none_by_default() -> None:
    from webmon.api.settings import ApiSettings

    base = {"_env_file": None, "database_url": "postgresql://x/y"}
    assert ApiSettings(**base).trusted_proxies == ()  # type: ignore[arg-type]
    given = ApiSettings(**base, trusted_proxies="10.0.0.0/8, ::1/128")  # type: ignore[arg-type]
    assert given.trusted_proxies == ("10.0.0.0/8", "::1/128")
    with pytest.raises(ValueError, match="not-a-network"):
        ApiSettings(**base, trusted_proxies="not-a-network")  # type: ignore[arg-type]


def test_the_api_reads_its_networks_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webmon.api.settings import ApiSettings

    monkeypatch.setenv("WEBMON_ALLOWED_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("WEBMON_TRUSTED_PROXIES", "10.1.0.0/16")
    settings = ApiSettings(_env_file=None, database_url="postgresql://x/y")  # type: ignore[call-arg]
    assert settings.allowed_networks == ("127.0.0.1/32",)
    assert settings.trusted_proxies == ("10.1.0.0/16",)
