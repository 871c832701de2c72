"""A maintenance window silences alerts: adding or removing one, whatever it covers, takes
the admin scope. A write key could otherwise silence every alert (one window for all
sites, one per site, or a tag it put on every site)."""

from __future__ import annotations

import pytest

from tests.support.api import running_api
from tests.support.db import Conn, add_sites, count

pytestmark = pytest.mark.integration

STARTS = "2026-12-24T22:00:00Z"


def test_a_write_key_can_add_or_remove_no_window(db_url: str, db: Conn) -> None:
    [site] = add_sites(db, 1)
    everything = {"name": "quiet", "starts_at": STARTS, "duration_seconds": 604800,
                  "recurrence": "weekly"}  # fmt: skip
    windows = [everything, {**everything, "site_id": site}, {**everything, "tag": "env:prod"}]
    with running_api(db_url, db) as api:
        for window in windows:
            refused = api.client.post("/api/v1/windows", json=window, headers=api.write)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert "admin" in refused.json()["detail"]
        assert count(db, "SELECT count(*) FROM maintenance_windows") == 0
        made = api.client.post("/api/v1/windows", json=everything, headers=api.admin)
        assert made.status_code == 201, made.text
        path = f"/api/v1/windows/{made.json()['id']}"
        assert api.client.delete(path, headers=api.write).status_code == 403
        assert count(db, "SELECT count(*) FROM maintenance_windows") == 1
        assert api.client.delete(path, headers=api.admin).status_code == 204
