"""Issue 28, the dashboard's regions, in a real headless Chromium against the real processes:
a site checked from three regions, one of them failing while the quorum says up, shows each
region's state, latency and uptime beside the quorum's and the advisory as a notice; the
overview marks it with a badge naming the region (light and dark, desktop and phone), and
no other site; a site of one region looks as before. The results are written by the real
writer (`write_results`), which keeps the site's state by the quorum."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.web.test_dashboard import expect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REGIONS = ["eu-west", "us-east", "ap-south"]
FAILING = "us-east"
SLOTS = 8  # a minute apart, the newest a minute ago
FAILED_IN_A_ROW = 5  # the failing region's last checks
# The badge's tooltip: plain text (an attribute holds no markup).
ADVISED = re.compile(
    rf"^{FAILED_IN_A_ROW} checks in a row failed, the first \d+ min( \d+ s)? ago;"
    " the quorum says up$"
)
# Where a screenshot of the three-region site's page goes, to be looked at (not committed).
SHOTS = Path(os.environ.get("WEBMON_TEST_SHOTS", "/tmp/webmon-shots"))


def quiet_site(db: Conn, url: str, regions: list[str], name: str) -> int:
    """A site checked from `regions` whose next check is a day away: the scheduler leaves
    it alone, and its results are the test's."""
    return int(scalar(
        db, "INSERT INTO sites (url, name, regions, next_check_at) VALUES (%s, %s, %s,"
        " now() + interval '1 day') RETURNING id", url, name, regions,
    ))  # fmt: skip


def write_history(db_url: str, site_id: int, regions: list[str], failing: str | None) -> None:
    """SLOTS slots of `regions`' checks; `failing` fails the last FAILED_IN_A_ROW of them
    (HTTP 503), the other regions are up (response times by region: 40, 80, 120 ms)."""
    newest = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    rows = []
    for i in range(SLOTS):
        slot = newest - timedelta(minutes=SLOTS - 1 - i)
        for n, region in enumerate(regions):
            down = region == failing and i >= SLOTS - FAILED_IN_A_ROW
            rows.append(CheckResult(
                site_id=site_id, url="http://127.0.0.1:9/", scheduled_at=slot,
                checked_at=slot + timedelta(seconds=1), region=region, up=not down,
                status_code=503 if down else 200, response_time_ms=40.0 * (n + 1),
                region_count=len(regions),  # as the scheduler's task says
            ))  # fmt: skip
    with Database(db_url) as database:
        for i in range(SLOTS):  # slot by slot, as the writer meets them
            write_results(database, rows[i * len(regions) : (i + 1) * len(regions)])


@pytest.fixture
def sites(dashboard: Dashboard, db: Conn, db_url: str) -> Iterator[dict[str, int]]:
    ids = {
        "degraded": quiet_site(db, "http://127.0.0.1:9/shop", REGIONS, "Shop"),
        "healthy": quiet_site(db, "http://127.0.0.1:9/api", REGIONS, "API"),
        "single": quiet_site(db, "http://127.0.0.1:9/blog", ["default"], "Blog"),
    }
    write_history(db_url, ids["degraded"], REGIONS, FAILING)
    write_history(db_url, ids["healthy"], REGIONS, None)
    write_history(db_url, ids["single"], ["default"], None)
    yield ids


def test_a_site_page_shows_each_region_beside_the_quorum_and_the_advisory(
    page: Any, dashboard: Dashboard, sites: dict[str, int]
) -> None:
    page.goto(dashboard.base + f"/sites/{sites['degraded']}")
    panel = page.locator("#site-regions")
    expect()(panel).to_be_visible()
    rows = panel.locator("tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.region)") == ["quorum", *REGIONS]
    expect()(panel.locator("tr[data-region='quorum'] .state")).to_have_text("UP")
    expect()(panel.locator(f"tr[data-region='{FAILING}'] .state")).to_have_text("DOWN")
    expect()(panel.locator(f"tr[data-region='{FAILING}']")).to_have_class("row-degraded")
    for region in ("eu-west", "ap-south"):
        row = panel.locator(f"tr[data-region='{region}']")
        expect()(row.locator(".state")).to_have_text("UP")
        expect()(row).to_contain_text(re.compile(r"100\.00\s?%"))
    east = panel.locator("tr[data-region='us-east']")
    expect()(east).to_contain_text("80.0 ms")  # its p50: every check answered in 80 ms
    expect()(east).to_contain_text(re.compile(r"37\.50\s?%"))  # 3 of its 8 checks up
    expect()(panel).to_contain_text("a majority of 3")
    notice = page.locator("#advisories")
    expect()(notice).to_be_visible()
    expect()(notice).to_contain_text(f"{FAILING} failing since")
    expect()(notice).to_contain_text(f"{FAILED_IN_A_ROW} checks in a row; the quorum says up")
    expect()(notice.locator("p")).to_have_count(1)
    # The latest checks say which region made each.
    checks = page.locator("#site-checks")
    expect()(checks.locator("th", has_text="Region")).to_have_count(1)
    expect()(checks.locator(f"tr[data-region='{FAILING}']").first).to_contain_text("HTTP 503")
    # Up by quorum throughout: one state change, its first check's, not one per region.
    changes = page.locator("section", has=page.locator("h2", has_text="State changes"))
    expect()(changes.locator("tbody tr")).to_have_count(1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "site-three-regions.png"), full_page=True)

    # A site of several regions, all up: the panel, no advisory.
    page.goto(dashboard.base + f"/sites/{sites['healthy']}")
    expect()(page.locator("#site-regions tbody tr")).to_have_count(1 + len(REGIONS))
    expect()(page.locator("#advisories")).to_have_count(0)
    # A site of one region: as before, neither.
    page.goto(dashboard.base + f"/sites/{sites['single']}")
    expect()(page.locator("#site-head")).to_contain_text("Blog")
    expect()(page.locator("#site-regions")).to_have_count(0)
    expect()(page.locator("#advisories")).to_have_count(0)
    expect()(page.locator("#site-checks th", has_text="Region")).to_have_count(0)


def test_the_overview_badges_the_site_degraded_in_a_region_and_no_other(
    page: Any, browser: Any, dashboard: Dashboard, sites: dict[str, int]
) -> None:
    page.goto(dashboard.base + "/")
    degraded = page.locator(f"tr[data-site-id='{sites['degraded']}']")
    badge = degraded.locator(".region-badge")
    expect()(badge).to_have_count(1)
    expect()(badge).to_have_attribute("data-region", FAILING)
    expect()(badge).to_have_text(f"degraded in {FAILING}")  # its text, read aloud too
    expect()(badge.locator(".visually-hidden")).to_have_text("degraded in ")
    hidden = badge.locator(".visually-hidden").bounding_box()  # what is seen: the region
    assert hidden is not None and hidden["width"] <= 1 and hidden["height"] <= 1
    expect()(badge).to_have_attribute("title", ADVISED)
    for other in ("healthy", "single"):
        expect()(page.locator(f"tr[data-site-id='{sites[other]}'] .region-badge")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    # Dark, at a phone's width: the badge is there, in the dark theme's amber, on screen.
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", timezone_id="Europe/Berlin"
    )
    try:
        phone = context.new_page()
        phone.goto(dashboard.login_link("bo"))
        phone.goto(dashboard.base + "/")
        badge = phone.locator(f"tr[data-site-id='{sites['degraded']}'] .region-badge")
        expect()(badge).to_be_visible()
        colours = badge.evaluate(
            "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
        )
        assert colours == ["rgb(242, 193, 78)", "rgb(61, 48, 16)"]  # --warn, --warn-bg dark
        box = badge.bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] >= 14
        phone.screenshot(path=str(SHOTS / "overview-phone-dark.png"), full_page=True)
    finally:
        context.close()


def test_the_add_form_takes_regions_and_a_quorum_and_refuses_a_quorum_too_large(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    url = "http://127.0.0.1:9/regions"
    page.goto(dashboard.base + "/sites/new")
    page.fill("input[name=url]", url)
    page.fill("input[name=regions]", "eu-west, us-east")
    page.fill("input[name=quorum]", "3")
    page.click("text=Add the site")
    refused = page.locator("#quorum-error")
    expect()(refused).to_be_visible()
    expect()(page.locator("input[name=quorum]")).to_have_attribute("aria-invalid", "true")
    assert scalar(db, "SELECT count(*) FROM sites WHERE url = %s", url) == 0
    page.fill("input[name=quorum]", "1")
    page.click("text=Add the site")
    site_id = scalar(db, "SELECT id FROM sites WHERE url = %s", url)
    assert page.url.endswith(f"/sites/{site_id}")
    row = db.execute("SELECT regions, quorum FROM sites WHERE id = %s", (site_id,)).fetchone()
    assert row == (["eu-west", "us-east"], 1)
    expect()(page.locator("#site-regions")).to_contain_text("down when 1 of 2 see it down")
