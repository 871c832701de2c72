"""Check fidelity end to end: real scheduler and checker processes, broker and PostgreSQL.

Sites with the new options (method, headers, expected statuses) go through the task topic,
the probe and the result topic into `check_results` and `site_status` with the new
columns; and one checker keeps 500 healthy sites on schedule beside 500 hanging ones.
"""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from devstack.localstack import free_port
from tests.support.db import Conn, scalar
from tests.support.pipeline import check_every_site
from tests.support.processes import Process, start, wait_for
from tests.support.services import Services
from tests.support.targets import Targets
from tests.support.topics import read_all

pytestmark = pytest.mark.integration


# --- the new columns, end to end ------------------------------------------------------

DETAILS = sql.SQL(
    "SELECT status_code, error, error_detail, up, regex_matched, response_time_ms, dns_ms,"
    "       connect_ms, tls_ms, ttfb_ms, redirects, tls_version, tls_expires_at"
    "  FROM {} WHERE site_id = %s"
)


def test_check_details_land_in_check_results_and_site_status(
    env: dict[str, str], db: Conn, targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/"
    sites: dict[str, tuple[str, dict[str, Any]]] = {
        # name: (url, other columns)
        "tls": (targets.url("/ok", tls="valid"), {"regex": "hello"}),
        "expired": (targets.url("/ok", tls="expired"), {}),
        "redirects": (targets.url("/redirect/3"), {}),
        "loop": (targets.url("/loop"), {}),
        # The site's own limit, through the scheduler's claim and the task to the probe.
        "six_hops_limit_5": (targets.url("/redirect/6"), {"max_redirects": 5}),
        "six_hops": (targets.url("/redirect/6"), {}),
        "cookie": (targets.url("/cookies/set?k=v"), {"regex": '"k": "v"'}),
        "https_to_http": (targets.url(f"/to?url={quote(targets.url('/ok'))}", tls="valid"), {}),
        "expected_404": (targets.url("/status/404"), {"expected_status": "{[200,300),[404,404]}"}),
        "unexpected_200": (targets.url("/ok"), {"expected_status": "{[500,600)}"}),
        "head": (targets.url("/head-only"), {"method": "HEAD"}),
        "headers": (
            targets.url("/headers"),
            {"headers": Jsonb({"X-Webmon-Test": "e2e"}), "regex": "(?m)^X-Webmon-Test: e2e$"},
        ),
        "hostname": (targets.url("/ok").replace("127.0.0.1", "localhost"), {}),
        "timeout": (targets.url("/slow-headers?seconds=3"), {"timeout_seconds": 1}),
        "refused": (refused, {}),
        "dns": ("http://webmon-test.invalid/", {}),
        # What a browser would say: a br body, a late match in a 2 MiB page, a 100 KB
        # header field, and the hop a redirect failed at.
        "br": (targets.url("/encoded?coding=br"), {"regex": "webmon, encoded"}),
        "late_match": (targets.url("/big?mb=2&match=end"), {"regex": "MATCHME"}),
        "big_field": (targets.url("/large-head?kb=100&fields=1"), {}),
        "redirect_refused": (targets.url(f"/to?url={quote(refused)}"), {}),
    }
    ids: dict[str, int] = {}
    for name, (url, extra) in sites.items():
        names = ["url", "interval_seconds", "next_check_at", *extra]
        values = [url, 60, datetime.now(UTC), *extra.values()]
        query = sql.SQL("INSERT INTO sites ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() for _ in values),
        )
        ids[name] = scalar(db, query, *values)

    # The checker trusts the targets' CA through OpenSSL's default verify paths.
    checker_env = {**env, "SSL_CERT_FILE": str(targets.ca_pem)}
    check_every_site(
        processes, db, len(sites), tmp_path, checker_env=checker_env, scheduler_env=env,
        timeout_s=60,
    )  # fmt: skip

    rows: dict[str, dict[str, Any]] = {}
    for name, site_id in ids.items():
        cursor = db.execute(
            DETAILS.format(sql.Identifier("check_results")),
            (site_id,),
        )
        found = cursor.fetchall()
        assert len(found) == 1, (name, found)
        assert cursor.description is not None
        rows[name] = dict(zip([c.name for c in cursor.description], found[0], strict=True))
        status = db.execute(
            DETAILS.format(sql.Identifier("site_status")),
            (site_id,),
        ).fetchone()
        assert status == found[0], name

    tls = rows["tls"]
    assert (tls["up"], tls["status_code"], tls["regex_matched"]) == (True, 200, True), tls
    assert tls["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["tls_expires_at"] == targets.valid_not_after
    assert tls["connect_ms"] > 0 and tls["tls_ms"] > 0 and tls["dns_ms"] is None
    assert tls["connect_ms"] + tls["tls_ms"] <= tls["ttfb_ms"] <= tls["response_time_ms"]
    assert tls["redirects"] == 0

    expired = rows["expired"]
    assert (expired["up"], expired["error"]) == (False, "tls"), expired
    assert "expired" in expired["error_detail"]
    assert (expired["tls_version"], expired["tls_ms"]) == (None, None)

    assert (rows["redirects"]["up"], rows["redirects"]["redirects"]) == (True, 3)
    loop = rows["loop"]
    assert (loop["error"], loop["redirects"], loop["up"]) == ("too_many_redirects", 10, False)
    limited = rows["six_hops_limit_5"]
    assert (limited["error"], limited["redirects"], limited["up"]) == (
        "too_many_redirects",
        5,
        False,
    )
    assert (rows["six_hops"]["up"], rows["six_hops"]["redirects"]) == (True, 6)
    cookie = rows["cookie"]
    assert (cookie["up"], cookie["regex_matched"], cookie["redirects"]) == (True, True, 1)
    https_to_http = rows["https_to_http"]
    assert (https_to_http["up"], https_to_http["redirects"]) == (True, 1), https_to_http
    assert https_to_http["tls_expires_at"] == targets.valid_not_after

    assert (rows["expected_404"]["status_code"], rows["expected_404"]["up"]) == (404, True)
    assert (rows["unexpected_200"]["status_code"], rows["unexpected_200"]["up"]) == (200, False)
    assert rows["unexpected_200"]["error"] is None

    head = rows["head"]  # /head-only answers a GET with 405
    assert (head["status_code"], head["up"], head["regex_matched"]) == (200, True, None), head
    assert (rows["headers"]["up"], rows["headers"]["regex_matched"]) == (True, True)

    hostname = rows["hostname"]
    assert hostname["up"] and hostname["dns_ms"] > 0 and hostname["connect_ms"] > 0

    timeout = rows["timeout"]
    assert (timeout["error"], timeout["response_time_ms"], timeout["ttfb_ms"]) == (
        "timeout",
        None,
        None,
    )
    assert timeout["connect_ms"] > 0
    assert (rows["refused"]["error"], rows["refused"]["connect_ms"]) == ("connect", None)
    assert (rows["dns"]["error"], rows["dns"]["dns_ms"]) == ("dns", None)

    br = rows["br"]
    assert (br["up"], br["status_code"], br["regex_matched"], br["error"]) == (
        True,
        200,
        True,
        None,
    )
    late = rows["late_match"]
    assert (late["up"], late["regex_matched"], late["error_detail"]) == (True, True, None), late
    assert (rows["big_field"]["up"], rows["big_field"]["status_code"]) == (True, 200)
    hop = rows["redirect_refused"]
    refused_at = refused.removeprefix("http://").rstrip("/")
    assert (hop["error"], hop["redirects"]) == ("connect", 1), hop
    assert hop["error_detail"] == f"cannot connect to {refused_at} (redirect 1): Connection refused"


# --- 500 hanging sites beside 500 healthy ones ----------------------------------------

HEALTHY = 500
HANGING = 500
HEALTHY_INTERVAL_S = 3
HANGING_INTERVAL_S = 60
# Hanging sites time out after 2, 2.5, 3, 3.5 or 4 s: each on its own deadline.
HANGING_TIMEOUTS = (2.0, 2.5, 3.0, 3.5, 4.0)
ROUNDS = 4  # healthy rounds to watch


def test_hanging_sites_do_not_hold_up_healthy_ones(
    env: dict[str, str],
    services: Services,
    db: Conn,
    targets: Targets,
    processes: list[Process],
    tmp_path: Path,
) -> None:
    checker = start(processes, "checker", env, "checker", tmp_path)
    scheduler = start(processes, "scheduler", env, "scheduler", tmp_path)
    wait_for(lambda: checker.logged("probe.assigned"), what="the checker to join its group")
    # Both processes run: from now on a due site is claimed within a tick.
    db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
        "SELECT %s || '?n=' || g, %s, 1, now() + interval '1 s' + (g %% 30) * interval '100 ms'"
        "  FROM generate_series(1, %s) g",
        (targets.url("/ok"), HEALTHY_INTERVAL_S, HEALTHY),
    )
    hanging_url = targets.url("/hang")
    db.execute(
        "INSERT INTO sites (url, interval_seconds, timeout_seconds, next_check_at) "
        "SELECT %s || '?n=' || g, %s, (%s::float8[])[1 + g %% 5], "
        "       now() + interval '1 s' + (g %% 10) * interval '100 ms'"
        "  FROM generate_series(1, %s) g",
        (hanging_url, HANGING_INTERVAL_S, list(HANGING_TIMEOUTS), HANGING),
    )
    healthy_rounds = (
        "SELECT coalesce(min(n), 0) FROM (SELECT count(r.site_id) AS n FROM sites s "
        "LEFT JOIN check_results r ON r.site_id = s.id WHERE s.url NOT LIKE %s GROUP BY s.id) c"
    )
    hanging_done = (
        "SELECT count(*) FROM check_results r JOIN sites s ON s.id = r.site_id WHERE s.url LIKE %s"
    )
    like = hanging_url + "%"
    wait_for(
        lambda: (
            scalar(db, hanging_done, like) == HANGING and scalar(db, healthy_rounds, like) >= ROUNDS
        ),
        timeout_s=45,
        what=f"every hanging site's timeout and {ROUNDS} rounds of every healthy site",
    )
    assert scheduler.stop()[0] == 0, scheduler.output
    code, _ = checker.stop()
    assert code == 0, checker.output
    assert checker.summary("probe.stopped")["expired"] == 0

    # Healthy sites: every slot checked, on time, up, while the hanging checks were held.
    healthy = db.execute(
        "SELECT r.site_id, r.scheduled_at, r.checked_at, r.up, s.interval_seconds "
        "  FROM check_results r JOIN sites s ON s.id = r.site_id "
        " WHERE s.url NOT LIKE %s ORDER BY r.site_id, r.scheduled_at",
        (like,),
    ).fetchall()
    assert all(up for _, _, _, up, _ in healthy)
    # From slot to request: the scheduler's tick (0.2 s) and the consumer's fetch wait took
    # up to 0.85 s here with or without the hanging sites. Below the shortest hanging
    # timeout: no healthy check waited for a hanging one to give up.
    lateness = [(checked - slot).total_seconds() for _, slot, checked, _, _ in healthy]
    assert max(lateness) < min(HANGING_TIMEOUTS) - 0.5, sorted(lateness)[-10:]
    by_site: dict[int, list[datetime]] = {}
    for site_id, slot, _, _, _ in healthy:
        by_site.setdefault(site_id, []).append(slot)
    for site_id, slots in by_site.items():
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
        assert gaps == {HEALTHY_INTERVAL_S}, (site_id, slots)  # no slot skipped

    # Hanging sites: each timed out on its own deadline. A result is produced when its
    # check ends; the broker keeps the producer's timestamp.
    hanging = {
        site_id: (checked_at, timeout)
        for site_id, checked_at, timeout, error, rt, status in db.execute(
            "SELECT r.site_id, r.checked_at, s.timeout_seconds, r.error, r.response_time_ms,"
            "       r.status_code"
            "  FROM check_results r JOIN sites s ON s.id = r.site_id WHERE s.url LIKE %s",
            (like,),
        ).fetchall()
        if (error, rt, status) == ("timeout", None, None)
    }
    assert len(hanging) == HANGING
    ended: dict[int, float] = {}
    for msg in read_all(services.kafka_bootstrap, env["WEBMON_RESULTS_TOPIC"]):
        body = orjson.loads(msg.value() or b"")
        if body["site_id"] in hanging:
            ended[body["site_id"]] = msg.timestamp()[1] / 1000
    assert set(ended) == set(hanging)
    took: dict[float, list[float]] = {t: [] for t in HANGING_TIMEOUTS}
    spans: list[tuple[float, float]] = []
    for site_id, (checked_at, timeout) in hanging.items():
        started = checked_at.timestamp()
        took[timeout].append(ended[site_id] - started)
        spans.append((started, ended[site_id]))
    for timeout, durations in took.items():
        assert durations, timeout
        # Within the deadline + 0.5 s (the timestamp has ms resolution: 5 ms of slack below).
        assert timeout - 0.005 <= min(durations), (timeout, min(durations))
        assert max(durations) <= timeout + 0.5, (timeout, sorted(durations)[-5:])
        assert statistics.median(durations) < timeout + 0.25, (timeout, durations)
    ends = sorted(end for _, end in spans)
    assert ends[-1] - ends[0] >= 2.0, "the timeouts all ended at once"
    # They really were held at the same time: at the peak, most of them were in flight.
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight = peak = 0
    crowd_start = crowd_end = 0.0  # while at least 80 % of them were in flight
    for at, change in events:
        in_flight += change
        peak = max(peak, in_flight)
        if in_flight >= 0.8 * HANGING and not crowd_start:
            crowd_start = at
        elif in_flight < 0.8 * HANGING and crowd_start and not crowd_end:
            crowd_end = at
    assert peak >= 0.8 * HANGING, peak
    beside = [c for _, _, c, _, _ in healthy if crowd_start <= c.timestamp() <= crowd_end]
    # Meanwhile the healthy sites went on being checked (~167 checks/s are due).
    crowded_s = crowd_end - crowd_start
    assert len(beside) >= 100 * crowded_s > 100, (len(beside), crowded_s)
