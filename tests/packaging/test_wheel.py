"""The release, tried as a new user would: `python -m build` makes an sdist and a wheel (the
wheel from the sdist), the wheel goes into a fresh virtual environment in an empty folder
outside the checkout, and its commands run from there.

Slow (a build, a venv, an install from PyPI), so the work is done once per module and the
tests only look at it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from migrations.runner import available_migrations
from tests.support.services import Services, database, variables_for
from webmon.cli import build_parser

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# The data files the code reads at run time: they must travel inside the wheel.
DATA_PATTERNS = ("*.sql", "webmon/web/templates/*", "webmon/web/static/*")


@dataclass(frozen=True)
class Install:
    sdist: Path
    wheel: Path
    venv: Path
    workdir: Path  # empty: no checkout, no .env on the path

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def run(
    argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, the assertion shows what it printed."""
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's venv, Python path or WEBMON_* settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WEBMON_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    base = tmp_path_factory.mktemp("wheel")
    assert ROOT not in base.parents, "the install must happen outside the checkout"
    dist = base / "dist"
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=ROOT, timeout=600)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    workdir = base / "empty"
    workdir.mkdir()
    venv = base / "v"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([sys.executable, "-m", "venv", venv], cwd=workdir, env=env, timeout=120)
    run([venv / "bin" / "pip", "install", wheel], cwd=workdir, env=env, timeout=600)
    return Install(sdist, wheel, venv, workdir)


def source_files(*patterns: str) -> set[str]:
    """Files of the working tree (tracked, or new and not ignored) matching `patterns`."""
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *patterns],
        cwd=ROOT,
    ).stdout
    return {name for name in listed.split("\0") if name and (ROOT / name).is_file()}


def packaged(path: str) -> bool:
    """Whether a source file lies in one of the packages pyproject.toml ships."""
    top = path.split("/", 1)[0]
    includes = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return "/" in path and any(top == pattern.rstrip("*") for pattern in includes)


def test_the_wheel_holds_every_module_and_data_file(install: Install) -> None:
    names = set(zipfile.ZipFile(install.wheel).namelist())
    data = source_files(*DATA_PATTERNS)
    assert any(n.startswith("webmon/web/static/vendor/") for n in data), data
    expected = {n for n in data | source_files("*.py") if packaged(n)}
    assert expected, "no source files found"
    assert sorted(expected - names) == []
    dist_info = f"webmon-{PROJECT['version']}.dist-info"
    assert {f"{dist_info}/licenses/LICENSE", f"{dist_info}/licenses/NOTICE"} <= names
    with tarfile.open(install.sdist) as sdist:
        top = f"webmon-{PROJECT['version']}"
        assert {f"{top}/LICENSE", f"{top}/NOTICE"} <= set(sdist.getnames())


def test_it_runs_from_the_venv_not_from_the_checkout(install: Install) -> None:
    where = run(
        [install.bin("python"), "-c", "import webmon, migrations; print(migrations.__file__)"],
        cwd=install.workdir,
        env=clean_env(),
    ).stdout.strip()
    assert Path(where).is_relative_to(install.venv), where
    version = run(
        [install.bin("python"), "-c", "from shared.version import version; print(version())"],
        cwd=install.workdir,
        env=clean_env(),
    ).stdout.strip()
    assert version == PROJECT["version"]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_console_script_and_every_command_is_there(install: Install) -> None:
    for script in PROJECT["scripts"]:
        run([install.bin(script), "--help"], cwd=install.workdir, env=clean_env(), timeout=60)

    def listed(argv: list[str]) -> set[str]:
        out = run([install.bin("webmon"), *argv, "--help"], cwd=install.workdir, env=clean_env())
        return {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ")}

    commands = subcommands(build_parser())
    assert set(commands) <= listed([]), commands
    for name, sub in commands.items():
        actions = subcommands(sub)
        if actions:
            assert set(actions) <= listed([name]), (name, actions)


@pytest.fixture
def empty_env(services: Services) -> Iterator[dict[str, str]]:
    """WEBMON_* variables naming an empty database (not the suite's migrated template)."""
    with database(services.database_url, "webmon_pkg") as url:
        yield variables_for(services, url)


def test_webmon_migrate_from_the_wheel(install: Install, empty_env: dict[str, str]) -> None:
    run(
        [install.bin("webmon-migrate")],
        cwd=install.workdir,
        env=clean_env(**empty_env),
        timeout=300,
    )
    with psycopg.connect(empty_env["WEBMON_DATABASE_URL"]) as conn:
        applied = {row[0] for row in conn.execute("SELECT version FROM webmon_migrations")}
        sites = conn.execute("SELECT to_regclass('public.sites')").fetchone()
    assert applied == {m.version for m in available_migrations()}
    assert sites == ("sites",)
