"""Dashboard users, as the CLI and `make run` manage them: operators with database access
are trusted to add users and hand out one-time login links."""

from __future__ import annotations

import secrets

from shared.db import Connection
from webmon.readmodel import DASHBOARD
from webmon.web.sessions import LOGIN_LINK_VALID_FOR, hash_password, link_hash


def add_user(conn: Connection, name: str, password: str) -> int:
    """Adds the user, or sets a new password for an existing (or disabled) one."""
    row = conn.execute(
        DASHBOARD["add_user"], {"name": name, "password_hash": hash_password(password)}
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def ensure_user(conn: Connection, name: str) -> None:
    """A user for a first look, when there is none at all: a random password nobody
    knows, so that only a login link lets anyone in until `webmon users add` sets one."""
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    if row is not None and int(str(row[0])) == 0:
        add_user(conn, name, secrets.token_urlsafe(24))


def login_link(conn: Connection, name: str) -> str | None:
    """The path of a new one-time login link for `name`, or None without such a user."""
    row = conn.execute(DASHBOARD["user_by_name"], {"name": name}).fetchone()
    if row is None:
        return None
    token = secrets.token_urlsafe(32)
    conn.execute(
        DASHBOARD["create_login_link"],
        {"sha256": link_hash(token), "user_id": row[0], "valid_for": LOGIN_LINK_VALID_FOR},
    )
    return f"/login/once/{token}"
