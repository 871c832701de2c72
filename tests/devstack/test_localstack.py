"""The embedded stack starts from any folder, as root too, and leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from devstack.localstack import ROOT_RUNTIME_DIR, LocalStack, free_port
from shared.kafka import list_topics

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
        pids = [s.pid for s in status.values()]
        if os.geteuid() == 0:  # the data sits outside the unreachable home, linked from it
            link = home / "webmon" / ".state" / "pg"
            assert link.is_symlink() and link.resolve().parent == ROOT_RUNTIME_DIR.resolve()
    finally:
        stack.destroy()
    status = stack.status()
    assert not status["postgres"].running and not status["kafka"].running
    assert not any(running(pid) for pid in pids if pid is not None)
    if os.geteuid() == 0:
        assert not link.exists() and not link.is_symlink()
