"""The HTTP API against a real PostgreSQL: auth, sites, history, task acceptance, errors."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.api import Api, bearer, make_key, running_api
from tests.support.db import Conn, add_sites, count, scalar
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as a:
        yield a


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


# --- auth --------------------------------------------------------------------------------


def test_no_route_but_healthz_answers_without_a_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    openapi = api.client.get("/api/v1/openapi.json").json()
    paths = [
        path.replace("{site_id}", "1").replace("{task_id}", str(uuid.uuid4()))
        for path in openapi["paths"]
        if path != "/healthz"
    ]
    assert len(paths) >= 8
    for path in [*paths, "/metrics"]:
        response = api.client.get(path)
        if response.status_code != 405:  # POST-only paths
            body = problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), body


def test_keys_wrong_revoked_and_short_of_scope(api: Api, db: Conn, db_url: str) -> None:
    assert api.client.get("/api/v1/sites", headers=bearer("wm_nope")).status_code == 401
    assert api.get("/api/v1/sites").status_code == 200
    # A read key may not submit: 403.
    body = problem(
        api.client.post("/api/v1/tasks", json={"name": "x", "url": "http://127.0.0.1:9/"},
                        headers=api.read), 403,
    )  # fmt: skip
    assert "scope is read" in body["detail"]
    # Revoked with the CLI: refused from then on (the API drops its cache on the notice).
    key = make_key(db, "read", name="to-revoke")
    assert api.client.get("/api/v1/sites", headers=bearer(key)).status_code == 200
    revoked = subprocess.run(
        [sys.executable, "-m", "webmon", "keys", "revoke", "to-revoke"],
        env={"WEBMON_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert revoked.returncode == 0, revoked.stderr
    wait_for(
        lambda: api.client.get("/api/v1/sites", headers=bearer(key)).status_code == 401,
        timeout_s=10,
        what="the revoked key to be refused",
    )
    # Only a hash is stored: the key itself is nowhere in the table.
    stored = db.execute("SELECT name, prefix, sha256::text FROM api_keys").fetchall()
    assert all(key not in " ".join(map(str, row)) for row in stored)
    assert len(key) > 40


def test_keys_create_prints_the_key_as_its_last_line(db_url: str, db: Conn) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "webmon", "keys", "create", "--name", "ci", "--scope", "write"],
        env={"WEBMON_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.splitlines()[-1]
    assert key.startswith("wm_")
    assert scalar(db, "SELECT scope FROM api_keys WHERE name = 'ci'") == "write"
    listed = subprocess.run(
        [sys.executable, "-m", "webmon", "keys", "list"],
        env={"WEBMON_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ci" in listed.stdout and key not in listed.stdout


# --- sites -------------------------------------------------------------------------------


def test_create_read_change_delete_a_site(api: Api, db: Conn) -> None:
    created = api.post("/api/v1/sites", {"url": "http://127.0.0.1:9/a", "interval_seconds": 30})
    assert created.status_code == 201, created.text
    site = created.json()
    assert created.headers["location"] == f"/api/v1/sites/{site['id']}"
    assert (site["interval_seconds"], site["timeout_seconds"], site["restricted"]) == (30, 10, True)
    assert site["status"] is None and site["expected_status"] == [[200, 400]]
    changed = api.client.patch(
        f"/api/v1/sites/{site['id']}",
        json={"regex": "ok", "expected_status": [[200, 300], [404, 405]], "enabled": False},
        headers=api.write,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["regex"], changed.json()["enabled"]) == ("ok", False)
    assert changed.json()["expected_status"] == [[200, 300], [404, 405]]
    assert api.get(f"/api/v1/sites/{site['id']}").json() == changed.json()
    assert api.client.delete(f"/api/v1/sites/{site['id']}", headers=api.write).status_code == 204
    problem(api.get(f"/api/v1/sites/{site['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "constraint"),
    [
        ({"url": "ftp://x"}, "sites_url_form"),
        ({"url": "https://exa mple.com"}, "sites_url_no_whitespace"),
        ({"url": "https://user:pw@example.com"}, "sites_url_no_userinfo"),
        ({"url": "https://a.example/" + "a" * 2100}, None),  # refused by the model: 422
        ({"url": "https://a.example", "interval_seconds": 5, "timeout_seconds": 9},
         "sites_timeout_within_interval"),
        ({"url": "https://a.example", "method": "HEAD", "regex": "x"}, "sites_head_without_regex"),
        ({"url": "https://a.example", "headers": {"Connection": "close"}}, "sites_headers_valid"),
        ({"url": "https://a.example", "expected_status": [[600, 700]]}, None),
        ({"url": "http://127.0.0.2/"}, None),  # a blocked address: the target policy
        ({"url": "tcp://db.example"}, "sites_url_form"),  # no port
        ({"url": "dns://1.1.1.1"}, "sites_url_form"),  # no name to resolve
        ({"url": "tcp://db.example:5432", "method": "HEAD"}, "sites_http_options"),
        ({"url": "tls://db.example", "regex": "x"}, "sites_tls_without_regex"),
        ({"url": "tcp://127.0.0.2:5432"}, None),  # blocked, whatever the kind
        ({"url": "dns://127.0.0.2/example.com"}, None),  # a blocked resolver
        ({"url": "http://[::1]:8080/"}, None),
        ({"url": "https://a.example", "surprise": 1}, None),
        ({"url": "https://a.example", "regex": "(unclosed"}, None),  # RE2 refuses it
        ({"url": "https://a.example/\u0000"}, None),  # PostgreSQL's text cannot hold NUL
    ],
)  # fmt: skip
def test_every_bad_site_is_a_422_that_names_what_is_wrong(
    api: Api, db: Conn, body: dict[str, Any], constraint: str | None
) -> None:
    found = problem(api.post("/api/v1/sites", body), 422)
    if constraint is not None:
        assert found["constraint"] == constraint
        assert constraint in found["detail"]
    assert count(db, "SELECT count(*) FROM sites") == 0


def test_sites_and_tasks_of_every_kind_are_accepted_and_restricted(api: Api, db: Conn) -> None:
    # A dns:// site from the API names its resolver (issue 25): one the policy allows.
    urls = ["tcp://db.example:5432?send=PING%0D%0A", "tls://example.com",
            "dns://127.0.0.1/example.com"]  # fmt: skip
    for url in urls:
        created = api.post("/api/v1/sites", {"url": url})
        assert created.status_code == 201, created.text
        assert created.json()["url"] == url
    rows = db.execute("SELECT url, restricted FROM sites ORDER BY id").fetchall()
    assert rows == [(url, True) for url in urls]
    task = api.post("/api/v1/tasks", {"name": "dns", "url": "dns://127.0.0.1:53/example.com"})
    assert task.status_code == 202, task.text


def test_a_bulk_import_with_one_bad_item_stores_nothing_and_names_it(api: Api, db: Conn) -> None:
    items = [{"url": f"https://site-{n}.example/"} for n in range(5)]
    items[3] = {"url": "https://site-3.example/", "interval_seconds": 2, "timeout_seconds": 5}
    found = problem(api.post("/api/v1/sites/bulk", items), 422)
    assert (found["item"], found["constraint"]) == (3, "sites_timeout_within_interval")
    assert "item 3" in found["detail"]
    assert count(db, "SELECT count(*) FROM sites") == 0
    items[3] = {"url": "https://site-3.example/"}
    stored = api.post("/api/v1/sites/bulk", items)
    assert stored.status_code == 201, stored.text
    ids = stored.json()["ids"]
    urls = db.execute("SELECT id, url FROM sites ORDER BY id").fetchall()
    assert [u for _, u in urls] == [i["url"] for i in items] and [i for i, _ in urls] == ids


def test_list_filters_and_pages_by_link(api: Api, db: Conn, db_url: str) -> None:
    ids = add_sites(db, 7)
    db.execute("UPDATE sites SET enabled = false WHERE id = %s", (ids[6],))
    slot = datetime.now(UTC) - timedelta(minutes=1)
    rows = [
        CheckResult(site_id=site, url="http://x", scheduled_at=slot, checked_at=slot,
                        status_code=200 if n % 2 else 500, up=bool(n % 2), response_time_ms=5.0)
        for n, site in enumerate(ids[:4])
    ]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, rows)
    seen: list[int] = []
    url = "/api/v1/sites?limit=3"
    while url:
        page = api.get(url)
        assert page.status_code == 200 and len(page.json()) <= 3
        seen += [s["id"] for s in page.json()]
        link = page.headers.get("link")
        url = link.split(";")[0].strip("<>").replace("http://testserver", "") if link else ""
    assert seen == ids
    by_state = {
        state: [s["id"] for s in api.get(f"/api/v1/sites?state={state}").json()]
        for state in ("up", "down", "unchecked")
    }
    assert by_state == {"up": [ids[1], ids[3]], "down": [ids[0], ids[2]], "unchecked": ids[4:]}
    assert [s["id"] for s in api.get("/api/v1/sites?enabled=false").json()] == [ids[6]]
    assert [s["id"] for s in api.get(f"/api/v1/sites?q=n={ids[5] - ids[0] + 1}").json()] in (
        [ids[5]],
        [],
    )
    summary = api.get("/api/v1/status/summary").json()
    assert summary == {"up": 2, "down": 2, "unchecked": 2, "disabled": 1}
    problem(api.get("/api/v1/sites?cursor=garbage!"), 422)


def test_history_endpoints(api: Api, db: Conn, db_url: str) -> None:
    (site,) = add_sites(db, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        CheckResult(site_id=site, url="http://x", scheduled_at=now - timedelta(minutes=m),
                        checked_at=now - timedelta(minutes=m), status_code=200 if m % 4 else 500,
                        up=bool(m % 4), response_time_ms=float(m))
        for m in range(1, 11)
    ]  # fmt: skip
    with Database(db_url) as database:
        write_results(database, rows)
    first = api.get(f"/api/v1/sites/{site}/results?limit=4")
    assert [r["response_time_ms"] for r in first.json()] == [1.0, 2.0, 3.0, 4.0]
    nxt = first.headers["link"].split(";")[0].strip("<>").replace("http://testserver", "")
    assert [r["response_time_ms"] for r in api.get(nxt).json()] == [5.0, 6.0, 7.0, 8.0]
    uptime = api.get(f"/api/v1/sites/{site}/uptime?since=24h").json()
    assert (uptime["checks"], uptime["up_checks"], uptime["missed"]) == (10, 8, 0)
    assert uptime["uptime_pct"] == pytest.approx(80.0)
    assert uptime["p50_ms"] == pytest.approx(5.5)
    series = api.get(f"/api/v1/sites/{site}/series?since=24h&step=hour").json()
    assert sum(series["checks"]) == 10 and len(series["t"]) == len(series["p95_ms"])
    events = api.get(f"/api/v1/sites/{site}/events").json()
    assert events[-1]["from_up"] is None  # the site's first check, the oldest event
    assert len(events) == count(db, "SELECT count(*) FROM site_events")
    problem(api.get("/api/v1/sites/999999/uptime"), 404)
    problem(api.get(f"/api/v1/sites/{site}/uptime?since=2w"), 422)


# --- task acceptance -----------------------------------------------------------------------


def test_a_task_is_accepted_listed_and_its_idempotency_key_kept(api: Api, db: Conn) -> None:
    body = {"name": "ok", "url": "http://127.0.0.1:9/ok", "regex": "fine"}
    first = api.post("/api/v1/tasks", body, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == 202, first.text
    task_id = first.json()["task_id"]
    assert first.json() == {
        "task_id": task_id,
        "tasks": [{"task_id": task_id, "region": "default"}],
    }
    again = api.post("/api/v1/tasks", body, headers={"Idempotency-Key": "retry-1"})
    assert again.json() == first.json()
    other = dict(body, url="http://127.0.0.1:9/other")
    problem(api.post("/api/v1/tasks", other, headers={"Idempotency-Key": "retry-1"}), 409)
    assert count(db, "SELECT count(*) FROM tasks") == 1
    task = api.get(f"/api/v1/tasks/{task_id}").json()
    assert (task["status"], task["status_name"], task["result"]) == (1, "NEW", None)
    assert (task["region"], task["request_id"]) == ("default", task_id)
    assert [t["task_id"] for t in api.get("/api/v1/tasks?status=NEW").json()] == [task_id]
    assert api.get("/api/v1/tasks?status=COMPLETED").json() == []
    problem(api.get(f"/api/v1/tasks/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "http://127.0.0.1:9/", "regex": "(unclosed"}, "regex"),
        ({"name": "x", "url": "http://127.0.0.2:9/"}, "url"),
        ({"name": "x\u0000", "url": "http://127.0.0.1:9/"}, "NUL"),  # text cannot hold it
        ({"name": "x", "url": "http://[::ffff:127.0.0.2]/"}, "url"),
        ({"name": "", "url": "http://127.0.0.1:9/"}, "name"),
        ({"name": "x", "url": "http://127.0.0.1:9/", "timeout_seconds": 61}, "timeout_seconds"),
        ({"name": "x", "url": "gopher://127.0.0.1/"}, None),
        ({"name": "x", "url": "tcp://127.0.0.2:22"}, "url"),
        ({"name": "x", "url": "dns://127.0.0.2/example.com"}, "url"),
        ({"name": "x", "url": "tls://127.0.0.1:1", "regex": "x"}, None),
        ({"name": "x", "url": "tcp://127.0.0.1:1", "headers": {"A": "b"}}, None),
    ],
)
def test_a_task_that_cannot_be_checked_is_refused_at_once(
    api: Api, db: Conn, body: dict[str, Any], field: str | None
) -> None:
    found = problem(api.post("/api/v1/tasks", body), 422)
    if field is not None:
        assert field in found["detail"]
    assert count(db, "SELECT count(*) FROM tasks") == 0


def test_limits_per_key_answer_429_with_retry_after(db_url: str, db: Conn) -> None:
    with running_api(db_url, db, tasks_in_flight=3, tasks_per_minute=5) as api:
        body = {"name": "x", "url": "http://127.0.0.1:9/"}
        assert [api.post("/api/v1/tasks", body).status_code for _ in range(3)] == [202] * 3
        full = api.post("/api/v1/tasks", body)
        assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
        assert "in flight" in full.json()["detail"]
        # Finished tasks free their places; the minute's budget still counts them.
        db.execute("UPDATE tasks SET status = 3, finished_at = now()")
        assert [api.post("/api/v1/tasks", body).status_code for _ in range(2)] == [202] * 2
        limited = api.post("/api/v1/tasks", body)
        assert limited.status_code == 429 and "last minute" in limited.json()["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Another key has its own budget.
        other = bearer(make_key(db, "write"))
        assert api.client.post("/api/v1/tasks", json=body, headers=other).status_code == 202
