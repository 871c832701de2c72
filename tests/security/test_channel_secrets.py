"""A channel's secret cannot be read back: it is sealed at rest with WEBMON_SECRET_KEY,
pointing the channel elsewhere takes the secret again, and below admin a channel's URLs
show their scheme and host only. Receivers listen on 127.0.0.1 only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notifier.payload import verify
from tests.support.alerting import NOTIFIER_FAST, add_channel, open_incidents
from tests.support.api import TEST_SECRET_KEY, Api, running_api
from tests.support.db import Conn
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration

TOKEN = "tk_0riginal-t0ken"
NEW_TOKEN = "tk_n3w-t0ken"


def stored(db: Conn, channel_id: int) -> tuple[Any, bytes | None]:
    row = db.execute(
        "SELECT secret, secret_sealed FROM channels WHERE id = %s", (channel_id,)
    ).fetchone()
    assert row is not None
    return row[0], None if row[1] is None else bytes(row[1])


def create(api: Api, body: dict[str, Any]) -> int:
    made = api.client.post("/api/v1/channels", json=body, headers=api.admin)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_moving_a_channel_takes_its_secret_again(db_url: str, db: Conn) -> None:
    with running_api(db_url, db) as api, Receiver() as mine, Receiver() as theirs:
        ntfy = create(api, {"name": "ntfy", "kind": "ntfy", "config": {"url": mine.url("/a")},
                            "secret": TOKEN})  # fmt: skip
        clear, sealed = stored(db, ntfy)
        assert clear is None and sealed is not None and TOKEN.encode() not in sealed

        path = f"/api/v1/channels/{ntfy}"
        moved = {"config": {"url": theirs.url("/steal")}}
        refused = api.client.patch(path, json=moved, headers=api.admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "secret"
        test = api.client.post(f"{path}/test", headers=api.admin)
        assert test.json()["sent"] is True, test.text
        assert [r.headers["Authorization"] for r in mine.requests] == [f"Bearer {TOKEN}"]
        assert theirs.requests == []

        # Other changes keep the secret; a move with the secret given is a move.
        renamed = api.client.patch(path, json={"name": "ntfy-2"}, headers=api.admin)
        assert renamed.status_code == 200, renamed.text
        moved_with = api.client.patch(path, json={**moved, "secret": NEW_TOKEN}, headers=api.admin)
        assert moved_with.status_code == 200, moved_with.text
        assert api.client.post(f"{path}/test", headers=api.admin).json()["sent"] is True
        assert [r.headers["Authorization"] for r in theirs.requests] == [f"Bearer {NEW_TOKEN}"]
        assert len(mine.requests) == 1

        telegram = create(api, {"name": "tg", "kind": "telegram", "secret": "123:ABC",
                                "config": {"chat_id": "42", "api_url": mine.url("")}})  # fmt: skip
        elsewhere = {"config": {"chat_id": "42", "api_url": theirs.url("")}}
        assert (
            api.client.patch(
                f"/api/v1/channels/{telegram}", json=elsewhere, headers=api.admin
            ).status_code
            == 422
        )


def test_below_admin_every_channel_url_shows_only_its_scheme_and_host(
    db_url: str, db: Conn
) -> None:
    urls = {
        "webhook": "http://127.0.0.1:9/hooks/ab12?token=s3cret",
        "ntfy": "http://127.0.0.1:9/topic-s3cret",
        "slack": "https://hooks.example/services/T0/B0/s3cret",
    }
    with running_api(db_url, db) as api:
        for kind, url in urls.items():
            create(api, {"name": kind, "kind": kind, "config": {"url": url}})
        for headers in (api.read, api.write):
            listed = api.client.get("/api/v1/channels", headers=headers)
            assert listed.status_code == 200, listed.text
            assert "s3cret" not in listed.text
            shown = {c["kind"]: c["config"]["url"] for c in listed.json()}
            assert shown == {
                "webhook": "http://127.0.0.1:9/…",
                "ntfy": "http://127.0.0.1:9/…",
                "slack": "https://hooks.example/…",
            }
            one = api.client.get(f"/api/v1/channels/{listed.json()[0]['id']}", headers=headers)
            assert "s3cret" not in one.text
        as_admin = api.client.get("/api/v1/channels", headers=api.admin).json()
        admin = {c["kind"]: c["config"]["url"] for c in as_admin}
        assert admin["webhook"] == urls["webhook"] and admin["ntfy"] == urls["ntfy"]
        assert admin["slack"] == "https://hooks.example/…"  # a credential itself: to no one


def test_the_notifier_opens_sealed_secrets_and_old_clear_ones_are_sealed(
    env: dict[str, str], db: Conn, db_url: str, processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as r:
        # One written in clear before sealing existed; the API seals it when it starts.
        old = add_channel(db, "old", config={"url": r.url("/old")}, secret="old-s3cret")
        with running_api(db_url, db) as api:
            new = create(api, {"name": "new", "kind": "webhook", "config": {"url": r.url("/new")},
                               "secret": "new-s3cret"})  # fmt: skip
        for channel_id, secret in ((old, "old-s3cret"), (new, "new-s3cret")):
            clear, sealed = stored(db, channel_id)
            assert clear is None and sealed is not None and secret.encode() not in sealed
        open_incidents(db, 1, [old, new])
        keyed = {**env, **NOTIFIER_FAST, "WEBMON_SECRET_KEY": TEST_SECRET_KEY}
        start(processes, "notifier", keyed, "notifier", tmp_path)
        wait_for(lambda: len(r.accepted()) == 2, 30, "both notifications")
        by_path = {req.path: req for req in r.accepted()}
        for path, secret in (("/old", "old-s3cret"), ("/new", "new-s3cret")):
            req = by_path[path]
            assert verify(secret, req.body, req.headers["X-Webmon-Signature"]), path
