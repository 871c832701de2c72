"""The login form carries a CSRF token like every other form: bound to a nonce in a cookie
of its own, so a page of another site cannot log a browser in."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.support.api import running_api
from tests.support.db import Conn
from webmon.core.users import QUERIES as USERS
from webmon.core.users import hash_password

pytestmark = pytest.mark.integration

PASSWORD = "correct horse"


def token_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the login form has no CSRF token"
    return found[1]


def post(client: TestClient, **fields: str) -> tuple[int, bool]:
    """(status, whether a session cookie was set)."""
    answer = client.post("/login", data={"username": "ada", "password": PASSWORD, "next": "/",
                                         **fields}, follow_redirects=False)  # fmt: skip
    return answer.status_code, "webmon_session" in answer.cookies


def test_a_login_without_its_forms_token_is_refused(db_url: str, db: Conn) -> None:
    db.execute(USERS["add_user"], {"name": "ada", "password_hash": hash_password(PASSWORD)})
    with running_api(db_url, db) as api:
        client = api.client
        assert post(client) == (403, False)  # no token, no login cookie: a forged form
        theirs = token_of(client.get("/login").text)  # a token of this browser's nonce
        client.cookies.clear()
        client.get("/login")  # another browser: another nonce
        assert post(client, csrf=theirs) == (403, False)
        client.cookies.clear()
        assert post(client, csrf=theirs) == (403, False)  # a token without its cookie
        refused = client.post("/login", data={"username": "ada", "password": PASSWORD})
        assert "csrf" in refused.text and refused.status_code == 403  # a form to try again

        client.cookies.clear()
        mine = token_of(client.get("/login").text)
        assert post(client, csrf=mine) == (303, True)
