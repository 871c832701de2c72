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


# The colours a page paints, and WCAG's contrast of two of them.
COLOURS = """() => {
  const card = document.querySelector('.card') || document.body;
  const link = document.querySelector('main a') || document.body;
  return {bg: getComputedStyle(document.body).backgroundColor,
          text: getComputedStyle(document.body).color,
          card: getComputedStyle(card).backgroundColor,
          link: getComputedStyle(link).color};
}"""


def rgb(css: str) -> tuple[float, float, float]:
    parts = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    red, green, blue = (float(p) for p in parts[:3])
    return red, green, blue


def luminance(css: str) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb(css))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def context_page(browser: Any, dashboard: Dashboard, name: str, **options: Any) -> Any:
    """A logged-in page in a context of its own (a colour scheme, a viewport)."""
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(30_000)
    page.goto(dashboard.login_link(name))
    return page


def test_the_dark_layout_follows_the_system_and_keeps_its_contrast(
    browser: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = incident_of(db, "http://127.0.0.1:9/dark", "Dark shop", resolved=False)
    painted = {}
    for scheme in ("light", "dark"):
        page = context_page(browser, dashboard, f"ada-{scheme}", color_scheme=scheme)
        for path in ("/", f"/sites/{site_id}", "/alerts"):
            page.goto(dashboard.base + path)
            painted[scheme, path] = page.evaluate(COLOURS)
        page.context.close()
    for path in ("/", f"/sites/{site_id}", "/alerts"):
        light, dark = painted["light", path], painted["dark", path]
        assert light["bg"] != dark["bg"] and light["text"] != dark["text"], path
        assert luminance(dark["bg"]) < luminance(light["bg"]), path  # dark is darker
        assert luminance(dark["text"]) > luminance(light["text"]), path
        for scheme, colours in (("light", light), ("dark", dark)):
            # WCAG AA for body text, on the page and on its cards; links too.
            assert contrast(colours["text"], colours["bg"]) >= 4.5, (scheme, path, colours)
            assert contrast(colours["text"], colours["card"]) >= 4.5, (scheme, path, colours)
            assert contrast(colours["link"], colours["card"]) >= 4.5, (scheme, path, colours)


def test_a_phones_width_scrolls_no_page_sideways_and_rows_stay_usable(
    browser: Any, dashboard: Dashboard, db: Conn
) -> None:
    long_url = "http://127.0.0.1:9/" + "a-rather-long-path-segment/" * 6
    site_id = incident_of(db, long_url, None, resolved=False)
    named = incident_of(db, "http://127.0.0.1:9/phone", "Phone shop", resolved=True)
    page = context_page(
        browser, dashboard, "ada-phone", viewport={"width": 375, "height": 812},
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    width = "() => [document.documentElement.scrollWidth, window.innerWidth]"
    for path in ("/", f"/sites/{site_id}", "/alerts"):
        page.goto(dashboard.base + path)
        scroll, inner = page.evaluate(width)
        assert inner == 375 and scroll <= inner, (path, scroll)
    # The overview's rows: each site's link lies within the screen and opens its page.
    page.goto(dashboard.base + "/")
    link = page.locator(f"table.sites a[href='/sites/{named}']")
    expect()(link).to_be_visible()
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    link.tap()
    expect()(page.locator("h1.site-title")).to_contain_text("Phone shop")
    # The site page's Save button and the alerts page's incident link are reachable too.
    save = page.locator("#settings button", has_text="Save")
    save.scroll_into_view_if_needed()
    box = save.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375, box
    page.goto(dashboard.base + "/alerts")
    row_link = page.locator(f"#open-incidents a[href='/sites/{site_id}']")
    expect()(row_link).to_be_visible()
    row_link.tap()
    expect()(page).to_have_url(f"{dashboard.base}/sites/{site_id}")
    page.context.close()
