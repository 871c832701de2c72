"""Dashboard sessions can be ended: logging out, a new password and `webmon users disable`
end every session of that user at once; and the key that signs sessions is sealed with
WEBMON_SECRET_KEY, so a reader of the database cannot forge one."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from shared.sealing import SecretBox
from tests.support.api import TEST_SECRET_KEY, running_api
from tests.support.cli import webmon
from tests.support.db import Conn, scalar
from tests.support.sessions import COOKIE, add_user, session

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    monkeypatch.chdir(str(tmp_path))  # no .env file
    monkeypatch.setenv("WEBMON_DATABASE_URL", db_url)
    yield


def works(client: TestClient, cookie: str) -> bool:
    client.cookies.clear()
    answer = client.get("/", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
    if answer.status_code == 200:
        return True
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    return False


def csrf_of(client: TestClient, cookie: str) -> str:
    page = client.get("/", headers={"Cookie": f"{COOKIE}={cookie}"}).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found[1]


def test_logout_a_new_password_and_disable_end_every_session_at_once(
    db_url: str, db: Conn, cli: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = add_user(db)
    with running_api(db_url, db) as api:
        client = api.client
        here, elsewhere = session(client, db, user_id), session(client, db, user_id)
        assert works(client, here) and works(client, elsewhere)
        out = client.post(
            "/logout",
            data={"csrf": csrf_of(client, here)},
            headers={"Cookie": f"{COOKIE}={here}"},
            follow_redirects=False,
        )
        assert out.status_code == 303
        assert not works(client, here)
        assert not works(client, elsewhere)  # logging out ends the user's other sessions too

        changed = session(client, db, user_id)
        assert works(client, changed)
        monkeypatch.setattr(sys, "stdin", io.StringIO("a new passw0rd\n"))
        assert webmon("users", "add", "ada")[0] == 0
        assert not works(client, changed)

        disabled = session(client, db, user_id)
        assert works(client, disabled)
        code, said = webmon("users", "disable", "ada")
        assert code == 0, said
        assert not works(client, disabled)
        assert webmon("users", "link", "ada")[0] == 1  # no user who may log in
        assert webmon("users", "disable", "nobody")[0] == 1


def test_a_reader_of_the_database_cannot_forge_a_session(db_url: str, db: Conn) -> None:
    user_id = add_user(db)
    with running_api(db_url, db) as api:
        client = api.client
        assert works(client, session(client, db, user_id))  # the key exists now
        stored = bytes(scalar(db, "SELECT secret FROM webmon_secrets WHERE name = 'dashboard'"))
        version = int(scalar(db, "SELECT session_version FROM users WHERE id = %s", user_id))
        claims = [{"u": user_id, "v": version, "c": "forged"}, {"u": user_id, "c": "forged"}]
        for claim in claims:
            forged = URLSafeTimedSerializer(stored, salt="webmon-session").dumps(claim)
            assert not works(client, forged), claim
        # The same claims under the key itself (which needs WEBMON_SECRET_KEY) do work: the
        # forgeries failed for want of the key, not for their form.
        key = SecretBox(TEST_SECRET_KEY).open_key("dashboard", stored)
        assert works(client, URLSafeTimedSerializer(key, salt="webmon-session").dumps(claims[0]))


def test_without_a_secret_key_the_dashboard_says_so_and_the_api_works(
    db_url: str, db: Conn
) -> None:
    with running_api(db_url, db, secret_key=None) as api:
        page = api.client.get("/login")
        assert page.status_code == 503
        assert "WEBMON_SECRET_KEY" in page.text
        assert api.get("/api/v1/sites").status_code == 200
    assert scalar(db, "SELECT count(*) FROM webmon_secrets") == 0


def test_a_key_kept_in_clear_before_is_sealed_in_place(db_url: str, db: Conn) -> None:
    old = b"k" * 32
    db.execute("INSERT INTO webmon_secrets (name, secret) VALUES ('dashboard', %s)", (old,))
    user_id = add_user(db)
    with running_api(db_url, db) as api:
        assert works(api.client, session(api.client, db, user_id))
    stored, sealed = db.execute(
        "SELECT secret, sealed FROM webmon_secrets WHERE name = 'dashboard'"
    ).fetchone()  # type: ignore[misc]
    assert sealed is True and bytes(stored) != old
    assert SecretBox(TEST_SECRET_KEY).open_key("dashboard", bytes(stored)) == old  # the same key
