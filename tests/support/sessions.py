"""Dashboard users and sessions in a test: a user made as `webmon users add` makes one, and
a session of theirs through a one-time login link, as its cookie."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from tests.support.db import Conn
from webmon.core.keys import new_key
from webmon.core.users import LOGIN_LINK_VALID_FOR, hash_password, link_hash
from webmon.core.users import QUERIES as USERS

COOKIE = "webmon_session"
PASSWORD = "correct horse"


def add_user(db: Conn, name: str = "ada") -> int:
    row = db.execute(
        USERS["add_user"], {"name": name, "password_hash": hash_password(PASSWORD)}
    ).fetchone()
    assert row is not None
    return int(row[0])


def logged_in(client: TestClient, db: Conn, user_id: int, base: str = "") -> Response:
    """The answer to a one-time login link of the user (its Set-Cookie starts a session).
    `base`: another origin (`https://testserver` for one over TLS)."""
    token = new_key()
    db.execute(
        USERS["create_login_link"],
        {"sha256": link_hash(token), "user_id": user_id, "valid_for": LOGIN_LINK_VALID_FOR},
    )
    client.cookies.clear()
    answer = client.get(f"{base}/login/once/{token}", follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer


def session(client: TestClient, db: Conn, user_id: int, base: str = "") -> str:
    """A new session of the user, through a one-time login link: its cookie's value."""
    answer = logged_in(client, db, user_id, base)
    cookie = answer.cookies.get(COOKIE)
    assert cookie
    client.cookies.clear()
    return str(cookie)
