"""The alerting routes of the HTTP API: channels (admin, write-only secrets, the target
policy, a test notification), incidents, notifications and maintenance windows."""

from __future__ import annotations

import pytest

from notifier.payload import verify
from tests.support.alerting import add_channel, open_incidents
from tests.support.api import running_api
from tests.support.db import Conn, add_sites
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-hmac-key"


def test_channels_crud_and_test(db_url: str, db: Conn) -> None:
    with running_api(db_url, db) as api, Receiver() as r:
        body = {"name": "hook", "kind": "webhook", "config": {"url": r.url()}, "secret": SECRET}
        assert api.client.post("/api/v1/channels", json=body, headers=api.write).status_code == 403
        created = api.client.post("/api/v1/channels", json=body, headers=api.admin)
        assert created.status_code == 201, created.text
        channel = created.json()
        assert channel["has_secret"] is True and "secret" not in channel
        assert SECRET not in api.get("/api/v1/channels").text
        test = api.client.post(f"/api/v1/channels/{channel['id']}/test", headers=api.admin)
        assert test.status_code == 200, test.text
        assert test.json() == {"sent": True, "channel_id": channel["id"], "error": None}
        [sent] = r.requests
        assert sent.json()["event"] == "test"
        assert verify(SECRET, sent.body, sent.headers["X-Webmon-Signature"])
        patched = api.client.patch(
            f"/api/v1/channels/{channel['id']}", json={"is_default": True}, headers=api.admin
        )
        assert patched.json()["is_default"] is True
        internal = {"name": "internal", "kind": "webhook", "config": {"url": "http://127.0.0.2/"}}
        refused = api.client.post("/api/v1/channels", json=internal, headers=api.admin)
        assert refused.status_code == 422 and "blocked network" in refused.text
        apprise = {"name": "a", "kind": "apprise", "secret": "json://127.0.0.2/"}
        assert (
            api.client.post("/api/v1/channels", json=apprise, headers=api.admin).status_code == 422
        )
        slack = {"name": "s", "kind": "slack", "config": {"url": "https://hooks.example/T/B/sec"}}
        shown = api.client.post("/api/v1/channels", json=slack, headers=api.admin).json()
        assert shown["config"]["url"] == "https://hooks.example/…"
        gone = api.client.delete(f"/api/v1/channels/{channel['id']}", headers=api.admin)
        assert gone.status_code == 204


def test_a_channel_test_to_a_blocked_address_fails(db_url: str, db: Conn) -> None:
    hook = add_channel(db, "internal", config={"url": "http://internal.invalid:9/"})
    db.execute(
        'UPDATE channels SET config = \'{"url": "http://127.0.0.2:9/"}\' WHERE id = %s', (hook,)
    )
    with running_api(db_url, db) as api:
        test = api.client.post(f"/api/v1/channels/{hook}/test", headers=api.admin)
    assert test.status_code == 200
    assert test.json()["sent"] is False and test.json()["error"].startswith("blocked: 127.0.0.2")


def test_incidents_notifications_and_windows(db_url: str, db: Conn) -> None:
    hook = add_channel(db, "hook", config={"url": "http://127.0.0.1:9/"})
    open_incidents(db, 3, [hook])
    db.execute("UPDATE notifications SET state = 'failed', last_error = 'status 500'")
    [site] = add_sites(db, 1)
    with running_api(db_url, db) as api:
        page = api.get("/api/v1/incidents", params={"limit": 2, "state": "open"})
        assert page.status_code == 200 and len(page.json()) == 2
        rest = api.client.get(page.links["next"]["url"], headers=api.read).json()
        assert len(rest) == 1 and rest[0]["cause"] == "HTTP 503"
        failed = api.get("/api/v1/notifications", params={"state": "failed"}).json()
        assert [n["last_error"] for n in failed] == ["status 500"] * 3
        window = {"name": "deploy", "site_id": site, "starts_at": "2026-12-24T22:00:00Z",
                  "duration_seconds": 3600, "recurrence": "weekly"}  # fmt: skip
        # Windows silence alerts: the admin scope (issue 25; a write key made them before).
        admin = {"headers": api.admin}
        nul = api.post("/api/v1/windows", {**window, "name": "a\x00b"}, **admin)
        assert nul.status_code == 422 and "NUL" in nul.text
        # 1 BC in UTC: stored by PostgreSQL, unreadable by psycopg; a 422, not a 500
        bc = api.post(
            "/api/v1/windows", {**window, "starts_at": "0001-01-01T00:01:00+01:00"}, **admin
        )
        assert bc.status_code == 422 and "out of range" in bc.text, bc.text
        made = api.post("/api/v1/windows", window, **admin)
        assert made.status_code == 201, made.text
        assert made.json()["recurrence"] == "weekly" and made.json()["active"] is False
        assert [w["id"] for w in api.get("/api/v1/windows").json()] == [made.json()["id"]]
        assert (
            api.client.delete(f"/api/v1/windows/{made.json()['id']}", headers=api.admin).status_code
            == 204
        )
