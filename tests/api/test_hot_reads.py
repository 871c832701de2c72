"""The two reads a dashboard or a script makes most, `GET /api/v1/sites` and
`GET /api/v1/sites/{id}/uptime`: their pages, filters and bodies, answered by
webmon.api.hot_reads exactly as by the plain routes (a twin app without it answers each
request too); what the shortcut's parsers refuse goes on to FastAPI before any query ran;
the metrics count both under their route templates; a failed query runs once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pytest_mock import MockerFixture

from shared.db import AsyncDatabase
from shared.errors import DatabaseError, DatabaseUnavailable
from tests.support.api import Api, running_api
from tests.support.db import Conn, add_sites
from webmon.api import hot_reads
from webmon.api.pages import encode_cursor
from webmon.core.history import History
from webmon.core.keys import key_hash

pytestmark = pytest.mark.integration


@pytest.fixture
def apis(db_url: str, db: Conn) -> Iterator[tuple[Api, Api]]:
    with running_api(db_url, db) as hot, running_api(db_url, db, hot_reads=False) as routed:
        yield hot, routed


@pytest.fixture
def api(apis: tuple[Api, Api]) -> Api:
    return apis[0]


@pytest.fixture
def taken(mocker: MockerFixture) -> Any:
    """How many requests the shortcut answered, by route."""
    return mocker.spy(hot_reads, "sites_page"), mocker.spy(hot_reads, "uptime_of")


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


def same(apis: tuple[Api, Api], path: str, scope: str = "read", status: int = 200) -> Any:
    """The shortcut's answer, checked against the plain route's: status, body, Link."""
    hot, routed = apis
    answer = get(hot, path, getattr(hot, scope), status)
    twin = get(routed, path, getattr(routed, scope), status)
    assert answer.json() == twin.json(), path
    assert answer.headers.get("link") == twin.headers.get("link"), path
    return answer


def test_valid_reads_are_the_shortcuts_and_answered_as_the_routes_answer(
    apis: tuple[Api, Api], site_ids: list[int], taken: Any
) -> None:
    api = apis[0]
    first = same(apis, "/api/v1/sites?limit=2")
    assert [s["id"] for s in first.json()] == site_ids[:2]
    link = first.headers["link"]
    assert link.startswith("<http://testserver/api/v1/sites?limit=2&cursor=")
    second = link[1 : link.index(">")].removeprefix("http://testserver")
    page = same(apis, second).json()
    assert [s["id"] for s in page] == site_ids[2:4]
    expected = {
        "": site_ids, "?state=up": [site_ids[1], site_ids[3]],
        "?state=down": [site_ids[0], site_ids[2]], "?state=unchecked": site_ids[4:],
        "?enabled=false": [site_ids[4]], "?enabled=true&state=up": [site_ids[1], site_ids[3]],
        "?q=127.0.0.1": site_ids, "?q=nothing-like-this": [], "?limit=500": site_ids,
        f"?cursor={encode_cursor([site_ids[3]])}": site_ids[4:], "?cursor=": site_ids,
    }  # fmt: skip
    for query, ids in expected.items():
        assert [s["id"] for s in same(apis, f"/api/v1/sites{query}").json()] == ids, query
    every = same(apis, "/api/v1/sites", "admin").json()
    assert every[5]["auth"] == {"kind": "basic", "username": "bob"}
    assert every[4]["headers"] == {"X-A": "b"} and every[4]["status"] is None
    assert [s["status"]["up"] for s in every[:4]] == [s["id"] % 2 == 0 for s in every[:4]]
    # One site reads as it does in a page.
    assert get(api, f"/api/v1/sites/{site_ids[5]}", api.read).json() == every[5]
    for since in ("", "?since=1h", "?since=30d", "?since=1y"):
        body = same(apis, f"/api/v1/sites/{site_ids[0]}/uptime{since}").json()
        assert set(body) == {"since", "region", "checks", "up_checks", "uptime_pct", "missed",
                             "p50_ms", "p95_ms", "by_quorum", "quorum_from", "regions",
                             "advisories"}  # fmt: skip
        assert body["since"] == (since.removeprefix("?since=") or "24h")
        # A site checked from one region: its checks, nothing beside them.
        assert [body[k] for k in ("by_quorum", "quorum_from", "regions", "advisories")] == [
            False, None, [], [],
        ]  # fmt: skip
    assert same(apis, f"/api/v1/sites/{site_ids[0]}/uptime?region=default").json()["region"]
    sites_pages, uptimes = taken
    assert (sites_pages.call_count, uptimes.call_count) == (14, 5)

    metrics = api.client.get("/metrics", headers=api.read).text
    assert 'route="/api/v1/sites",status="200"' in metrics.replace('method="GET",', "")
    assert 'route="/api/v1/sites/{site_id}/uptime"' in metrics


def test_whatever_is_wrong_gets_the_routes_answer(
    apis: tuple[Api, Api], site_ids: list[int], db: Conn, taken: Any
) -> None:
    # Refused by the parsers the route and the shortcut share: FastAPI answers, no query ran.
    parsed_out = ("?limit=0", "?limit=abc", "?limit=", "?limit=1000000", "?limit=-1",
                  "?state=sideways", "?state=", "?enabled=maybe", "?q=", "?q=" + "x" * 201,
                  "?tag=")  # fmt: skip
    # Taken, then refused by the answer itself before its query: the app's own handler.
    refused_inside = ("?q=a%00b", "?cursor=garbage", f"?cursor={encode_cursor(['x'])}",
                      f"?cursor={encode_cursor([True])}")  # fmt: skip
    for query in parsed_out + refused_inside:
        body = same(apis, f"/api/v1/sites{query}", status=422).json()
        assert body["status"] == 422 and body["detail"], query
    # A repeated parameter is FastAPI's to decide (the last one counts).
    assert len(same(apis, "/api/v1/sites?limit=1&limit=2").json()) == 2
    missing = max(site_ids) + 1000
    same(apis, f"/api/v1/sites/{missing}/uptime", status=404)
    for path in (f"/api/v1/sites/{site_ids[0]}/uptime?since=2d", "/api/v1/sites/0/uptime",
                 f"/api/v1/sites/{2**63}/uptime", "/api/v1/sites/x/uptime",
                 f"/api/v1/sites/{site_ids[0]}/uptime?region=Not%20One"):  # fmt: skip
        same(apis, path, status=422)
    sites_pages, uptimes = taken
    assert (sites_pages.call_count, uptimes.call_count) == (len(refused_inside), 1)
    api = apis[0]
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


def test_a_failed_uptime_read_runs_once(
    api: Api, site_ids: list[int], mocker: MockerFixture
) -> None:
    uptime = mocker.patch.object(
        History, "uptime", side_effect=DatabaseUnavailable("connection refused")
    )
    answer = api.client.get(f"/api/v1/sites/{site_ids[0]}/uptime?since=7d", headers=api.read)
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert answer.headers["content-type"] == "application/problem+json"
    uptime.assert_called_once_with(site_ids[0], timedelta(days=7), None)
