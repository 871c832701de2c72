"""tcp://, tls:// and dns:// sites registered with plain SQL, through the real scheduler,
broker, checker and writer into `site_status` and `check_results`; then read back through
the read model the CLI, the API and the dashboard share."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.rows import dict_row

from devstack.localstack import free_port
from tests.support.db import Conn
from tests.support.dns_server import DnsServer
from tests.support.pipeline import check_every_site
from tests.support.processes import Process
from tests.support.targets import Targets
from webmon.core.sites import QUERIES as SITES

pytestmark = pytest.mark.integration


def test_check_kinds_end_to_end(
    env: dict[str, str], db: Conn, targets: Targets, processes: list[Process], tmp_path: Path
) -> None:
    with DnsServer({"www.test.": {"A": ["127.0.0.1"]}}) as resolver:
        dns = f"dns://127.0.0.1:{resolver.port}"
        sites = {
            # url, regex -> (up, error, regex_matched, which phases are measured)
            f"tcp://127.0.0.1:{targets.ports['http']}": (None, (True, None, None, "connect")),
            f"tcp://127.0.0.1:{free_port()}": (None, (False, "connect", None, "")),
            f"tls://127.0.0.1:{targets.ports['valid']}": (None, (True, None, None, "connect tls")),
            f"tls://127.0.0.1:{targets.ports['expired']}": (None, (False, "tls", None, "connect")),
            f"{dns}/www.test?type=A": (r"^127\.0\.0\.1$", (True, None, True, "dns")),
            f"{dns}/nowhere.test": (None, (False, "dns", None, "dns")),
        }
        ids: dict[int, str] = {}
        for url, (regex, _) in sites.items():
            row = db.execute(
                "INSERT INTO sites (url, regex, interval_seconds, next_check_at) "
                "VALUES (%s, %s, 30, now()) RETURNING id",
                (url, regex),
            ).fetchone()
            assert row is not None
            ids[row[0]] = url

        checker_env = {**env, "SSL_CERT_FILE": str(targets.ca_pem)}
        check_every_site(
            processes, db, len(sites), tmp_path, checker_env=checker_env, scheduler_env=env
        )

    rows = db.execute(
        "SELECT site_id, up, error, regex_matched, status_code, redirects, ttfb_ms, "
        "dns_ms IS NOT NULL, connect_ms IS NOT NULL, tls_ms IS NOT NULL, "
        "response_time_ms IS NOT NULL, tls_version, tls_expires_at FROM site_status"
    ).fetchall()
    got = {}
    for site_id, up, error, matched, status, redirects, ttfb, *phases, tls_version, expiry in rows:
        assert (status, redirects, ttfb) == (None, None, None), ids[site_id]
        dns_ms, connect_ms, tls_ms, whole = phases
        measured = " ".join(
            name for name, on in (("dns", dns_ms), ("connect", connect_ms), ("tls", tls_ms)) if on
        )
        got[ids[site_id]] = (up, error, matched, measured)
        assert whole == (error is None), ids[site_id]
        assert (tls_version is not None) == tls_ms, ids[site_id]
        if tls_ms:
            assert expiry == targets.valid_not_after
    assert got == {url: outcome for url, (_, outcome) in sites.items()}

    # The core's rows that `webmon status` prints: null status codes read as such.
    page = {
        "after": 0,
        "site_id": None,
        "enabled": True,
        "state": None,
        "tag": None,
        "q": None,
        "limit": 100,
    }
    status = db.cursor(row_factory=dict_row).execute(SITES["site_rows"], page).fetchall()
    assert len(status) == len(sites)
    assert {row["status_code"] for row in status} == {None}
