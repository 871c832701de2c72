"""The two reads a dashboard or a script makes most, `GET /api/v1/sites` and
`GET /api/v1/sites/{id}/uptime`, through the plain routes: their pages, filters and
bodies, FastAPI's answer to whatever is wrong with a request, the metrics under their route
templates, and a failed query that runs once. (They once had a path of their own past
FastAPI's routing; the SQL work it came with stayed, the bypass went: see the docs'
performance page.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_mock import MockerFixture

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from tests.support.api import Api, running_api
from tests.support.db import Conn, add_sites
from webmon.api.pages import encode_cursor
from webmon.core.keys import key_hash

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as api:
        yield api


@pytest.fixture
def site_ids(db: Conn) -> list[int]:
    ids = add_sites(db, 6)
    db.execute(
        "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms,"
        " status_code, up, error) SELECT id, url, now() - interval '1 min', now(),"
        " 12.5, CASE WHEN id %% 2 = 0 THEN 200 ELSE 503 END, id %% 2 = 0, NULL"
        " FROM sites WHERE id = ANY(%s)",
        (ids[:4],),
    )
    db.execute("UPDATE sites SET enabled = false, headers = '{\"X-A\": \"b\"}' WHERE id = %s",
               (ids[4],))  # fmt: skip
    db.execute(
        "INSERT INTO site_auth (site_id, kind, username, sealed)"
        " VALUES (%s, 'basic', 'bob', decode(repeat('00', 40), 'hex'))",
        (ids[5],),
    )
    return ids


def get(api: Api, path: str, headers: dict[str, str], status: int = 200) -> Any:
    answer = api.client.get(path, headers=headers)
    assert answer.status_code == status, (path, answer.text)
    expected = "application/json" if status == 200 else "application/problem+json"
    assert answer.headers["content-type"] == expected, path
    return answer


def test_valid_reads(api: Api, site_ids: list[int], db: Conn) -> None:
    first = get(api, "/api/v1/sites?limit=2", api.read)
    assert [s["id"] for s in first.json()] == site_ids[:2]
    link = first.headers["link"]
    assert link.startswith("<http://testserver/api/v1/sites?limit=2&cursor=")
    second = link[1 : link.index(">")].removeprefix("http://testserver")
    page = get(api, second, api.read).json()
    assert [s["id"] for s in page] == site_ids[2:4]
    expected = {
        "": site_ids, "?state=up": [site_ids[1], site_ids[3]],
        "?state=down": [site_ids[0], site_ids[2]], "?state=unchecked": site_ids[4:],
        "?enabled=false": [site_ids[4]], "?enabled=true&state=up": [site_ids[1], site_ids[3]],
        "?q=127.0.0.1": site_ids, "?q=nothing-like-this": [], "?limit=500": site_ids,
        f"?cursor={encode_cursor([site_ids[3]])}": site_ids[4:], "?cursor=": site_ids,
    }  # fmt: skip
    for query, ids in expected.items():
        assert [s["id"] for s in get(api, f"/api/v1/sites{query}", api.read).json()] == ids, query
    every = get(api, "/api/v1/sites", api.admin).json()
    assert every[5]["auth"] == {"kind": "basic", "username": "bob"}
    assert every[4]["headers"] == {"X-A": "b"} and every[4]["status"] is None
    assert [s["status"]["up"] for s in every[:4]] == [s["id"] % 2 == 0 for s in every[:4]]
    # One site reads as it does in a page.
    assert get(api, f"/api/v1/sites/{site_ids[5]}", api.read).json() == every[5]
    for since in ("", "?since=1h", "?since=30d", "?since=1y"):
        body = get(api, f"/api/v1/sites/{site_ids[0]}/uptime{since}", api.read).json()
        assert set(body) == {"since", "region", "checks", "up_checks", "uptime_pct", "missed",
                             "p50_ms", "p95_ms"}  # fmt: skip
        assert body["since"] == (since.removeprefix("?since=") or "24h")

    metrics = api.client.get("/metrics", headers=api.read).text
    assert 'route="/api/v1/sites",status="200"' in metrics.replace('method="GET",', "")
    assert 'route="/api/v1/sites/{site_id}/uptime"' in metrics


def test_whatever_is_wrong_gets_fastapis_answer(api: Api, site_ids: list[int], db: Conn) -> None:
    bad_queries = ("?limit=0", "?limit=abc", "?limit=", "?limit=1000000", "?limit=-1",
                   "?state=sideways", "?state=", "?enabled=maybe", "?q=",
                   "?q=" + "x" * 201, "?q=a%00b", "?cursor=garbage",
                   f"?cursor={encode_cursor(['x'])}",
                   f"?cursor={encode_cursor([True])}")  # fmt: skip
    for query in bad_queries:
        body = get(api, f"/api/v1/sites{query}", api.read, 422).json()
        assert body["status"] == 422 and body["detail"], query
    missing = max(site_ids) + 1000
    get(api, f"/api/v1/sites/{missing}/uptime", api.read, 404)
    get(api, f"/api/v1/sites/{site_ids[0]}/uptime?since=2d", api.read, 422)
    get(api, "/api/v1/sites/0/uptime", api.read, 422)
    get(api, f"/api/v1/sites/{2**63}/uptime", api.read, 422)
    key = api.read["Authorization"].removeprefix("Bearer ")
    for value in (None, "Bearer wm_nope", f"Basic {key}", "Bearer "):
        headers = {} if value is None else {"Authorization": value}
        for path in ("/api/v1/sites", f"/api/v1/sites/{site_ids[0]}/uptime"):
            get(api, path, headers, 401)
    # A revoked key is refused (the cache forgets it on the notice).
    db.execute("UPDATE api_keys SET revoked_at = now() WHERE sha256 = %s", (key_hash(key),))
    api.client.app.state.core.keys.forget()  # type: ignore[attr-defined]
    get(api, "/api/v1/sites", api.read, 401)


def test_a_failed_read_runs_once(api: Api, site_ids: list[int], mocker: MockerFixture) -> None:
    """A query that fails is answered as failed, never sent again on another path."""
    fetch = mocker.patch.object(
        AsyncDatabase, "fetch", side_effect=DatabaseError("boom", sqlstate="XX000")
    )
    answer = api.client.get("/api/v1/sites", headers=api.read)
    assert (
        answer.status_code == 500 and answer.json()["detail"] == "the database refused the request"
    )
    assert fetch.call_count == 1
