"""Fixtures of the dashboard's browser tests: the API process serving the dashboard on the
test's database, the pipeline behind it, and a logged-in Chromium page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.localstack import free_port
from tests.support.api import TEST_SECRET_KEY
from tests.support.browser import CHROMIUM_ARGS, Dashboard, in_ci, system_chromium
from tests.support.db import Conn
from tests.support.processes import Process, start, wait_for

POLICY = {"WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32"}
# The dashboard's session key (and channel secrets) are sealed with it.
KEYED = {"WEBMON_SECRET_KEY": TEST_SECRET_KEY}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        if in_ci():
            pytest.fail("Playwright is not installed")
        pytest.skip("Playwright is not installed")
    with sync_playwright() as p:
        path = system_chromium()
        try:
            launched = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        except Error as exc:
            if in_ci():
                pytest.fail(f"no Chromium to run the dashboard's tests: {exc}")
            pytest.skip(f"no Chromium: {exc}")
        yield launched
        launched.close()


@pytest.fixture
def dashboard(env: dict[str, str], db: Conn, processes: list[Process], tmp_path: Path) -> Dashboard:
    """The API process with the dashboard, a checker and a scheduler, on the test's database."""
    port = free_port()
    api = start(processes, "webmon.api", {**env, **POLICY, **KEYED, "WEBMON_API_PORT": str(port)},
                "api", tmp_path)  # fmt: skip
    checker = start(processes, "checker", {**env, **POLICY}, "checker", tmp_path)
    wait_for(lambda: api.logged("api.started"), what="the API to start")
    wait_for(lambda: checker.logged("probe.assigned"), what="the checker to join")
    start(processes, "scheduler", env, "scheduler", tmp_path)
    return Dashboard(f"http://127.0.0.1:{port}", db)


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    """A logged-in page (a one-time login link), in the viewer's zone Europe/Berlin."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(dashboard.login_link())
    assert page.url.rstrip("/") == dashboard.base
    yield page
    context.close()
