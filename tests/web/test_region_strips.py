"""Issue 28, a site checked from several regions on the overview and its page, in a real
headless Chromium against the real processes: the overview's uptime is the quorum's (the
site's page says the same), while the failing region's own stays on the site's page; the
bar of ticks has a tick per slot by the quorum, naming the regions that failed; the chart
draws a line per region. A site of one region reads as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn
from tests.web.test_dashboard import expect
from tests.web.test_region_views import (
    FAILED_IN_A_ROW,
    FAILING,
    REGIONS,
    SHOTS,
    SLOTS,
    quiet_site,
    write_history,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def sites(dashboard: Dashboard, db: Conn, db_url: str) -> Iterator[dict[str, int]]:
    ids = {
        "degraded": quiet_site(db, "http://127.0.0.1:9/shop", REGIONS, "Shop"),
        "single": quiet_site(db, "http://127.0.0.1:9/blog", ["default"], "Blog"),
    }
    write_history(db_url, ids["degraded"], REGIONS, FAILING)
    write_history(db_url, ids["single"], ["default"], "default")  # 3 of its 8 checks up
    yield ids


def test_the_overview_shows_the_quorums_uptime_and_a_tick_per_slot(
    page: Any, dashboard: Dashboard, sites: dict[str, int]
) -> None:
    page.goto(dashboard.base + "/")
    row = page.locator(f"tr[data-site-id='{sites['degraded']}']")
    cells = row.locator("td.num")
    # 24 h and 30 d: every slot up by the quorum, not 19 of the 24 checks (79.17 %).
    expect()(cells.nth(1)).to_have_text(re.compile(r"^100\.00\s?%$"))
    expect()(cells.nth(2)).to_have_text(re.compile(r"^100\.00\s?%$"))
    expect()(row.locator("svg.ticks")).to_have_attribute(
        "aria-label", f"last {SLOTS} slots by quorum: {SLOTS} up, 0 down"
    )
    ticks = row.locator("rect.tick:not(.tick-empty)")
    expect()(ticks).to_have_count(SLOTS)  # one per slot, not one per region's check
    assert set(ticks.evaluate_all("ts => ts.map(t => t.dataset.state)")) == {"up"}
    titles = ticks.locator("title").all_text_contents()
    assert all("UP by quorum" in t for t in titles)
    assert sum(f"failed in {FAILING} (3 regions checked)" in t for t in titles) == FAILED_IN_A_ROW
    # A site of one region: its checks, as before.
    single = page.locator(f"tr[data-site-id='{sites['single']}']")
    expect()(single.locator("td.num").nth(1)).to_have_text(re.compile(r"^37\.50\s?%$"))
    expect()(single.locator("rect.tick-down")).to_have_count(FAILED_IN_A_ROW)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview-quorum-uptime.png"), full_page=True)


def test_the_status_page_shows_the_quorums_uptime(
    page: Any, dashboard: Dashboard, db: Conn, sites: dict[str, int]
) -> None:
    db.execute("UPDATE sites SET public = true WHERE id = ANY(%s)", (list(sites.values()),))
    page.goto(dashboard.base + "/status")
    shop = page.locator(f".status-site[data-site='{sites['degraded']}'] .uptime")
    expect()(shop).to_have_text(re.compile(r"^100\.00\s?% uptime$"))  # not 79.16 %
    blog = page.locator(f".status-site[data-site='{sites['single']}'] .uptime")
    expect()(blog).to_have_text(re.compile(r"^37\.50\s?% uptime$"))


def test_the_site_page_keeps_the_regions_uptime_and_charts_a_line_per_region(
    page: Any, browser: Any, dashboard: Dashboard, sites: dict[str, int]
) -> None:
    page.goto(dashboard.base + f"/sites/{sites['degraded']}")
    panel = page.locator("#site-regions")
    expect()(panel.locator("tr[data-region='quorum']")).to_contain_text(re.compile(r"100\.00\s?%"))
    east = panel.locator(f"tr[data-region='{FAILING}']")
    expect()(east).to_contain_text(re.compile(r"37\.50\s?%"))  # the failing region's own
    head_ticks = page.locator("#site-head rect.tick:not(.tick-empty)")
    expect()(head_ticks).to_have_count(SLOTS)
    page.wait_for_function("() => window.webmonChart && window.webmonChart.plot")
    chart = page.evaluate("() => ({labels: window.webmonChart.labels,"
                          " data: window.webmonChart.data})")  # fmt: skip
    assert chart["labels"] == [f"{r} ms" for r in REGIONS]
    assert [set(line) for line in chart["data"][1:]] == [{40.0}, {80.0}, {120.0}]
    assert len(chart["data"][0]) == SLOTS  # a point per slot, each region's on its line
    legend = page.locator("#chart .u-legend .u-series")
    expect()(legend).to_have_count(1 + len(REGIONS))
    strokes = page.evaluate("() => window.webmonChart.plot.series.slice(1).map(s => s._stroke)")
    assert len(set(strokes)) == len(REGIONS)  # a colour each
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "site-region-lines.png"), full_page=True)

    # Dark: the lines in the dark theme's colours, legible on its card.
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900})
    try:
        dark = context.new_page()
        dark.goto(dashboard.login_link("bo"))
        dark.goto(dashboard.base + f"/sites/{sites['degraded']}")
        dark.wait_for_function("() => window.webmonChart && window.webmonChart.plot")
        strokes = dark.evaluate("() => window.webmonChart.plot.series.slice(1).map(s => s._stroke)")
        assert strokes == ["#7ab8ff", "#ffa657", "#c9a6ff"]  # --region-1..3, dark
        dark.locator("#chart").screenshot(path=str(SHOTS / "site-region-lines-dark.png"))
    finally:
        context.close()

    # A site of one region: one line of its checks.
    page.goto(dashboard.base + f"/sites/{sites['single']}")
    page.wait_for_function("() => window.webmonChart && window.webmonChart.plot")
    assert page.evaluate("() => window.webmonChart.labels") == ["response ms"]


def test_the_day_bars_count_by_the_quorum(
    page: Any, dashboard: Dashboard, db: Conn, sites: dict[str, int]
) -> None:
    # The site page: today's bar is the quorum's 100 %, not 19 of 24 checks (a red bar),
    # and its title names the region below on its own.
    page.goto(dashboard.base + f"/sites/{sites['degraded']}")
    bars = page.locator("section.card:has(h2:text('Uptime per day')) svg.strip rect")
    expect()(bars).to_have_count(90)
    today = bars.last
    expect()(today).to_have_class("bar-up")
    title = today.locator("title").text_content()
    assert f"100.00 % by quorum, {SLOTS} slots" in title, title
    assert f"below on its own: {FAILING} 37.50 %" in title, title
    page.screenshot(path=str(SHOTS / "site-day-bars-quorum.png"), full_page=True)
    # A site of one region: its checks, as before (3 of 8: red).
    page.goto(dashboard.base + f"/sites/{sites['single']}")
    single = page.locator("section.card:has(h2:text('Uptime per day')) svg.strip rect").last
    expect()(single).to_have_class("bar-down")
    # The status page: no red or amber day for the site of several regions.
    db.execute("UPDATE sites SET public = true WHERE id = ANY(%s)", (list(sites.values()),))
    page.goto(dashboard.base + "/status")
    shop = page.locator(f".status-site[data-site='{sites['degraded']}'] svg.days")
    expect()(shop.locator("rect.bar-up")).to_have_count(1)
    expect()(shop.locator("rect.bar-down, rect.bar-partial")).to_have_count(0)
    blog = page.locator(f".status-site[data-site='{sites['single']}'] svg.days")
    expect()(blog.locator("rect.bar-down")).to_have_count(1)
