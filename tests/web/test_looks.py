"""Issue 26's looks in a real headless Chromium: incidents on /alerts named as the overview
names sites, the dark layout by the system's setting, and a phone's width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.web.test_alerts_channels import expect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def incident_of(db: Conn, url: str, name: str | None, *, resolved: bool) -> int:
    """A paused site with one incident, open or resolved an hour later."""
    site_id = int(scalar(
        db, "INSERT INTO sites (url, name, enabled) VALUES (%s, %s, false) RETURNING id", url, name
    ))  # fmt: skip
    opened = datetime.now(UTC) - timedelta(hours=2)
    end = opened + timedelta(hours=1) if resolved else None
    db.execute(
        "INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at, cause,"
        " status_code, resolved_at, resolving_slot, resolving_checked_at)"
        " VALUES (%s, %s, %s, %s, 'HTTP 503', 503, %s, %s, %s)",
        (site_id, opened, opened, opened, end, end, end),
    )
    return site_id


def test_alerts_name_each_incidents_site_and_fall_back_to_its_url(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    named = incident_of(db, "http://127.0.0.1:9/shop", "Shop checkout", resolved=False)
    bare = incident_of(db, "http://127.0.0.1:9/bare", None, resolved=True)
    page.goto(dashboard.base + "/alerts")
    open_row = page.locator("#open-incidents tbody tr")
    expect()(open_row).to_have_count(1)
    link = open_row.locator(f"a[href='/sites/{named}']")
    expect()(link).to_have_text("Shop checkout")
    expect()(open_row.locator(".site-url")).to_have_text("http://127.0.0.1:9/shop")
    resolved = page.locator("#incidents tbody tr")
    expect()(resolved.locator(f"a[href='/sites/{bare}']")).to_have_text("http://127.0.0.1:9/bare")
    expect()(resolved.locator(".site-url")).to_have_count(0)
