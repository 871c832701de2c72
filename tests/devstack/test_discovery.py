"""`webmon …` run from a clone finds the embedded stack its `make run` or `make up` started
(through `.state/local.env`), and configured services always win over it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from migrations.settings import MigrateSettings
from shared.settings import LOCAL_STATE_DIR_VARIABLE, CommonSettings
from tests.support.services import Services
from webmon.settings import CliSettings

LOCAL = {
    "WEBMON_DATABASE_URL": "postgresql://postgres@127.0.0.1:54329/webmon",
    "WEBMON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
}


@pytest.fixture
def clone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty folder as the current one, with no WEBMON_* variable in the environment
    and a local stack's file in `.state/`."""
    for key in list(os.environ):
        if key.startswith("WEBMON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".state").mkdir()
    (tmp_path / ".state" / "local.env").write_text(
        "".join(f"{name}={value}\n" for name, value in LOCAL.items())
    )
    return tmp_path


def test_with_nothing_configured_the_local_stack_is_used(clone: Path) -> None:
    cli = CliSettings()
    assert cli.database_url.get_secret_value() == LOCAL["WEBMON_DATABASE_URL"]
    common = CommonSettings()  # type: ignore[call-arg]
    assert common.kafka_bootstrap_servers == LOCAL["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]


def test_a_configured_database_in_the_environment_wins_and_nothing_is_mixed(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBMON_DATABASE_URL", "postgresql://prod.example/webmon")
    assert CliSettings().database_url.get_secret_value() == "postgresql://prod.example/webmon"
    # The broker is not taken from the local stack's file behind the configured database.
    with pytest.raises(ValueError, match="kafka_bootstrap_servers"):
        MigrateSettings()


def test_a_configured_broker_in_dotenv_wins_too(clone: Path) -> None:
    (clone / ".env").write_text("WEBMON_KAFKA_BOOTSTRAP_SERVERS=kafka.example:9093\n")
    with pytest.raises(ValueError, match="database_url"):
        CliSettings()


def test_other_settings_in_dotenv_stay_above_the_local_file(clone: Path) -> None:
    (clone / ".env").write_text("WEBMON_LOG_LEVEL=DEBUG\n")
    (clone / ".state" / "local.env").write_text(
        (clone / ".state" / "local.env").read_text() + "WEBMON_LOG_LEVEL=ERROR\n"
    )
    settings = MigrateSettings()
    assert settings.log_level == "DEBUG"
    assert settings.kafka_bootstrap_servers == LOCAL["WEBMON_KAFKA_BOOTSTRAP_SERVERS"]


def test_the_state_folder_may_be_elsewhere(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = clone / "other-state"
    elsewhere.mkdir()
    (elsewhere / "local.env").write_text("WEBMON_DATABASE_URL=postgresql://127.0.0.1:1/other\n")
    monkeypatch.setenv(LOCAL_STATE_DIR_VARIABLE, str(elsewhere))
    assert CliSettings().database_url.get_secret_value() == "postgresql://127.0.0.1:1/other"


@pytest.mark.integration
def test_the_running_stack_writes_its_file_and_the_cli_reaches_it(
    services: Services, tmp_path: Path
) -> None:
    """The session's own embedded stack wrote `local.env` on `up`: `webmon doctor`, run with
    nothing configured, connects to its PostgreSQL and its broker."""
    if services.stack is None:
        pytest.skip("the tests use configured services, not an embedded stack")
    env_file = services.stack.env_file
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the stack's secret key
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMON_")}
    env[LOCAL_STATE_DIR_VARIABLE] = str(services.stack.state_dir)
    doctor = subprocess.run(
        [sys.executable, "-m", "webmon", "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = doctor.stdout.splitlines()
    pg, kafka = services.stack.pg_port, services.stack.kafka_port
    assert any(line.startswith("ok   postgres") and f":{pg}/webmon" in line for line in lines)
    assert any(line.startswith("ok   kafka") and f":{kafka} " in line for line in lines)
