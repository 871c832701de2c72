"""The first hour, as a newcomer has it (docs/getting-started.md): a fresh clone under a
0700 folder, `make run`, its login link in a browser, one of the demo's own URLs checked on
"Test a URL", `webmon sites list` from another terminal with nothing exported, and Ctrl-C,
which leaves nothing running; then `make clean`, which leaves nothing of the clone behind.

The tests of this module run in order on one `make run`. How long the clone took to show
its first results is printed (`-s`) and recorded as the test's `first_results_s` property.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.pgbinaries import ROOT_RUNTIME_DIR, short_hash
from devstack.screenshots import (
    DEMO_LINE,
    LOGIN_LINE,
    VIEWPORT,
    RunningSystem,
    launch_chromium,
    private_ports,
)
from tests.support.browser import in_ci, system_chromium

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
LIVE_MS = 30_000
DEMO_PATHS = ("/ok", "/health", "/error", "/slow", "/content")
FIRST_RESULT = re.compile(r"^\s*1\s+UP\s+200\b", re.MULTILINE)  # the plain table's first row
# make, stopped by Ctrl-C, ends by SIGINT itself once its recipe is done: the shell reports
# that as exit status 130, as the docs say.
INTERRUPTED = -signal.SIGINT


@dataclass
class FirstHour:
    clone: Path
    system: RunningSystem
    link: str
    demo: str
    first_results_s: float

    @property
    def base(self) -> str:
        return self.link.split("/login/")[0]


def copy_of_the_checkout(destination: Path) -> None:
    """What a clone of this branch holds: the tracked files and the new ones not ignored
    (so that uncommitted work is tried too), without .venv, .state or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


NOT_IN_A_NEW_TERMINAL = frozenset(
    {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
)


def a_new_terminal() -> dict[str, str]:
    """The environment of a shell of one's own: no WEBMON_* setting, no venv of ours, and
    not inside the `make test` that runs this suite (a make under it would print
    `make[1]: Leaving directory …` after webmon's own last line)."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WEBMON_") and k not in NOT_IN_A_NEW_TERMINAL
    }
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if p != venv_bin)
    return env


def processes_of(clone: Path) -> list[str]:
    """Command lines of the processes that run from the clone (its venv, its data)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(clone) in args:
            found.append(f"{proc.name}: {args}")
    return found


@pytest.fixture(scope="module")
def first_hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstHour]:
    home = tmp_path_factory.mktemp("home")
    home.chmod(0o700)
    clone = home / "webmon"
    copy_of_the_checkout(clone)
    env = {**a_new_terminal(), **private_ports()}
    log = tmp_path_factory.mktemp("first-hour") / "make-run.log"
    with RunningSystem(["make", "run"], clone, env, log) as system:
        link = system.line(LOGIN_LINE)
        demo = system.line(DEMO_LINE)
        system.wait_for(
            lambda: FIRST_RESULT.search(system.output) is not None, "a first result", 120
        )
        first_results_s = time.monotonic() - system.started_at
        print(f"\nfirst results {first_results_s:.1f} s after `make run` in a fresh clone")
        yield FirstHour(clone, system, link, demo, first_results_s)


def test_make_run_shows_results_and_says_how_to_reach_it(
    first_hour: FirstHour, record_property: Any
) -> None:
    record_property("first_results_s", round(first_hour.first_results_s, 1))
    output = first_hour.system.output
    assert "WEBMON_ALLOWED_NETWORKS=127.0.0.1/32" in output
    assert "every other internal address stays blocked" in output
    assert ".venv/bin/webmon status" in output and ".state/local.env" in output
    for path in DEMO_PATHS:
        assert f"{first_hour.demo}{path}" in output


def test_the_login_link_and_a_demo_url_on_test_a_url(first_hour: FirstHour) -> None:
    """Log in with the printed link; check the demo's own /ok on "Test a URL": COMPLETED, up."""
    try:
        from playwright.sync_api import Error, expect, sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed") if in_ci() else pytest.skip("no Playwright")
    if system_chromium() is None and not in_ci():
        pytest.skip("no Chromium")
    with sync_playwright() as p:
        try:
            browser = launch_chromium(p)
        except Error as exc:
            pytest.fail(f"no Chromium: {exc}") if in_ci() else pytest.skip(f"no Chromium: {exc}")
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(first_hour.link)
        assert page.url.rstrip("/") == first_hour.base
        page.click("text=Test a URL")
        url = f"{first_hour.demo}/ok"
        page.fill("input[name=url]", url)
        page.click("text=Check it")
        row = page.locator("#tasks tr", has_text=url).first
        expect(row).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
        expect(row.locator(".state")).to_have_text("UP")
        expect(row).to_contain_text("200")
        browser.close()


def test_a_refused_url_names_the_setting_that_allows_it(first_hour: FirstHour) -> None:
    """Another loopback address than the demo's is refused at once, and the message says
    which setting would allow it."""
    from playwright.sync_api import sync_playwright

    path = subprocess.run(  # the printed link is spent: a new one, as the docs say
        [first_hour.clone / ".venv" / "bin" / "webmon", "users", "link", "admin"],
        cwd=first_hour.clone, env=a_new_terminal(), capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout.splitlines()[-1]  # fmt: skip
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(first_hour.base + path)
        page.goto(first_hour.base + "/tasks")
        page.fill("input[name=url]", "http://127.0.0.2:18080/ok")
        page.click("text=Check it")
        error = page.locator("#url-error").inner_text(timeout=LIVE_MS)
        browser.close()
    assert "127.0.0.2" in error, error
    assert "WEBMON_ALLOWED_NETWORKS" in error, error


def test_webmon_in_another_terminal_reaches_the_stack(first_hour: FirstHour) -> None:
    """Nothing exported: `webmon` from the clone finds the stack through .state/local.env."""
    listed = subprocess.run(
        [first_hour.clone / ".venv" / "bin" / "webmon", "sites", "list"],
        cwd=first_hour.clone, env=a_new_terminal(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    for path in DEMO_PATHS:
        assert f"{first_hour.demo}{path}" in listed.stdout


def test_ctrl_c_stops_everything_and_make_clean_removes_what_the_clone_made(
    first_hour: FirstHour,
) -> None:
    clone = first_hour.clone
    status = first_hour.system.interrupt()
    output = first_hour.system.output
    assert "webmon-run: stopped" in output.splitlines()[-1], output[-3000:]
    assert "exited with status" not in output  # each process stopped cleanly (exit 0)
    assert status == INTERRUPTED, status  # what the docs say make reports
    assert processes_of(clone) == []
    assert not (clone / ".state" / "local.env").exists()

    data = ROOT_RUNTIME_DIR / short_hash(str((clone / ".state").resolve()))
    cleaned = subprocess.run(
        ["make", "clean"], cwd=clone, env=a_new_terminal(), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert cleaned.returncode == 0, cleaned.stderr
    assert not (clone / ".venv").exists() and not (clone / ".state").exists()
    if os.geteuid() == 0:  # PostgreSQL's data and the clone's copy of its programs
        removed = re.findall(r"removed (\S+)", cleaned.stderr)
        assert len(removed) == 1 and "/pginstall-" in removed[0], cleaned.stderr
        assert not Path(removed[0]).exists() and not data.exists()
