"""The embedded stack starts from any folder, as root too, and leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from devstack import pgbinaries
from devstack.localstack import ROOT_RUNTIME_DIR, LocalStack, free_port
from shared.kafka import list_topics
from shared.sealing import KEY_VARIABLE

pytestmark = pytest.mark.timeout(120)


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited daemon waits for its reaper as one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_starts_from_a_clone_under_a_0700_parent(tmp_path: Path) -> None:
    """Root's home is 0700 on most systems; PostgreSQL runs as `nobody` when we are root,
    and must still reach its binaries and data."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)  # whatever the umask
    stack = LocalStack(home / "webmon" / ".state", free_port(), free_port())
    try:
        stack.up()
        with psycopg.connect(stack.database_url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert list_topics({"bootstrap.servers": stack.kafka_bootstrap}, timeout_s=10).brokers == 1
        status = stack.status()
        assert status["postgres"].running and status["kafka"].running
        # While it runs, its settings are where `webmon …` from the clone looks for them.
        written = stack.env_file.read_text()
        assert f"WEBMON_DATABASE_URL={stack.database_url}" in written
        assert f"WEBMON_KAFKA_BOOTSTRAP_SERVERS={stack.kafka_bootstrap}" in written
        assert f"{KEY_VARIABLE}={stack.secret_key}" in written
        pids = [s.pid for s in status.values()]
        if os.geteuid() == 0:  # the data sits outside the unreachable home, linked from it
            link = home / "webmon" / ".state" / "pg"
            assert link.is_symlink() and link.resolve().parent == ROOT_RUNTIME_DIR.resolve()
    finally:
        stack.destroy()
    status = stack.status()
    assert not status["postgres"].running and not status["kafka"].running
    assert not stack.env_file.exists()
    assert not any(running(pid) for pid in pids if pid is not None)
    if os.geteuid() == 0:
        assert not link.exists() and not link.is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's stack copies PostgreSQL's programs")
def test_clean_removes_this_clones_copy_of_the_programs_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make clean` (`localstack clean`) deletes the copy made for this clone's programs;
    another clone's copy, whose hash differs, stays. (A stand-in runtime folder: the real
    copy serves the suite's running PostgreSQL.)"""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o755)
    monkeypatch.setattr(pgbinaries, "ROOT_RUNTIME_DIR", runtime)
    ours = pgbinaries.copy_dir(pgbinaries.pg_bindir())
    theirs = runtime / "pginstall-0123456789abcdef"
    data = runtime / "0011223344556677"  # another stack's data folder
    for folder in (ours, theirs, data):
        (folder / "bin").mkdir(parents=True)
    assert ours.parent == runtime and ours.name.startswith("pginstall-")
    assert pgbinaries.remove_copy() == ours
    assert not ours.exists() and theirs.is_dir() and data.is_dir()
    assert pgbinaries.remove_copy() is None  # nothing left of ours
