"""Headless Chromium for the dashboard's tests, driven by Playwright.

Playwright's own browser where it has one, else the system's Chromium by path (Debian's
`chromium`, /usr/bin/chromium; WEBMON_TEST_CHROMIUM names another). Without any, the
browser tests are skipped on a developer's machine and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devstack.browser import CHROMIUM_ARGS as CHROMIUM_ARGS  # the browser tests import it here
from tests.support.db import Conn
from webmon.core.keys import new_key
from webmon.core.users import LOGIN_LINK_VALID_FOR, hash_password, link_hash
from webmon.core.users import QUERIES as USERS


def system_chromium() -> str | None:
    named = os.environ.get("WEBMON_TEST_CHROMIUM")
    if named:
        return named
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Dashboard:
    def __init__(self, base: str, db: Conn) -> None:
        self.base = base
        self.db = db

    def login_link(self, name: str = "ada") -> str:
        row = self.db.execute(
            USERS["add_user"], {"name": name, "password_hash": hash_password("correct horse")}
        ).fetchone()
        assert row is not None
        token = new_key()
        self.db.execute(
            USERS["create_login_link"],
            {"sha256": link_hash(token), "user_id": row[0], "valid_for": LOGIN_LINK_VALID_FOR},
        )
        return f"{self.base}/login/once/{token}"
