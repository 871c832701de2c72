"""The certificate warning: the writer queues one when a site's TLS certificate comes
within the site's `cert_expiry_days` (14 by default) of its expiry, through the same
outbox as incidents, once per certificate and threshold; the notifier sends it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checker.writer import write_results
from shared.db import Database
from shared.messages import CheckResult
from tests.support.alerting import NOTIFIER_FAST, add_channel
from tests.support.db import Conn, add_sites
from tests.support.processes import Process, start, wait_for
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    with Database(db_url, max_size=2) as d:
        yield d


def check(site: int, n: int, expires_in_days: float | None) -> CheckResult:
    slot = NOW + timedelta(minutes=n)
    expires = None if expires_in_days is None else NOW + timedelta(days=expires_in_days)
    return CheckResult(site_id=site, url="https://127.0.0.1:9/", scheduled_at=slot,
                       checked_at=slot, response_time_ms=3.0, status_code=200, up=True,
                       tls_expires_at=expires)  # fmt: skip


def warnings(db: Conn) -> list[tuple[int, str]]:
    return db.execute(
        "SELECT site_id, idempotency_key FROM notifications WHERE kind = 'certificate' ORDER BY id"
    ).fetchall()


def test_a_warning_once_per_certificate_and_threshold(database: Database, db: Conn) -> None:
    add_channel(db, "ops", config={"url": "http://127.0.0.1:9/hook"}, default=True)
    soon, later, plain = add_sites(db, 3)
    write_results(database, [check(soon, 0, 10), check(later, 0, 40), check(plain, 0, None)])
    [(site, key)] = warnings(db)
    assert site == soon and key.startswith(f"certificate-{soon}-") and key.endswith("-14d")
    write_results(database, [check(soon, 1, 10), check(soon, 2, 10)])  # the same certificate
    assert len(warnings(db)) == 1
    db.execute("UPDATE sites SET cert_expiry_days = 60 WHERE id = %s", (later,))
    write_results(database, [check(later, 1, 40)])  # another threshold: warns
    assert [s for s, _ in warnings(db)] == [soon, later]
    write_results(database, [check(soon, 3, 100)])  # renewed: nothing to say
    write_results(database, [check(soon, 4, 12)])  # a new certificate near its end: warns
    assert [s for s, _ in warnings(db)] == [soon, later, soon]
    expiry = db.execute(
        "SELECT event_at FROM notifications WHERE kind = 'certificate' ORDER BY id LIMIT 1"
    ).fetchone()
    assert expiry == (NOW + timedelta(days=10),)


def test_the_notifier_sends_the_warning_with_the_expiry(
    database: Database, db: Conn, env: dict[str, str], processes: list[Process], tmp_path: Path
) -> None:
    with Receiver() as receiver:
        add_channel(db, "hook", config={"url": receiver.url()}, default=True)
        [site] = add_sites(db, 1)
        write_results(database, [check(site, 0, 5)])
        start(processes, "notifier", {**env, **NOTIFIER_FAST}, "notifier", tmp_path)
        wait_for(lambda: len(receiver.accepted()) == 1, 60, "the warning")
        body = receiver.accepted()[0].json()
    assert body["event"] == "certificate" and body["incident"] is None
    assert body["site"]["id"] == site
    assert body["certificate"] == {
        "expires_at": (NOW + timedelta(days=5)).isoformat(),
        "warning_days": 14,
    }
