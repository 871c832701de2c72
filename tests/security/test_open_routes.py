"""What answers without a key or a login is what the documents say: every route of the
API process is asked without credentials, and the ones that do not ask for any are the
table of SECURITY.md ("What answers without a key or a login"), which the README's and the
OpenAPI document's "Every route but …" agree with."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from tests.support.api import running_api
from tests.support.db import Conn

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TABLE_HEADING = "### What answers without a key or a login"


def documented() -> set[str]:
    """The `METHOD /path` cells of SECURITY.md's table."""
    text = (ROOT / "SECURITY.md").read_text()
    assert TABLE_HEADING in text
    section = text.split(TABLE_HEADING, 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([A-Z]+ /[^`]*)` \|", section, flags=re.MULTILINE))


def example_path(template: str) -> str:
    """A concrete path for a route's template."""
    path = template.replace("{task_id}", str(uuid.uuid4())).replace("{kind}", "status")
    path = path.replace("{path:path}", "webmon.css")
    return re.sub(r"\{[a-z_]+\}", "1", path)


def walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, those of included routers too (FastAPI
    keeps an included router whole, as `original_router`, in recent versions)."""
    for route in routes:
        if isinstance(route, Mount):
            yield "GET", f"{route.path}/{{path:path}}"
        elif isinstance(route, APIRoute | Route):
            yield from ((m, route.path) for m in sorted(route.methods or ()) if m != "HEAD")
        elif hasattr(route, "original_router"):
            yield from walk(route.original_router.routes)


def asks_for_credentials(answer: Any) -> bool:
    """A 401 that asks for a key, or the dashboard's way to the login page."""
    if answer.status_code == 401 and "www-authenticate" in answer.headers:
        return True
    location = answer.headers.get("location", "")
    return answer.status_code in (303, 307) and location.startswith("/login?")


def test_what_answers_without_credentials_is_what_security_md_lists(db_url: str, db: Conn) -> None:
    found: set[str] = set()
    with running_api(db_url, db) as api:
        routes = list(walk(api.client.app.routes))  # type: ignore[attr-defined]
        assert len(routes) > 40
        for method, template in routes:
            api.client.cookies.clear()
            answer = api.client.request(method, example_path(template), follow_redirects=False)
            assert answer.status_code < 500, (method, template, answer.text)
            if not asks_for_credentials(answer):
                shown = "/static/…" if template.startswith("/static/") else template
                found.add(f"{method} {shown}")
        openapi = api.client.get("/api/v1/openapi.json").json()
    assert found == documented()

    # The sentences that say which routes need no key name exactly the API's open ones.
    open_api = {path.split(" ", 1)[1] for path in found if "/api/" in path or "healthz" in path}
    texts = [openapi["info"]["description"]]
    texts += [doc.read_text() for doc in (ROOT / "README.md", *(ROOT / "docs").glob("**/*.md"))]
    sentences = [m for text in texts for m in re.findall(r"Every route but(.*?)needs", text, re.S)]
    assert len(sentences) >= 2
    for sentence in sentences:
        assert set(re.findall(r"`(/[^`]*)`", sentence)) == open_api, sentence
