"""webmon.api.fastpath answers GET /api/v1/sites and /uptime as FastAPI's routes do: the
same status, body, Link and content type for valid requests, and FastAPI's own answer for
everything it passes on (bad keys, bad parameters, a missing site)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_mock import MockerFixture

from tests.support.api import Api, running_api
from tests.support.db import Conn, add_sites
from webmon.api import fastpath
from webmon.api.pages import encode_cursor
from webmon.keys import key_hash

pytestmark = pytest.mark.integration


@pytest.fixture
def apis(db_url: str, db: Conn) -> Iterator[tuple[Api, Api]]:
    with (
        running_api(db_url, db) as fast,
        running_api(db_url, db, fast_reads=False) as routed,
    ):
        yield fast, routed


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


def same_answer(fast: Api, routed: Api, path: str, headers: dict[str, str]) -> Any:
    a = fast.client.get(path, headers=headers)
    b = routed.client.get(path, headers=headers)
    assert a.status_code == b.status_code, (path, a.text, b.text)
    assert a.headers["content-type"] == b.headers["content-type"], path
    assert a.headers.get("link") == b.headers.get("link"), path
    assert a.json() == b.json(), path
    return a


def test_valid_reads_are_answered_by_the_fast_path_as_by_the_routes(
    apis: tuple[Api, Api], site_ids: list[int], mocker: MockerFixture
) -> None:
    fast, routed = apis
    pages = mocker.spy(fastpath, "sites_page")
    uptimes = mocker.spy(fastpath, "uptime_of")
    first = same_answer(fast, routed, "/api/v1/sites?limit=2", fast.read)
    assert [s["id"] for s in first.json()] == site_ids[:2]
    link = first.headers["link"]
    assert link.startswith("<http://testserver/api/v1/sites?limit=2&cursor=")
    second = link[1 : link.index(">")].removeprefix("http://testserver")
    page = same_answer(fast, routed, second, fast.read).json()
    assert [s["id"] for s in page] == site_ids[2:4]
    for query in ("", "?state=up", "?state=down", "?state=unchecked", "?enabled=false",
                  "?enabled=true&state=up", "?q=127.0.0.1", "?q=nothing-like-this",
                  "?limit=500", f"?cursor={encode_cursor([site_ids[3]])}", "?cursor="):  # fmt: skip
        same_answer(fast, routed, f"/api/v1/sites{query}", fast.read)
    every = same_answer(fast, routed, "/api/v1/sites", fast.admin).json()
    assert every[5]["auth"] == {"kind": "basic", "username": "bob"}
    assert every[4]["headers"] == {"X-A": "b"} and every[4]["status"] is None
    assert [s["status"]["up"] for s in every[:4]] == [s["id"] % 2 == 0 for s in every[:4]]
    for since in ("", "?since=1h", "?since=30d", "?since=1y"):
        body = same_answer(fast, routed, f"/api/v1/sites/{site_ids[0]}/uptime{since}", fast.read)
        assert set(body.json()) == {"since", "checks", "up_checks", "uptime_pct", "missed",
                                    "p50_ms", "p95_ms"}  # fmt: skip
    assert pages.call_count == 14 and uptimes.call_count == 4

    metrics = fast.client.get("/metrics", headers=fast.read).text
    assert 'route="/api/v1/sites",status="200"' in metrics.replace('method="GET",', "")
    assert 'route="/api/v1/sites/{site_id}/uptime"' in metrics


def test_what_the_fast_path_does_not_take_gets_the_routes_answer(
    apis: tuple[Api, Api], site_ids: list[int], db: Conn
) -> None:
    fast, routed = apis
    bad_queries = ("?limit=0", "?limit=abc", "?limit=", "?limit=1000000", "?limit=-1",
                   "?state=sideways", "?state=", "?enabled=maybe", "?enabled=1", "?q=",
                   "?q=" + "x" * 201, "?q=a%00b", "?cursor=garbage",
                   f"?cursor={encode_cursor(['x'])}", f"?cursor={encode_cursor([True])}",
                   "?limit=1&limit=2", "?unknown=1")  # fmt: skip
    for query in bad_queries:
        same_answer(fast, routed, f"/api/v1/sites{query}", fast.read)
    missing = max(site_ids) + 1000
    for path in (f"/api/v1/sites/{missing}/uptime", f"/api/v1/sites/{site_ids[0]}/uptime?since=2d",
                 "/api/v1/sites/0/uptime", f"/api/v1/sites/{2**63}/uptime",
                 f"/api/v1/sites/{site_ids[0]}/uptime?since=1h&since=1y"):  # fmt: skip
        same_answer(fast, routed, path, fast.read)
    key = fast.read["Authorization"].removeprefix("Bearer ")
    for value in (None, "Bearer wm_nope", f"Basic {key}", f"bearer  {key} ", "Bearer "):
        headers = {} if value is None else {"Authorization": value}
        for path in ("/api/v1/sites", f"/api/v1/sites/{site_ids[0]}/uptime"):
            answer = same_answer(fast, routed, path, headers)
            assert answer.status_code in (200, 401)
    # A revoked key is refused by both (the cache forgets it on the notice).
    db.execute("UPDATE api_keys SET revoked_at = now() WHERE sha256 = %s", (key_hash(key),))
    fast.client.app.state.keys.forget()  # type: ignore[attr-defined]
    routed.client.app.state.keys.forget()  # type: ignore[attr-defined]
    assert same_answer(fast, routed, "/api/v1/sites", fast.read).status_code == 401
