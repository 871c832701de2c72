"""Status pages in a real headless Chromium: the public page's banner follows its sites'
checks; an operator makes a page and tells an incident in the dashboard, an update posted
through the API appears on the public page and in its Atom feed, and a script in an
update's Markdown shows as text and never runs."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.support.api import make_key
from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.support.processes import wait_for
from tests.support.switch import SwitchServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
LIVE_S = 60.0  # checks every 2 s; the public view is kept up to 15 s
ATOM = "{http://www.w3.org/2005/Atom}"


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def _banner_becomes(public: Any, url: str, banner: str) -> None:
    def shown() -> bool:
        public.goto(url)
        return bool(public.locator("#banner").get_attribute("data-banner") == banner)

    wait_for(shown, LIVE_S, f"the banner to read {banner}")


def test_the_banner_changes_when_a_site_of_the_page_goes_down(
    browser: Any, page: Any, dashboard: Dashboard, db: Conn
) -> None:
    with SwitchServer() as target, SwitchServer() as other:
        for url, name in ((target.url, "Checkout"), (other.url, "Search")):
            db.execute(
                "INSERT INTO sites (url, name, interval_seconds, next_check_at)"
                " VALUES (%s, %s, 2, now())",
                (url, name),
            )
        # The operator makes the page in the dashboard (logged in, CSRF as every form).
        page.goto(dashboard.base + "/status-pages")
        page.fill("input[name=slug]", "shop")
        page.fill("input[name=title]", "Shop status")
        page.fill("textarea[name=groups]", "Shop: 1, 2")
        page.click("text=Add the page")
        assert page.url.endswith("/status-pages/shop")

        public = browser.new_context(java_script_enabled=False).new_page()
        url = dashboard.base + "/status/shop"
        _banner_becomes(public, url, "operational")
        expect()(public.locator("#banner")).to_have_text("✓ All systems operational")
        expect()(public.locator(".site-name")).to_have_text(["Checkout", "Search"])
        assert target.url not in public.content()  # names, never URLs
        target.healthy = False
        _banner_becomes(public, url, "partial_outage")
        expect()(public.locator("[data-state=down] .site-name")).to_have_text("Checkout")
        other.healthy = False
        _banner_becomes(public, url, "major_outage")
        # Today's day on the bar says, without JavaScript, that checks failed today.
        today = public.locator(".status-site").first.locator("svg.days rect").last
        assert "% up" in (today.locator("title").text_content() or "")
        public.context.close()


def test_an_incident_update_posted_through_the_api_reaches_the_page_and_the_feed(
    browser: Any, page: Any, dashboard: Dashboard, db: Conn
) -> None:
    # Not checked during the test: the banner follows the incident alone.
    db.execute(
        "INSERT INTO sites (url, name, next_check_at)"
        " VALUES ('http://127.0.0.1:9/', 'Login', now() + interval '1 day')"
    )
    site_id = scalar(db, "SELECT id FROM sites")
    page.goto(dashboard.base + "/status-pages")
    page.fill("input[name=slug]", "acme")
    page.fill("input[name=title]", "Acme")
    page.fill("textarea[name=groups]", f"Accounts: {site_id}")
    page.click("text=Add the page")
    form = page.locator("#new-incident")
    form.locator("input[name=title]").fill("Logins fail")
    form.locator("input[name=site_ids]").fill(str(site_id))
    form.locator("textarea[name=body]").fill("We are **looking** into it.")
    form.locator("text=Tell the incident").click()
    expect()(page.locator(".incident h3")).to_contain_text("Logins fail")
    incident_id = scalar(db, "SELECT id FROM status_page_incidents")

    key = make_key(db, "write")
    payload = "Found it <script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    request = urllib.request.Request(
        f"{dashboard.base}/api/v1/status-pages/acme/incidents/{incident_id}/updates",
        data=json.dumps({"status": "identified", "body": payload}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201

    public = browser.new_context().new_page()  # JavaScript on: a script would run
    dialogs: list[str] = []
    public.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    public.goto(dashboard.base + "/status/acme")
    incident = public.locator(f"#incident-{incident_id}")
    expect()(incident).to_contain_text("Logins fail")
    expect()(incident.locator(".update").first).to_contain_text("Identified")
    expect()(incident.locator(".update").first).to_contain_text("<script>document.title")
    expect()(incident.locator(".update strong").last).to_have_text("looking")
    expect()(incident).to_contain_text("Affects Login")
    assert public.title() == "Acme" and dialogs == []
    assert public.locator(".md script, .md img").count() == 0
    expect()(public.locator("#banner")).to_have_attribute("data-banner", "partial_outage")

    feed = ET.fromstring(public.request.get(dashboard.base + "/status/acme/feed.atom").body())
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == "Logins fail (identified)"
    content = entry.findtext(f"{ATOM}content") or ""
    assert "Found it" in content and "&lt;script&gt;" in content and "<script>" not in content
    public.context.close()
