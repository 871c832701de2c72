"""Issue 26, part A, in a real headless Chromium against the real processes: a bar of each
site's latest checks, a chart of raw checks while a site is new, the site's actions (pause,
resume, check now, clone, save), the tasks page's one badge, names and tags on the
overview, and a search's counts. Each test asserts on what the page shows and on the data
it was given (the database's rows)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.durations import seconds
from tests.support.browser import Dashboard
from tests.support.db import Conn, count, scalar
from tests.support.processes import wait_for
from tests.support.targets import Targets
from tests.web.test_dashboard import LIVE_MS, expect, task_row

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def stored_history(db: Conn, site_id: int, checks: int, step_s: float) -> list[str]:
    """`checks` results of a paused site, the newest now, `step_s` apart: every 7th down
    (HTTP 503), every 11th a missed slot, the rest up with a response time that grows by
    one millisecond a check. Their states, oldest first."""
    now = datetime.now(UTC)
    states = []
    for i in range(checks):
        slot = now - timedelta(seconds=step_s * (checks - 1 - i))
        if i % 11 == 5:
            row = (None, None, None, "missed")
        elif i % 7 == 3:
            row = (False, 503, 40.0 + i, None)
        else:
            row = (True, 200, 40.0 + i, None)
        db.execute(
            "INSERT INTO check_results (site_id, scheduled_at, checked_at, up, status_code,"
            " response_time_ms, error) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (site_id, slot, slot, *row),
        )
        states.append("missed" if row[0] is None else ("up" if row[0] else "down"))
    return states


def paused_site(db: Conn, url: str = "http://127.0.0.1:9/glance") -> int:
    return int(scalar(db, "INSERT INTO sites (url, enabled) VALUES (%s, false) RETURNING id", url))


def tick_states(page: Any, where: str) -> list[str]:
    return list(
        page.eval_on_selector_all(
            f"{where} svg.ticks rect", "els => els.map(e => e.getAttribute('data-state'))"
        )
    )


def test_a_bar_of_50_ticks_matches_the_stored_results_in_order_colour_and_shape(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = paused_site(db)
    states = stored_history(db, site_id, 60, 30)
    places = ((f"tr[data-site-id='{site_id}']", "/"), ("#site-head", f"/sites/{site_id}"))
    for where, path in places:
        page.goto(dashboard.base + path)
        shown = tick_states(page, where)
        assert shown == states[-50:], path
        # Colour and shape both: an up tick is green and short, a down one red and full height.
        up = page.locator(f"{where} svg.ticks rect[data-state=up]").first
        down = page.locator(f"{where} svg.ticks rect[data-state=down]").first
        fill = "el => getComputedStyle(el).fill"
        colours = page.evaluate(
            "() => { const s = getComputedStyle(document.documentElement);"
            " return [s.getPropertyValue('--up').trim(), s.getPropertyValue('--down').trim()]; }"
        )
        to_rgb = (
            "c => { const d = document.createElement('div'); d.style.color = c;"
            " document.body.append(d); const r = getComputedStyle(d).color; d.remove();"
            " return r; }"
        )
        assert up.evaluate(fill) == page.evaluate(f"({to_rgb})('{colours[0]}')")
        assert down.evaluate(fill) == page.evaluate(f"({to_rgb})('{colours[1]}')")
        assert up.get_attribute("height") != down.get_attribute("height")
        # The tooltip: time, state, status.
        title = down.locator("title").text_content() or ""
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · DOWN · HTTP 503", title), title
        label = page.locator(f"{where} svg.ticks").get_attribute("aria-label")
        assert label == (
            f"last 50 checks: {states[-50:].count('up')} up, {states[-50:].count('down')} down,"
            f" {states[-50:].count('missed')} missed"
        )


def test_the_bar_updates_live_as_checks_arrive(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    site_id = int(scalar(
        db, "INSERT INTO sites (url, interval_seconds, next_check_at) VALUES (%s, 1, now())"
        " RETURNING id", targets.url("/ok"),
    ))  # fmt: skip
    page.goto(dashboard.base + "/")
    row = f"tr[data-site-id='{site_id}']"
    # No reload: the overview's live part brings each new check as a tick.
    ticks = page.locator(f"{row} svg.ticks rect[data-state=up]")
    wait_for(lambda: ticks.count() >= 3, LIVE_MS / 1000, what="three ticks, live")
    stored = count(db, "SELECT count(*) FROM check_results WHERE site_id = %s", site_id)
    assert stored >= 3


def test_a_site_checked_for_two_minutes_draws_a_point_per_check(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = paused_site(db)
    states = stored_history(db, site_id, 40, 3)  # 40 slots over two minutes
    performed = [s for s in states if s != "missed"]
    page.goto(dashboard.base + f"/sites/{site_id}")
    page.wait_for_function("window.webmonChart !== undefined")
    embedded = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent)")
    assert embedded["step"] == "check"
    assert page.evaluate("window.webmonChart.points") == len(performed) == len(embedded["t"])
    drawn = page.evaluate("window.webmonChart.data[1]")
    assert drawn == [40.0 + i for i, s in enumerate(states) if s != "missed"]
    legend = page.locator("#chart .u-legend .u-series").nth(1).text_content() or ""
    assert "--" not in legend and f"{40 + len(states) - 1}" in legend, legend


def test_pause_stops_scheduling_and_resume_starts_it_again(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    ids = [
        int(scalar(db, "INSERT INTO sites (url, interval_seconds, next_check_at)"
                       " VALUES (%s, 1, now()) RETURNING id", targets.url(f"/ok?{name}")))
        for name in ("paused", "control")
    ]  # fmt: skip
    paused, control = ids

    def checks(site_id: int) -> int:
        return count(db, "SELECT count(*) FROM check_results WHERE site_id = %s", site_id)

    wait_for(lambda: checks(paused) >= 1, what="a first check")
    page.goto(dashboard.base + f"/sites/{paused}")
    page.click("button:text-is('Pause')")
    expect()(page.locator("#flash")).to_contain_text("Paused")
    expect()(page.locator("#site-head .state").first).to_have_text("OFF")
    assert scalar(db, "SELECT enabled FROM sites WHERE id = %s", paused) is False
    at_pause, control_at_pause = checks(paused), checks(control)
    # The scheduler keeps running (the control site gets three more checks); the paused
    # site gets none beyond one that was in flight.
    wait_for(lambda: checks(control) >= control_at_pause + 3, what="the control's checks")
    assert checks(paused) <= at_pause + 1
    page.click("button:text-is('Resume')")
    expect()(page.locator("#flash")).to_contain_text("Resumed")
    resumed_at = checks(paused)
    wait_for(lambda: checks(paused) > resumed_at, what="a check after resuming")


def test_check_now_shows_the_completed_task_on_the_page(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    site_id = int(scalar(
        db, "INSERT INTO sites (url, interval_seconds, name) VALUES (%s, 3600, 'Hourly')"
        " RETURNING id", targets.url("/status/201"),
    ))  # fmt: skip
    page.goto(dashboard.base + f"/sites/{site_id}")
    page.click("button:text-is('Check now')")
    expect()(page.locator("#flash")).to_contain_text("on its way")
    # No reload: the page's live part shows the task as it completes.
    expect()(page.locator("#check-now")).to_have_attribute("data-result", "UP", timeout=LIVE_MS)
    expect()(page.locator("#check-now")).to_contain_text("HTTP 201")
    row = db.execute(
        "SELECT status, result->>'status_code' FROM tasks WHERE site_id = %s", (site_id,)
    ).fetchall()
    assert row == [(3, "201")]


def test_clone_makes_a_paused_copy_and_saving_confirms(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = int(scalar(
        db, "INSERT INTO sites (url, name, tags, regex, failure_threshold, enabled)"
        " VALUES ('http://127.0.0.1:9/x', 'Shop', '{env:prod}', 'ok', 5, false) RETURNING id",
    ))  # fmt: skip
    page.goto(dashboard.base + f"/sites/{site_id}")
    page.click("button:text-is('Clone')")
    expect()(page.locator("#flash")).to_contain_text("This is a copy, paused")
    copy_id = int(page.url.split("/sites/")[1].split("?")[0])
    assert copy_id != site_id
    assert db.execute(
        "SELECT url, name, tags, regex, failure_threshold, enabled FROM sites WHERE id = %s",
        (copy_id,),
    ).fetchone() == ("http://127.0.0.1:9/x", "Shop (copy)", ["env:prod"], "ok", 5, False)
    expect()(page.locator("h1.site-title")).to_contain_text("Shop (copy)")
    page.fill("#settings input[name=name]", "Shop EU")
    page.fill("#settings input[name=tags]", "env:prod, region:eu")
    page.click("text=Save")
    expect()(page.locator("#flash")).to_have_text("Saved.")
    assert db.execute("SELECT name, tags FROM sites WHERE id = %s", (copy_id,)).fetchone() == (
        "Shop EU", ["env:prod", "region:eu"])  # fmt: skip
    expect()(page.locator("#site-head .tag")).to_have_text(["env:prod", "region:eu"])


def test_the_tasks_page_shows_one_badge_the_finish_time_and_the_duration(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    url = targets.url("/status/201") + "?long=" + "segment/" * 12
    page.goto(dashboard.base + "/tasks")
    page.fill("input[name=url]", url)
    page.click("text=Check it")
    row = task_row(page, targets.url("/status/201"))
    expect()(row).to_have_attribute("data-result", "UP", timeout=LIVE_MS)
    expect()(row.locator(".state")).to_have_count(1)
    expect()(row.locator(".state")).to_have_text("UP")
    finished, took = row.locator("td").nth(3), row.locator("td").nth(4)
    expect()(finished.locator("time")).to_have_count(1)
    stored = scalar(db, "SELECT extract(epoch FROM finished_at - created_at) FROM tasks")
    # A fast check took milliseconds, written as response times are ("42.0 ms", not "0.0 s").
    expect()(took).to_have_text(seconds(float(stored)))
    assert stored >= 1 or took.inner_text().endswith(" ms")
    # The URL wraps after its separators, never inside "segment".
    assert row.locator("td.url wbr").count() >= 12
    assert "segment" in (row.locator("td.url").inner_text() or "").split("\n")[-1]


def test_names_tags_and_a_search_narrow_the_counts_and_the_down_list(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    for path, name, tags in (
        ("/ok", "Web front", "{env:prod,team:web}"),
        ("/status/503", "Web API", "{env:prod,team:web}"),
        ("/status/500", "Batch", "{env:staging}"),
    ):
        db.execute(
            "INSERT INTO sites (url, name, tags, interval_seconds, next_check_at)"
            " VALUES (%s, %s, %s, 2, now())",
            (targets.url(path), name, tags),
        )
    wait_for(lambda: count(db, "SELECT count(*) FROM site_status") == 3, what="three results")
    page.goto(dashboard.base + "/")
    expect()(page.locator(".count-down strong")).to_have_text("2")
    expect()(page.locator("table.sites a", has_text="Web front")).to_be_visible()
    # A click on a tag filters by it: the counts and "Down now" are of that set.
    page.locator("table.sites tr", has_text="Web API").locator("a.tag", has_text="team:web").click()
    assert "tag=team%3Aweb" in page.url
    expect()(page.locator("table.sites tbody tr")).to_have_count(2)
    expect()(page.locator(".count-up strong")).to_have_text("1")
    expect()(page.locator(".count-down strong")).to_have_text("1")
    expect()(page.locator(".down-now tbody tr")).to_have_count(1)
    expect()(page.locator(".down-now tbody tr")).to_contain_text("Web API")
    # A search by a piece of the name, likewise; a tag's colour is its key's.
    page.goto(dashboard.base + "/?q=batch")
    expect()(page.locator("table.sites tbody tr")).to_have_count(1)
    expect()(page.locator(".count-down strong")).to_have_text("1")
    expect()(page.locator(".count-up strong")).to_have_text("0")
    expect()(page.locator(".down-now tbody tr")).to_contain_text("Batch")
    page.goto(dashboard.base + "/?tag=env")
    expect()(page.locator("table.sites tbody tr")).to_have_count(3)
    classes = page.eval_on_selector_all(
        "a.tag", "els => els.filter(e => e.textContent.startsWith('env:')).map(e => e.className)"
    )
    assert len(classes) == 3 and len(set(classes)) == 1
