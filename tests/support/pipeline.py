"""One pass of the real pipeline over the sites a test inserted: a checker and a scheduler
until every site has a status, then both stopped (each must exit 0)."""

from __future__ import annotations

from pathlib import Path

from tests.support.db import Conn, count
from tests.support.processes import Process, start, wait_for


def check_every_site(
    processes: list[Process],
    db: Conn,
    sites: int,
    log_dir: Path,
    *,
    checker_env: dict[str, str],
    scheduler_env: dict[str, str],
    timeout_s: float = 90,
) -> tuple[Process, Process]:
    """The (scheduler, checker) that checked them, stopped, for their output."""
    checker = start(processes, "checker", checker_env, "checker", log_dir)
    scheduler = start(processes, "scheduler", scheduler_env, "scheduler", log_dir)
    wait_for(
        lambda: count(db, "SELECT count(*) FROM site_status") == sites,
        timeout_s=timeout_s,
        what="a status for every site",
    )
    assert scheduler.stop()[0] == 0, scheduler.output
    assert checker.stop()[0] == 0, checker.output
    return scheduler, checker
