"""The certificates page in a real headless Chromium: the TLS certificates that expire
within N days, soonest first, an expired one at the top."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, add_sites

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_certificates_are_listed_soonest_first_within_the_days_asked(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    ids = add_sites(db, 5)
    # Expires in 20 days, 60 days, 3 days, expired 2 days ago; the last site has no TLS.
    for site_id, days in zip(ids, (20, 60, 3, -2, None), strict=True):
        db.execute(
            "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, status_code, up,"
            " tls_expires_at) SELECT id, url, now(), now(), 200, true,"
            " now() + %s * interval '1 day' FROM sites WHERE id = %s",
            (days, site_id),
        )
    db.execute("UPDATE sites SET name = 'Shop' WHERE id = %s", (ids[2],))
    page.goto(dashboard.base + "/certificates")
    rows = page.locator("#certificates tbody tr")
    expect()(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-site-id") for i in range(3)] == [
        str(ids[3]), str(ids[2]), str(ids[0]),
    ]  # fmt: skip
    expect()(rows.nth(0)).to_contain_text("EXPIRED")
    expect()(rows.nth(1)).to_contain_text("Shop")
    page.fill("input[name=days]", "90")
    page.click("text=Show")
    expect()(rows).to_have_count(4)
    assert rows.nth(3).get_attribute("data-site-id") == str(ids[1])
    page.goto(dashboard.base + "/certificates?days=1")
    expect()(rows).to_have_count(1)  # the expired one only
