"""Security headers on every answer: a Content-Security-Policy without inline script and
with `frame-ancestors 'none'`, nosniff, a Referrer-Policy; and the dashboard's cookies
marked Secure over TLS or when WEBMON_SECURE_COOKIES says so. (That the pages still work
under the policy is tests/web/test_csp.py, in Chromium.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.api import running_api
from tests.support.db import Conn
from tests.support.sessions import add_user, logged_in

pytestmark = pytest.mark.integration

TEMPLATES = Path(__file__).resolve().parents[2] / "webmon" / "web" / "templates"


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


def test_every_answer_carries_the_security_headers(db_url: str, db: Conn) -> None:
    with running_api(db_url, db) as api:
        answers = {
            "/": api.client.get("/", follow_redirects=False),
            "/login": api.client.get("/login"),
            "/api/docs": api.client.get("/api/docs"),
            "/api/v1/openapi.json": api.client.get("/api/v1/openapi.json"),
            "/api/v1/sites": api.get("/api/v1/sites"),
            "/api/v1/sites (no key)": api.client.get("/api/v1/sites"),
            "/healthz": api.client.get("/healthz"),
            "/status": api.client.get("/status"),
            "/static/webmon.css": api.client.get("/static/webmon.css"),
        }
        for path, answer in answers.items():
            headers = answer.headers
            policy = directives(headers.get("content-security-policy", ""))
            assert policy.get("frame-ancestors") == ["'none'"], path
            scripts = policy.get("script-src", policy.get("default-src", []))
            assert scripts == ["'self'"], (path, scripts)  # no 'unsafe-inline', no eval
            assert policy.get("object-src") == ["'none'"], path
            assert policy.get("base-uri") == ["'none'"], path
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("referrer-policy") == "no-referrer", path
            assert headers.get("x-frame-options") == "DENY", path
            if path == "/status":  # public, the same for everyone, kept briefly
                assert headers.get("cache-control") == "public, max-age=15", path
            elif not path.startswith("/static/"):
                assert headers.get("cache-control") == "no-store", path
        # The API's page runs Swagger UI from files, with no inline script.
        docs = answers["/api/docs"].text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", docs) == []


def test_no_template_holds_an_inline_script() -> None:
    for template in TEMPLATES.glob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text()):
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+=", template.read_text()), template.name  # onclick=…
        assert "javascript:" not in template.read_text(), template.name


def session_cookie(client: TestClient, db: Conn, user_id: int, base: str = "") -> str:
    """The Set-Cookie of a new session."""
    return str(logged_in(client, db, user_id, base).headers["set-cookie"])


def test_cookies_are_secure_over_tls_or_when_told(db_url: str, db: Conn) -> None:
    user_id = add_user(db)
    with running_api(db_url, db) as api:
        plain = session_cookie(api.client, db, user_id)
        assert "httponly" in plain.lower() and "secure" not in plain.lower()
        assert "strict-transport-security" not in api.client.get("/login").headers
        tls = "https://testserver"
        assert "; secure" in session_cookie(api.client, db, user_id, tls).lower()
        api.client.cookies.clear()
        login = api.client.get(f"{tls}/login")
        assert "; secure" in login.headers["set-cookie"].lower()  # the login form's cookie
        assert login.headers["strict-transport-security"].startswith("max-age=")
    with running_api(db_url, db, secure_cookies=True) as api:  # TLS ends at a proxy
        assert "; secure" in session_cookie(api.client, db, user_id).lower()
