"""The checker's settings: the probe's fidelity defaults and bounds, and who needs the
database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from checker.settings import CheckerRole, CheckerSettings
from shared.settings import describe_validation_error

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: object) -> CheckerSettings:
    return CheckerSettings(
        database_url="postgresql://nobody@127.0.0.1:9/none",
        kafka_bootstrap_servers="127.0.0.1:9",
        _env_file=None,  # type: ignore[call-arg]
        **values,  # type: ignore[arg-type]
    )


def test_defaults() -> None:
    s = settings()
    # A field may take the whole head, as in Chrome (it was 64 KiB before).
    assert (s.max_redirects, s.max_header_field_bytes, s.max_header_bytes) == (
        10,
        256 * 1024,
        256 * 1024,
    )
    # Read and searched as it streams: a check holds a window of it, not all of it.
    assert s.max_body_bytes == 8 * 1_048_576


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBMON_MAX_REDIRECTS", "20")
    monkeypatch.setenv("WEBMON_MAX_HEADER_FIELD_BYTES", "131072")
    monkeypatch.setenv("WEBMON_MAX_HEADER_BYTES", "524288")
    s = settings()
    assert (s.max_redirects, s.max_header_field_bytes, s.max_header_bytes) == (20, 131072, 524288)


@pytest.mark.parametrize(
    "values",
    [
        {"max_redirects": 31},
        {"max_redirects": -1},
        {"max_header_field_bytes": 100},
        {"max_header_field_bytes": 2 * 1_048_576},
        {"max_header_bytes": 100},
        {"max_header_bytes": 8 * 1_048_576},
    ],
)
def test_bounds(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


def _without_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.delenv("WEBMON_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file names one either
    return {"WEBMON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}


def test_a_checker_that_only_probes_needs_no_database_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _without_database(monkeypatch, tmp_path)
    s = CheckerSettings(
        kafka_bootstrap_servers="127.0.0.1:9",
        checker_roles={CheckerRole.PROBE},
        _env_file=None,  # type: ignore[call-arg]
    )
    assert s.checker_roles == {CheckerRole.PROBE}
    assert s.database_url.get_secret_value() == ""


@pytest.mark.parametrize("roles", [{CheckerRole.WRITER}, {CheckerRole.PROBE, CheckerRole.WRITER}])
def test_the_writer_role_needs_the_database_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, roles: set[CheckerRole]
) -> None:
    _without_database(monkeypatch, tmp_path)
    with pytest.raises(ValidationError) as info:
        CheckerSettings(
            kafka_bootstrap_servers="127.0.0.1:9",
            checker_roles=roles,
            _env_file=None,  # type: ignore[call-arg]
        )
    line = describe_validation_error(info.value)
    assert line.startswith("WEBMON_DATABASE_URL: required by the writer role"), line


@pytest.mark.parametrize(
    "argv", [[], ["--role", "writer"], ["--role", "probe", "--role", "writer"]]
)
def test_a_checker_with_the_writer_role_and_no_database_url_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMON_")} | _without_database(
        monkeypatch, tmp_path
    )
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "checker", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("webmon-checker: WEBMON_DATABASE_URL: required by the writer role")
