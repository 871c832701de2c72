"""A key changed with SQL, not `webmon keys`, takes effect within a second: a trigger on
`api_keys` tells every API process to forget its cached keys."""

from __future__ import annotations

import pytest

from tests.support.api import running_api
from tests.support.db import Conn
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration

WITHIN_S = 1.0


def test_a_key_revoked_or_rescoped_with_sql_stops_working_within_a_second(
    db_url: str, db: Conn
) -> None:
    with running_api(db_url, db) as api:
        write = api.write
        assert api.client.get("/api/v1/sites", headers=write).status_code == 200  # cached now
        assert api.client.get("/api/v1/sites", headers=api.read).status_code == 200

        db.execute("UPDATE api_keys SET scope = 'read' WHERE scope = 'write'")
        body = {"url": "http://127.0.0.1:9/"}
        wait_for(
            lambda: api.client.post("/api/v1/sites", json=body, headers=write).status_code == 403,
            timeout_s=WITHIN_S,
            what="the re-scoped key to lose its write scope",
        )

        db.execute("UPDATE api_keys SET revoked_at = now() WHERE scope = 'read'")
        wait_for(
            lambda: api.client.get("/api/v1/sites", headers=api.read).status_code == 401,
            timeout_s=WITHIN_S,
            what="the key revoked with SQL to be refused",
        )
        assert api.client.get("/api/v1/sites", headers=write).status_code == 401
        assert api.client.get("/api/v1/sites", headers=api.admin).status_code == 200
