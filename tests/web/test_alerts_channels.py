"""Channels on the alerts page in a real headless Chromium: a channel of any kind is
added with its settings, edited, tested and removed; a channel neither default nor routed
to a site carries a warning; an open incident is listed once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Dashboard
from tests.support.db import Conn, count, scalar
from tests.support.processes import wait_for
from tests.support.receivers import Receiver
from tests.support.switch import SwitchServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
LIVE_MS = 45_000


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_a_channel_is_added_edited_tested_and_removed_and_an_unrouted_one_warns(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    with Receiver() as receiver:
        page.goto(dashboard.base + "/alerts")
        form = page.locator("#add-channel")
        form.locator("input[name=name]").fill("hook")
        form.locator("input[name=url]").fill(receiver.url())
        form.locator("text=Add the channel").click()
        row = page.locator("#channels tr[data-channel=hook]")
        expect()(row.locator(".unrouted")).to_contain_text("notifies nobody")

        page.locator("#channels summary", has_text="Edit hook").click()
        edit = page.locator("#channels form[action$='/edit']").first
        edit.locator("input[name=name]").fill("ops")
        edit.locator("input[name=is_default]").check()
        edit.locator("text=Save hook").click()
        expect()(page.locator("[role=status]", has_text="saved")).to_be_visible()
        row = page.locator("#channels tr[data-channel=ops]")
        expect()(row).to_contain_text("yes")
        expect()(row.locator(".unrouted")).to_have_count(0)
        assert scalar(db, "SELECT is_default FROM channels WHERE name = 'ops'") is True
        assert scalar(db, "SELECT config->>'url' FROM channels") == receiver.url()

        row.locator("text=Send a test").click()
        expect()(page.locator("#channels [role=status]")).to_contain_text("ops accepted")
        tests = [r for r in receiver.accepted() if r.json().get("event") == "test"]
        assert len(tests) == 1

        # Another kind, its settings one a line: an e-mail channel.
        form = page.locator("#add-channel")
        form.locator("input[name=name]").fill("mail")
        form.locator("select[name=kind]").select_option("email")
        form.locator("textarea[name=settings]").fill(
            "host=127.0.0.1\nport=2525\nfrom=webmon@example.com\nto=a@example.com, b@example.com"
        )
        form.locator("text=Add the channel").click()
        mail = page.locator("#channels tr[data-channel=mail]")
        expect()(mail).to_contain_text("a@example.com, b@example.com")
        expect()(mail.locator(".unrouted")).to_be_visible()
        assert scalar(db, "SELECT config->'to' FROM channels WHERE name = 'mail'") == [
            "a@example.com",
            "b@example.com",
        ]
        assert (
            scalar(db, "SELECT (config->>'port')::int FROM channels WHERE kind = 'email'") == 2525
        )

        row.locator("text=Remove").click()
        expect()(page.locator("#channels tr[data-channel=ops]")).to_have_count(0)
        assert count(db, "SELECT count(*) FROM channels") == 1


def test_an_open_incident_is_listed_once(page: Any, dashboard: Dashboard, db: Conn) -> None:
    with SwitchServer() as target:
        target.healthy = False
        db.execute(
            "INSERT INTO sites (url, interval_seconds, failure_threshold, next_check_at)"
            " VALUES (%s, 2, 2, now())",
            (target.url,),
        )
        wait_for(lambda: count(db, "SELECT count(*) FROM incidents") == 1, what="an incident")
        page.goto(dashboard.base + "/alerts")
        expect()(page.locator("#open-incidents tbody tr")).to_have_count(1)
        expect()(page.locator("body")).to_contain_text("No incident resolved yet.")
        assert page.locator("tr", has_text=target.url).count() == 1
