"""The HTTP API in a test: the real application on the test's database, through
Starlette's TestClient (its lifespan runs: pool, key listener), and keys made as
`webmon keys create` makes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.support.db import Conn
from webmon.api.app import create_app
from webmon.api.hot_reads import HotReads
from webmon.api.settings import ApiSettings
from webmon.core.keys import QUERIES as KEYS
from webmon.core.keys import key_hash, new_key, shown_part

# WEBMON_SECRET_KEY of the API in tests (it seals credentials, channel secrets and the
# dashboard's signing key); a test of an API without one passes `secret_key=None`.
TEST_SECRET_KEY = "dGVzdC1zZWNyZXQta2V5LW9mLTMyLWJ5dGVzLS0tLS0="


def make_key(db: Conn, scope: str, name: str | None = None) -> str:
    key = new_key()
    db.execute(
        KEYS["create_key"],
        {
            "name": name or f"test-{scope}-{key[-6:]}",
            "scope": scope,
            "prefix": shown_part(key),
            "sha256": key_hash(key),
        },
    )
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    write: dict[str, str]
    admin: dict[str, str]

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.read, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        headers = {**self.write, **kwargs.pop("headers", {})}
        return self.client.post(path, json=body, headers=headers, **kwargs)


@contextmanager
def running_api(db_url: str, db: Conn, *, hot_reads: bool = True, **settings: Any) -> Iterator[Api]:
    """`hot_reads=False`: the app without webmon.api.hot_reads, every request through
    FastAPI's routes (a twin to compare the shortcut's answers with)."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "allowed_networks": ("127.0.0.1/32",),  # 127.0.0.2 stands in for an internal address
        "secret_key": TEST_SECRET_KEY,
        **settings,
    }
    app = create_app(ApiSettings(_env_file=None, **values))  # type: ignore[call-arg]
    if not hot_reads:  # the middleware stack is built at the first request
        app.user_middleware = [m for m in app.user_middleware if m.cls is not HotReads]  # type: ignore[comparison-overlap]
    with TestClient(app) as client:
        yield Api(
            client,
            bearer(make_key(db, "read")),
            bearer(make_key(db, "write")),
            bearer(make_key(db, "admin")),
        )
