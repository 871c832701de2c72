"""The dashboard in a real headless Chromium, against the real API, scheduler and checker
processes, PostgreSQL and the broker; targets on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, count, scalar
from tests.support.processes import wait_for
from tests.support.switch import SwitchServer
from tests.support.targets import Targets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# Where expect() waits: the pages poll every 1 to 5 s, checks run every 5 s.
LIVE_MS = 45_000


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_log_in_add_a_site_and_watch_its_first_result_arrive(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    page.goto(dashboard.base + "/sites/new")
    page.fill("input[name=url]", targets.url("/ok"))
    page.fill("input[name=interval_seconds]", "5")
    page.click("text=Add the site")
    site_id = scalar(db, "SELECT id FROM sites")
    assert page.url.endswith(f"/sites/{site_id}")
    page.goto(dashboard.base + "/")
    row = page.locator(f"tr[data-site-id='{site_id}']")
    expect()(row).to_contain_text(targets.url("/ok"))
    expect()(row).to_contain_text("NEW")  # not checked yet
    # No reload from here on: the overview's live part brings the first result.
    expect()(row.locator(".state")).to_have_text("UP", timeout=LIVE_MS)
    expect()(row).to_contain_text("ms")
    assert count(db, "SELECT count(*) FROM check_results WHERE up") >= 1


def task_row(page: Any, url: str) -> Any:
    return page.locator("#tasks tr", has_text=url).first


def test_submit_urls_on_tasks_and_watch_them_complete(
    page: Any, dashboard: Dashboard, targets: Targets
) -> None:
    page.goto(dashboard.base + "/tasks")
    ok = targets.url("/status/201")
    page.fill("input[name=url]", ok)
    page.click("text=Check it")
    row = task_row(page, ok)
    expect()(row).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
    expect()(row.locator("td").nth(3)).to_have_text("201")
    expect()(row).to_contain_text("UP")

    slow = targets.url("/slow-headers?seconds=5")
    page.fill("input[name=url]", slow)
    page.fill("input[name=timeout_seconds]", "1")
    page.click("text=Check it")
    row = task_row(page, slow)
    expect()(row).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
    expect()(row).to_contain_text("DOWN")
    expect()(row).to_contain_text("timeout")

    page.fill("input[name=url]", targets.url("/ok"))
    page.fill("input[name=regex]", "(unclosed")
    page.click("text=Check it")
    error = page.locator("#regex-error")
    expect()(error).to_contain_text("missing )")
    expect()(page.locator("input[name=regex]")).to_have_attribute("aria-invalid", "true")


def test_a_site_that_goes_down_shows_at_the_top_with_its_error_live(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    with SwitchServer() as target:
        db.execute(
            "INSERT INTO sites (url, interval_seconds, next_check_at) VALUES (%s, 2, now())",
            (target.url,),
        )
        page.goto(dashboard.base + "/")
        expect()(page.locator(".count-up strong")).to_have_text("1", timeout=LIVE_MS)
        expect()(page.locator(".down-now")).to_have_count(0)
        target.healthy = False
        down = page.locator(".down-now tr", has_text=target.url)
        expect()(down).to_be_visible(timeout=LIVE_MS)
        expect()(down).to_contain_text("HTTP 503")
        expect()(page.locator(".count-down strong")).to_have_text("1")


def test_the_site_page_draws_its_chart_from_the_points_it_received(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    db.execute(
        "INSERT INTO sites (url, interval_seconds, next_check_at) VALUES (%s, 2, now())",
        (targets.url("/ok"),),
    )
    site_id = scalar(db, "SELECT id FROM sites")
    page.goto(dashboard.base + f"/sites/{site_id}")
    expect()(page.locator("#site-checks tbody tr").first).to_be_visible(timeout=LIVE_MS)
    page.reload()
    page.wait_for_function("window.webmonChart !== undefined")
    embedded = json.loads(page.locator("#chart-data").text_content())
    drawn = page.evaluate("window.webmonChart.points")
    assert drawn == len(embedded["t"]) >= 1
    assert page.evaluate("window.webmonChart.data[1].filter(v => v !== null).length") >= 1
    assert page.locator("#chart canvas").count() >= 1
    # The times are the viewer's (Europe/Berlin), UTC on hover.
    first_time = page.locator("#site-checks time").first
    assert "UTC" in (first_time.get_attribute("title") or "")
    assert "UTC" not in (first_time.text_content() or "")


def test_logged_out_visitors_see_only_login_status_and_badges(
    browser: Any, dashboard: Dashboard
) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in ("/", "/tasks", "/sites/new", "/sites/1"):
        page.goto(dashboard.base + path)
        assert page.url.startswith(dashboard.base + "/login"), path
    expect()(page.locator("input[type=password]")).to_be_visible()
    page.goto(dashboard.base + "/status")
    expect()(page.locator("h1")).to_have_text("Status")
    context.close()


def test_a_form_post_without_its_csrf_token_is_refused(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    cookie = next(c for c in page.context.cookies() if c["name"] == "webmon_session")
    request = urllib.request.Request(
        dashboard.base + "/sites/new",
        data=b"url=http%3A%2F%2F127.0.0.1%3A9%2F",
        headers={"Cookie": f"webmon_session={cookie['value']}",
                 "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()  # the error holds the response and its socket
    assert refused.value.code == 403
    assert count(db, "SELECT count(*) FROM sites") == 0


def test_a_bulk_import_refused_by_a_constraint_names_the_line_and_stores_nothing(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    # Line 4 passes the form's checks but breaks sites_timeout_within_interval in
    # PostgreSQL; the blank line 3 still counts, as the user sees the text.
    page.goto(dashboard.base + "/sites/new")
    page.fill(
        "textarea[name=bulk]",
        "url,interval_seconds,timeout_seconds\n"
        "http://127.0.0.1:9/a,60,10\n"
        "\n"
        "http://127.0.0.1:9/b,5,10\n",
    )
    page.click("text=Add them")
    alert = page.locator("p.error[role=alert]")
    expect()(alert).to_contain_text("line 4:")
    expect()(alert).to_contain_text("sites_timeout_within_interval")
    expect()(alert).to_contain_text("nothing was imported")
    assert count(db, "SELECT count(*) FROM sites") == 0


def test_screenshots_for_the_readme(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn, tmp_path: Path
) -> None:
    """The overview and a site page, as the docs show them, into WEBMON_SCREENSHOT_DIR when
    set, else a temporary folder (`make docs-images` makes the docs' own, from `make run`)."""
    sites = [
        (targets.url("/ok"), 5, None),
        (targets.url("/status/500"), 5, None),
        (targets.url("/ok"), 5, "hello"),
        (targets.url("/slow-headers?seconds=5"), 5, None),
        (targets.url("/delay?ms=120"), 5, None),
    ]
    for url, interval, regex in sites:
        db.execute(
            "INSERT INTO sites (url, interval_seconds, timeout_seconds, regex, next_check_at)"
            " VALUES (%s, %s, 2, %s, now())",
            (url, interval, regex),
        )
    page.goto(dashboard.base + "/")
    expect()(page.locator(".count-none strong")).to_have_text("0", timeout=LIVE_MS)
    shots = Path(os.environ.get("WEBMON_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    site_id = scalar(db, "SELECT min(id) FROM sites")
    page.goto(dashboard.base + f"/sites/{site_id}")
    page.wait_for_function("window.webmonChart !== undefined")
    page.screenshot(path=str(shots / "site.png"), full_page=True)
    page.goto(dashboard.base + "/tasks")
    page.fill("input[name=url]", targets.url("/status/201"))
    page.click("text=Check it")
    row = task_row(page, targets.url("/status/201"))
    expect()(row).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
    page.screenshot(path=str(shots / "tasks.png"), full_page=True)
    for name in ("overview.png", "site.png", "tasks.png"):
        assert (shots / name).stat().st_size > 10_000


def test_alerts_show_an_open_incident_and_a_channel_answers_a_test(
    page: Any, dashboard: Dashboard, db: Conn, tmp_path: Path
) -> None:
    from tests.support.alerting import add_channel
    from tests.support.receivers import Receiver

    with SwitchServer() as target, Receiver() as receiver:
        target.healthy = False
        db.execute(
            "INSERT INTO sites (url, interval_seconds, failure_threshold, next_check_at)"
            " VALUES (%s, 2, 2, now())",
            (target.url,),
        )
        add_channel(db, "ops", config={"url": receiver.url()})
        page.goto(dashboard.base + "/alerts")
        expect()(page.locator("#open-incidents")).to_have_count(0)  # not two checks yet
        wait_for(lambda: count(db, "SELECT count(*) FROM incidents") == 1, what="an incident")
        page.reload()
        expect()(page.locator("#open-incidents tr", has_text=target.url)).to_contain_text(
            "HTTP 503"
        )
        page.click("text=Send a test")
        expect()(page.locator("#channels [role=status]")).to_contain_text("accepted")
        tests = [r for r in receiver.accepted() if r.json().get("event") == "test"]
        assert len(tests) == 1
        shots = Path(os.environ.get("WEBMON_SCREENSHOT_DIR") or tmp_path)
        page.screenshot(path=str(shots / "alerts.png"), full_page=True)


def test_channels_and_windows_are_added_and_removed_on_the_alerts_page(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    from tests.support.internal import INTERNAL_ADDRESS, InternalServer

    page.goto(dashboard.base + "/alerts")
    with InternalServer() as internal:
        page.fill("#add-channel input[name=name]", "inside")
        page.fill("#add-channel input[name=url]", internal.url)
        page.click("text=Add the channel")
        expect()(page.locator("#alerts-error")).to_contain_text(INTERNAL_ADDRESS)
        assert count(db, "SELECT count(*) FROM channels") == 0
        assert internal.accepted == 0
    page.fill("#add-channel input[name=name]", "ops")
    page.fill("#add-channel input[name=url]", "http://127.0.0.1:9/hook")
    page.check("#add-channel input[name=is_default]")
    page.click("text=Add the channel")
    expect()(page.locator("#channels tr[data-channel=ops]")).to_contain_text("yes")
    assert scalar(db, "SELECT config->>'url' FROM channels WHERE is_default") == (
        "http://127.0.0.1:9/hook"
    )
    page.fill("#windows input[name=name]", "upgrade")
    page.fill("#windows input[name=starts_at]", "2026-12-24T22:00")
    page.fill("#windows input[name=duration_minutes]", "90")
    page.click("text=Add the window")
    row = page.locator("#windows tbody tr", has_text="upgrade")
    expect()(row).to_contain_text("every site")
    assert scalar(db, "SELECT duration_seconds FROM maintenance_windows") == 5400
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#channels tr[data-channel=ops]").locator("text=Remove").click()
    expect()(page.locator("#channels tr[data-channel=ops]")).to_have_count(0)
    row.locator("text=Remove").click()
    expect()(page.locator("#windows tbody tr", has_text="upgrade")).to_have_count(0)


def test_a_tcp_site_added_on_the_dashboard_shows_its_result(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    """A site of another kind: no status code, no redirects; the pages show what it has."""
    url = f"tcp://127.0.0.1:{targets.ports['http']}"
    page.goto(dashboard.base + "/sites/new")
    page.fill("input[name=url]", url)
    page.fill("input[name=interval_seconds]", "5")
    page.click("text=Add the site")
    site_id = scalar(db, "SELECT id FROM sites")
    assert scalar(db, "SELECT restricted FROM sites") is True
    page.goto(dashboard.base + "/")
    row = page.locator(f"tr[data-site-id='{site_id}']")
    expect()(row).to_contain_text(url)
    expect()(row.locator(".state")).to_have_text("UP", timeout=LIVE_MS)
    assert scalar(db, "SELECT status_code IS NULL AND connect_ms IS NOT NULL FROM site_status")
    response = page.goto(f"{dashboard.base}/sites/{site_id}")
    assert response is not None and response.status == 200
    expect()(page.locator("body")).to_contain_text(url)
