"""The dashboard and the API's page work in Chromium under their Content-Security-Policy
(no inline script, no eval, styles from files): any violation, reported to the page or on
its console, fails the test. A user logs in through the form, as people do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.support.targets import Targets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LIVE_MS = 45_000
# Every violation the page sees, kept where the test can read it.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_every_page_works_under_the_content_security_policy(
    browser: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    dashboard.login_link()  # makes the user ada (the link itself is not used)
    db.execute(
        "INSERT INTO sites (url, interval_seconds, next_check_at, public) "
        "VALUES (%s, 2, now(), true)",
        (targets.url("/ok"),),
    )
    site_id = scalar(db, "SELECT id FROM sites")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.add_init_script(WATCH)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    def violations() -> list[str]:
        seen = list(page.evaluate("window.__violations || []"))
        return seen + [m for m in console if "Content Security Policy" in m]

    response = page.goto(dashboard.base + "/login")
    assert response is not None
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.fill("input[name=username]", "ada")
    page.fill("input[type=password]", "correct horse")
    page.click("button[type=submit]")
    expect()(page.locator("nav")).to_contain_text("Overview")
    assert page.url.rstrip("/") == dashboard.base

    row = page.locator(f"tr[data-site-id='{site_id}']")
    expect()(row.locator(".state")).to_have_text("UP", timeout=LIVE_MS)  # htmx brought it
    assert violations() == []

    page.goto(f"{dashboard.base}/sites/{site_id}")
    page.wait_for_function("window.webmonChart !== undefined")  # uPlot drew the chart
    assert page.locator("#chart canvas").count() >= 1
    assert violations() == []

    page.goto(dashboard.base + "/tasks")
    page.fill("input[name=url]", targets.url("/status/201"))
    page.click("text=Check it")
    task = page.locator("#tasks tr", has_text=targets.url("/status/201")).first
    expect()(task).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
    for path in ("/alerts", "/sites/new", "/status"):
        page.goto(dashboard.base + path)
        assert violations() == [], path

    page.goto(dashboard.base + "/api/docs")
    expect()(page.locator(".swagger-ui .info .title")).to_contain_text("webmon")
    expect()(page.locator(".opblock").first).to_be_visible()
    assert violations() == []
    context.close()
