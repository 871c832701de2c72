"""A site the operator registered for an internal service cannot be turned against it
through the API or the dashboard: a change to what the check sends or reads puts the site
under the target policy. Loopback stands in for the internal network: only 127.0.0.1/32 is
allowed for restricted checks, and a listener on 127.0.0.2 counts what reaches it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.api import bearer, make_key
from tests.support.browser import Dashboard
from tests.support.db import Conn
from tests.support.processes import wait_for
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration

INJECTED = "X-Injected"


def operator_site(db: Conn, url: str) -> int:
    """A site registered with SQL: the operator's, checked without the target policy."""
    row = db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at)"
        " VALUES (%s, 1, 1, now()) RETURNING id",
        (url,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def restricted(db: Conn, site_id: int) -> bool:
    row = db.execute("SELECT restricted FROM sites WHERE id = %s", (site_id,)).fetchone()
    assert row is not None
    return bool(row[0])


def blocked_since(db: Conn, site_id: int, since: float) -> int:
    row = db.execute(
        "SELECT count(*) FROM check_results WHERE site_id = %s AND error = 'blocked'"
        " AND scheduled_at > to_timestamp(%s)",
        (site_id, since),
    ).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def logged_in(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.base, follow_redirects=True, timeout=30) as client:
        assert client.get(dashboard.login_link()).status_code == 200
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found[1]


def edit_form(client: httpx.Client, site_id: int, **changes: str) -> Any:
    """The site's settings form as the page fills it, with `changes`, posted."""
    page = client.get(f"/sites/{site_id}").text
    fields = {
        name: value
        for name, value in re.findall(r'<input type="\w+" name="(\w+)"[^>]*value="([^"]*)"', page)
    }
    fields["method"] = re.search(r"<option selected>(\w+)</option>", page)[1]  # type: ignore[index]
    fields["headers"] = re.search(r'<textarea name="headers"[^>]*>([^<]*)</textarea>', page)[1]  # type: ignore[index]
    fields.update(changes)
    fields["csrf"] = csrf_of(page)
    return client.post(f"/sites/{site_id}/edit", data=fields)


def test_an_edit_that_shapes_the_request_puts_the_site_under_the_policy(
    dashboard: Dashboard, db: Conn
) -> None:
    with Receiver(host="127.0.0.2") as internal:
        by_api = operator_site(db, internal.url("/api"))
        by_form = operator_site(db, internal.url("/form"))
        wait_for(lambda: {"/api", "/form"} <= {r.path for r in internal.requests},
                 what="the operator's sites to be checked as they are")  # fmt: skip
        assert not restricted(db, by_api) and not restricted(db, by_form)

        # A write key and a dashboard user each shape a request to the internal service.
        write = bearer(make_key(db, "write"))
        answer = httpx.patch(
            f"{dashboard.base}/api/v1/sites/{by_api}",
            json={"method": "POST", "headers": {INJECTED: "1"}, "body": "payload"},
            headers=write,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["restricted"] is True
        with logged_in(dashboard) as client:
            edited = edit_form(client, by_form, method="POST", headers=f"{INJECTED}: 1")
            assert edited.status_code == 200 and "Saved." in edited.text, edited.text
        changed_at = time.time()
        assert restricted(db, by_api) and restricted(db, by_form)

        # From then on their checks are refused before any connection is made.
        for site_id in (by_api, by_form):
            wait_for(lambda s=site_id: blocked_since(db, s, changed_at) >= 1,  # type: ignore[misc]
                     what="a blocked check")  # fmt: skip
        seen = len(internal.requests)
        for site_id in (by_api, by_form):
            wait_for(lambda s=site_id: blocked_since(db, s, changed_at) >= 4,  # type: ignore[misc]
                     what="more blocked checks")  # fmt: skip
        assert len(internal.requests) == seen  # nothing reached it since
        shaped = [r for r in internal.requests if r.method != "GET" or INJECTED in r.headers]
        assert shaped == []


def test_changes_that_do_not_shape_the_request_leave_the_site_as_it_is(
    dashboard: Dashboard, db: Conn
) -> None:
    site_id = operator_site(db, "http://127.0.0.2:9/internal")
    write = bearer(make_key(db, "write"))
    for change in ({"interval_seconds": 30}, {"timeout_seconds": 5}, {"enabled": False},
                   {"expected_status": [[200, 300]]}):  # fmt: skip
        answer = httpx.patch(f"{dashboard.base}/api/v1/sites/{site_id}", json=change, headers=write)
        assert answer.status_code == 200, answer.text
        assert answer.json()["restricted"] is False, change
    with logged_in(dashboard) as client:  # the form posts every field, most of them unchanged
        edited = edit_form(client, site_id, interval_seconds="45")
        assert edited.status_code == 200 and "Saved." in edited.text
    assert not restricted(db, site_id)
    assert db.execute(
        "SELECT interval_seconds FROM sites WHERE id = %s", (site_id,)
    ).fetchone() == (45,)


def test_only_the_operator_or_an_admin_key_takes_a_site_out_of_the_policy(
    dashboard: Dashboard, db: Conn
) -> None:
    site_id = operator_site(db, "http://127.0.0.2:9/internal")
    db.execute("UPDATE sites SET restricted = true WHERE id = %s", (site_id,))
    url = f"{dashboard.base}/api/v1/sites/{site_id}"
    refused = httpx.patch(url, json={"restricted": False}, headers=bearer(make_key(db, "write")))
    assert refused.status_code == 403 and restricted(db, site_id)
    admin = bearer(make_key(db, "admin"))
    cleared = httpx.patch(url, json={"restricted": False}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["restricted"] is False
    # Shaping it again puts it back, whoever does it (but the operator).
    again = httpx.patch(url, json={"regex": "ok"}, headers=admin)
    assert again.json()["restricted"] is True
