"""What an anonymous visitor can see: the status page shows the sites marked public and
nothing of the others, and a badge answers only with its per-site token."""

from __future__ import annotations

import re

import pytest

from tests.support.api import running_api
from tests.support.db import Conn, add_sites
from tests.support.sessions import add_user, session

pytestmark = pytest.mark.integration


def test_the_status_page_and_badges_show_only_what_was_made_public(db_url: str, db: Conn) -> None:
    shown, hidden = add_sites(db, 2, url="http://127.0.0.1:9/")
    db.execute("UPDATE sites SET public = true, name = 'Shown' WHERE id = %s", (shown,))
    db.execute("UPDATE sites SET name = 'Hidden' WHERE id = %s", (hidden,))
    with running_api(db_url, db) as api:
        page = api.client.get("/status")
        assert page.status_code == 200
        assert "Shown" in page.text and "Hidden" not in page.text
        assert "?n=" not in page.text  # names, never URLs
        for path in (f"/badge/{shown}/status.svg", f"/badge/{shown}/status.svg?token=0000"):
            assert api.client.get(path).status_code == 404, path
        # The token is on the site's page, for a logged-in user to copy.
        cookie = session(api.client, db, add_user(db))
        site_page = api.client.get(
            f"/sites/{hidden}", headers={"Cookie": f"webmon_session={cookie}"}
        )
        token = re.search(r"/badge/\d+/status\.svg\?token=([0-9a-f]+)", site_page.text)
        assert token, "no badge URL on the site page"
        api.client.cookies.clear()
        badge = api.client.get(f"/badge/{hidden}/status.svg?token={token[1]}")
        assert badge.status_code == 200 and badge.headers["content-type"] == "image/svg+xml"
        assert api.client.get(f"/badge/{shown}/status.svg?token={token[1]}").status_code == 404
