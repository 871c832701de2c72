"""Issue 26's site form in a real headless Chromium: the HTTP options, the thresholds, the
certificate warning, the regions, the credentials and the notification routing are saved
through the form; each test asserts on the page's confirmation and on the values stored,
read back through the API (and the sealed secret opened with the key)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.sealing import SecretBox
from tests.support.alerting import add_channel
from tests.support.api import TEST_SECRET_KEY, bearer, make_key
from tests.support.browser import Dashboard
from tests.support.db import Conn, scalar
from tests.web.test_alerts_channels import expect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def paused_site(db: Conn, url: str = "http://127.0.0.1:9/form") -> int:
    return int(scalar(db, "INSERT INTO sites (url, enabled) VALUES (%s, false) RETURNING id", url))


def stored(dashboard: Dashboard, db: Conn, site_id: int) -> dict[str, Any]:
    """The site as the API returns it."""
    answer = httpx.get(f"{dashboard.base}/api/v1/sites/{site_id}",
                       headers=bearer(make_key(db, "read")))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def settings(page: Any) -> Any:
    """The settings form, its HTTP options unfolded."""
    form = page.locator("#settings form.grid-form").first
    form.locator("summary", has_text="HTTP options").click()
    return form


def test_http_options_thresholds_and_routing_are_saved_through_the_form(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = paused_site(db)
    add_channel(db, "ops")
    add_channel(db, "pager")
    page.goto(f"{dashboard.base}/sites/{site_id}")
    form = settings(page)
    form.locator("input[name=url]").fill("http://127.0.0.1:9/form/v2")
    form.locator("select[name=method]").select_option("POST")
    form.locator("textarea[name=body]").fill('{"ping": 1}')
    form.locator("input[name=body_content_type]").fill("application/json")
    form.locator("input[name=max_redirects]").fill("3")
    form.locator("select[name=tls_verify]").select_option("false")
    form.locator("input[name=tls_server_name]").fill("internal.example")
    form.locator("select[name=ip_version]").select_option("4")
    form.locator("input[name=header_name]").fill("X-Version")
    form.locator("input[name=header_regex]").fill("^2\\.")
    form.locator("input[name=regions]").fill("eu-central-1, us-east-1, ap-south-1")
    form.locator("input[name=quorum]").fill("2")
    form.locator("input[name=failure_threshold]").fill("4")
    form.locator("input[name=success_threshold]").fill("3")
    form.locator("input[name=reminder_minutes]").fill("30")
    form.locator("input[name=cert_expiry_days]").fill("45")
    form.locator("input[name=route][value=pager]").check()
    form.locator("button", has_text="Save").click()
    expect()(page.locator("#flash")).to_have_text("Saved.")

    site = stored(dashboard, db, site_id)
    assert {k: site[k] for k in (
        "url", "method", "body", "body_content_type", "max_redirects", "tls_verify",
        "tls_server_name", "ip_version", "header_name", "header_regex", "regions", "quorum",
        "cert_expiry_days",
    )} == {
        "url": "http://127.0.0.1:9/form/v2", "method": "POST", "body": '{"ping": 1}',
        "body_content_type": "application/json", "max_redirects": 3, "tls_verify": False,
        "tls_server_name": "internal.example", "ip_version": 4, "header_name": "X-Version",
        "header_regex": "^2\\.", "regions": ["eu-central-1", "us-east-1", "ap-south-1"],
        "quorum": 2, "cert_expiry_days": 45,
    }  # fmt: skip
    assert db.execute(
        "SELECT failure_threshold, success_threshold, reminder_interval_seconds FROM sites"
        " WHERE id = %s", (site_id,),
    ).fetchone() == (4, 3, 1800)  # fmt: skip
    routed = db.execute(
        "SELECT c.name FROM site_channels r JOIN channels c ON c.id = r.channel_id"
        " WHERE r.site_id = %s", (site_id,),
    ).fetchall()  # fmt: skip
    assert routed == [("pager",)]
    # The page shows what was stored: the form reads it back.
    form = settings(page)
    expect()(form.locator("input[name=cert_expiry_days]")).to_have_value("45")
    expect()(form.locator("input[name=route][value=pager]")).to_be_checked()
    expect()(form.locator("input[name=route][value=ops]")).not_to_be_checked()
    expect()(form.locator("input[name=quorum]")).to_have_value("2")


def test_a_refused_value_is_shown_beside_its_field_in_the_cores_words_and_nothing_changes(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = paused_site(db)
    page.goto(f"{dashboard.base}/sites/{site_id}")
    form = settings(page)
    form.locator("input[name=cert_expiry_days]").fill("400")
    form.locator("input[name=cert_expiry_days]").evaluate("e => e.removeAttribute('max')")
    form.locator("button", has_text="Save").click()
    expect()(page.locator("#cert_expiry_days-error")).to_have_text(
        "a certificate warning comes 1 to 365 days before the expiry"
    )
    assert stored(dashboard, db, site_id)["cert_expiry_days"] == 14
    # A proxy is the operator's: the core refuses it to a dashboard user, beside the field.
    page.goto(f"{dashboard.base}/sites/{site_id}")
    form = settings(page)
    form.locator("summary", has_text="Checker host").click()
    form.locator("input[name=proxy]").fill("http://127.0.0.1:3128")
    form.locator("button", has_text="Save").click()
    expect()(page.locator("#proxy-error")).to_contain_text("may not use a proxy")
    assert stored(dashboard, db, site_id)["proxy"] is None


def test_credentials_are_set_shown_as_set_kept_replaced_and_cleared(
    page: Any, dashboard: Dashboard, db: Conn
) -> None:
    site_id = paused_site(db)
    box = SecretBox(TEST_SECRET_KEY)

    def secret() -> tuple[str, str | None, str] | None:
        row = db.execute("SELECT kind, username, sealed FROM site_auth WHERE site_id = %s",
                         (site_id,)).fetchone()  # fmt: skip
        if row is None:
            return None
        return row[0], row[1], box.open(site_id, row[0], row[1], bytes(row[2]))

    def save(**fields: str) -> None:
        form = settings(page)
        for name, value in fields.items():
            if name == "auth_kind":
                form.locator("select[name=auth_kind]").select_option(value)
            else:
                form.locator(f"input[name={name}]").fill(value)
        form.locator("button", has_text="Save").click()

    page.goto(f"{dashboard.base}/sites/{site_id}")
    save(auth_kind="basic", auth_username="ada", auth_secret="s3cret pass")
    expect()(page.locator("#flash")).to_have_text("Saved.")
    assert secret() == ("basic", "ada", "s3cret pass")
    assert stored(dashboard, db, site_id)["auth"] == {"kind": "basic", "username": "ada"}
    # Shown as set, never echoed: the password field is empty and the page lacks the secret.
    expect()(page.locator("#auth .auth-set")).to_have_text("set")
    expect()(page.locator("input[name=auth_secret]")).to_have_value("")
    assert "s3cret" not in page.content()
    # Saving other fields keeps it; a new user name without the secret is refused.
    save(name="Kept")
    expect()(page.locator("#flash")).to_have_text("Saved.")
    assert secret() == ("basic", "ada", "s3cret pass")
    save(auth_username="bob")
    expect()(page.locator("#auth-error")).to_contain_text("type the password or token again")
    assert "s3cret" not in page.content()
    assert secret() == ("basic", "ada", "s3cret pass")
    # Replaced by a bearer token, then removed.
    page.goto(f"{dashboard.base}/sites/{site_id}")
    save(auth_kind="bearer", auth_secret="tok-123")
    expect()(page.locator("#flash")).to_have_text("Saved.")
    assert secret() == ("bearer", None, "tok-123")
    save(auth_kind="")
    expect()(page.locator("#flash")).to_have_text("Saved.")
    assert secret() is None
    assert stored(dashboard, db, site_id)["auth"] is None
    expect()(page.locator("#auth .auth-set")).to_have_count(0)
