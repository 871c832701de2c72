"""Check now from a region, in a real headless Chromium against the real processes: a site
checked from two regions offers the choice beside the button; from one region, one task
there; from every region, a task per region, each on its own line as it completes (the
test's checker is the default region's: the other region's task waits, queued). The tasks
page then names each task's region."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.support.targets import Targets
from tests.web.test_dashboard import LIVE_MS, expect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_check_now_from_one_region_then_from_every_region(
    page: Any, dashboard: Dashboard, targets: Targets, db: Conn
) -> None:
    site_id = int(scalar(
        db, "INSERT INTO sites (url, regions, next_check_at) VALUES (%s, '{default,us-east}',"
        " now() + interval '1 day') RETURNING id", targets.url("/status/201"),
    ))  # fmt: skip
    page.goto(dashboard.base + f"/sites/{site_id}")
    choice = page.locator("select[name=region]")
    expect()(choice).to_have_accessible_name("Check from")
    assert choice.locator("option").all_inner_texts() == [
        "from every region", "from default", "from us-east",
    ]  # fmt: skip
    choice.select_option("default")
    page.click("button:text-is('Check now')")
    expect()(page.locator("#flash")).to_contain_text("on its way")
    done = page.locator("#check-now li[data-region='default']")
    expect()(done).to_have_attribute("data-result", "UP", timeout=LIVE_MS)
    expect()(done).to_contain_text("HTTP 201")
    expect()(page.locator("#check-now li")).to_have_count(1)

    page.locator("select[name=region]").select_option("all")
    page.click("button:text-is('Check now')")
    lines = page.locator("#check-now li")
    expect()(lines).to_have_count(2)
    expect()(page.locator("#check-now li[data-region='default']")).to_have_attribute(
        "data-result", "UP", timeout=LIVE_MS
    )
    # No checker of us-east runs here: its task stays queued, and the whole says so.
    expect()(page.locator("#check-now li[data-region='us-east']")).to_have_attribute(
        "data-result", "QUEUED"
    )
    expect()(page.locator("#check-now")).to_have_attribute("data-result", "MIXED")
    rows = db.execute(
        "SELECT region, count(*) FROM tasks WHERE site_id = %s GROUP BY region ORDER BY region",
        (site_id,),
    ).fetchall()
    assert rows == [("default", 2), ("us-east", 1)]

    page.goto(dashboard.base + "/tasks")
    expect()(page.locator("#tasks th", has_text="Region")).to_have_count(1)
    expect()(page.locator("#tasks tr[data-region='us-east']")).to_have_count(1)
    expect()(page.locator("#tasks tr[data-region='default']")).to_have_count(2)
    # The form asks where a URL is checked from: the default region, while a site is.
    expect()(page.locator("form[action='/tasks'] select[name=region]")).to_have_value("default")
