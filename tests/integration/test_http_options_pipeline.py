"""Per-site HTTP options end to end: real scheduler and checker processes, broker and
PostgreSQL. A site's sealed auth goes from site_auth through the scheduler (which has no
key) and the task topic to the checker, which opens it: the target sees the credentials,
and the secret is in no log line, no site_status or check_results column, and not in
clear on the task topic. A restricted site is checked under the target policy."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from aiohttp import web
from psycopg import sql

from shared.sealing import SecretBox, new_key
from tests.support.aioserver import LoopServer
from tests.support.db import Conn
from tests.support.pipeline import check_every_site
from tests.support.processes import Process
from tests.support.services import Services
from tests.support.topics import read_all
from webmon.core.sites import QUERIES as SITES

pytestmark = pytest.mark.integration

SECRET = "pipeline-s3cret-7f3a9c"
BASIC = "Basic " + base64.b64encode(f"monitor:{SECRET}".encode()).decode()
BEARER = f"Bearer {SECRET}"


class Guarded(LoopServer):
    """200 for the right credentials (and a POST's body), 401 otherwise; keeps what came."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str | None, bytes]] = []

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization")
        self.seen.append((request.method, request.path, auth, body))
        wanted = {"/basic": BASIC, "/bearer": BEARER}.get(request.path)
        if wanted is not None and auth != wanted:
            return web.Response(status=401, text="who are you?")
        if request.path == "/post" and body != b'{"ping": 1}':
            return web.Response(status=400, text="no body")
        if request.path == "/maintenance":
            return web.Response(text="down for maintenance", headers={"X-State": "degraded"})
        return web.Response(text="all good", headers={"X-State": "ok"})


def test_options_and_sealed_auth_through_the_pipeline(
    env: dict[str, str],
    services: Services,
    db: Conn,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    key = new_key()
    box = SecretBox(key)
    with Guarded() as target:
        base = f"http://127.0.0.1:{target.port}"
        sites = {
            "basic": ("/basic", {"method": "GET"}),
            "bearer": ("/bearer", {"method": "GET"}),
            "post": ("/post", {"method": "POST", "body": '{"ping": 1}',
                               "body_content_type": "application/json"}),
            "absent": ("/maintenance", {"regex": "maintenance", "regex_mode": "absent"}),
            "header": ("/maintenance", {"header_name": "X-State", "header_regex": "degraded",
                                        "header_mode": "not_match"}),
            "require_tls": ("/", {"require_tls": True}),
            # An API site: claim_due carries `restricted` (it did not before 0013), so the
            # target policy refuses loopback.
            "restricted": ("/", {"restricted": True}),
        }  # fmt: skip
        ids: dict[str, int] = {}
        for name, (path, columns) in sites.items():
            insert = sql.SQL(
                "INSERT INTO sites (url, interval_seconds, next_check_at, {}) "
                "VALUES (%s, 30, now(), {}) RETURNING id"
            ).format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                sql.SQL(", ").join(sql.Placeholder() for _ in columns),
            )
            row = db.execute(insert, (f"{base}{path}?site={name}", *columns.values())).fetchone()
            assert row is not None
            ids[name] = row[0]
        for name, username in (("basic", "monitor"), ("bearer", None)):
            kind = name
            sealed = box.seal(ids[name], kind, username, SECRET)
            db.execute(
                SITES["set_site_auth"],
                {"site_id": ids[name], "kind": kind, "username": username, "sealed": sealed},
            )

        debug = {"WEBMON_LOG_LEVEL": "DEBUG"}
        scheduler, checker = check_every_site(
            processes, db, len(sites), tmp_path,
            checker_env={**env, **debug, "WEBMON_SECRET_KEY": key},
            scheduler_env={**env, **debug},
        )  # fmt: skip

    rows = db.execute("SELECT site_id, up, status_code, error FROM site_status").fetchall()
    status = {site_id: tuple(rest) for site_id, *rest in rows}
    assert status[ids["basic"]] == (True, 200, None), status
    assert status[ids["bearer"]] == (True, 200, None)
    assert status[ids["post"]] == (True, 200, None)
    assert status[ids["absent"]] == (False, 200, None)
    assert status[ids["header"]] == (False, 200, "header_check")
    assert status[ids["require_tls"]] == (False, 200, "tls_required")
    assert status[ids["restricted"]] == (False, None, "blocked")
    auths = {path: auth for _, path, auth, _ in target.seen}
    assert (auths["/basic"], auths["/bearer"]) == (BASIC, BEARER)
    assert ("POST", "/post", None, b'{"ping": 1}') in target.seen

    # Nowhere in clear: the tables that hold results, the logs, the task topic.
    encoded = base64.b64encode(f"monitor:{SECRET}".encode()).decode()
    stored = db.execute(
        "SELECT string_agg(row_to_json(s)::text, ' ') FROM site_status s"
    ).fetchone()
    results = db.execute(
        "SELECT string_agg(row_to_json(r)::text, ' ') FROM check_results r"
    ).fetchone()
    logs = scheduler.output + checker.output
    assert stored is not None and results is not None and logs
    for text in (str(stored[0]), str(results[0]), logs):
        assert SECRET not in text and encoded not in text
    tasks = read_all(services.kafka_bootstrap, env["WEBMON_TASKS_TOPIC"])
    carried = [m.value() or b"" for m in tasks if b'"auth"' in (m.value() or b"")]
    assert len(carried) >= 2  # both auth sites' tasks, sealed
    assert not any(SECRET.encode() in v or encoded.encode() in v for v in carried)
