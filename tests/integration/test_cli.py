"""The `webmon` command line against a real PostgreSQL: exact output."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.sealing import SecretBox, new_key
from tests.support.cli import webmon
from tests.support.db import Conn
from webmon.core.site_rules import URL_FORMS

pytestmark = pytest.mark.integration


def test_sites_of_every_kind_are_added_and_a_malformed_one_refused(
    cli_env: dict[str, str], db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert webmon("sites", "add", "tcp://127.0.0.1:5432", "--every", "30s") == (
        0,
        "added site 1: tcp://127.0.0.1:5432 (every 30s, timeout 10s)\n",
    )
    assert webmon("sites", "add", "dns:///example.com?type=MX", "--regex", "mx")[0] == 0
    assert webmon("sites", "add", "tls://example.com")[0] == 0
    # A refusal is the core's words, as every other surface says them, and exit status 2.
    assert webmon("sites", "add", "tcp://127.0.0.1") == (2, "")
    assert capsys.readouterr().err == f"webmon: url: {URL_FORMS} (constraint sites_url_form)\n"
    assert webmon("sites", "add", "tls://example.com", "--regex", "x") == (2, "")
    assert "sites_tls_without_regex" in capsys.readouterr().err
    rows = db.execute("SELECT url, restricted FROM sites ORDER BY id").fetchall()
    assert rows == [
        ("tcp://127.0.0.1:5432", False),  # the operator's own: not restricted
        ("dns:///example.com?type=MX", False),
        ("tls://example.com", False),
    ]


def test_add_list_disable_enable(
    cli_env: dict[str, str], db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert webmon(
        "sites", "add", "http://127.0.0.1:9/a", "--every", "30s", "--timeout", "5s", "--regex", "ok"
    ) == (0, "added site 1: http://127.0.0.1:9/a (every 30s, timeout 5s, regex 'ok')\n")
    assert webmon("sites", "add", "http://127.0.0.1:9/b") == (
        0,
        "added site 2: http://127.0.0.1:9/b (every 1m, timeout 10s)\n",
    )
    assert webmon("sites", "add", "ftp://127.0.0.1/c") == (2, "")
    assert capsys.readouterr().err == f"webmon: url: {URL_FORMS} (constraint sites_url_form)\n"
    assert webmon("sites", "disable", "2") == (0, "disabled site 2: http://127.0.0.1:9/b\n")
    assert webmon("sites", "list") == (
        0,
        "id  enabled  every  timeout  regex  name  tags  url\n"
        " 1  yes        30s       5s  ok     -     -     http://127.0.0.1:9/a\n"
        " 2  no          1m      10s  -      -     -     http://127.0.0.1:9/b\n"
        "2 sites, 1 enabled\n",
    )
    assert webmon("sites", "enable", "http://127.0.0.1:9/b") == (
        0,
        "enabled site 2: http://127.0.0.1:9/b\n",
    )
    row = db.execute("SELECT count(*) FROM sites WHERE enabled").fetchone()
    assert row == (2,)
    assert webmon("sites", "disable", "2", "99") == (1, "")
    assert capsys.readouterr().err == "webmon: no site with id 99\n"
    assert db.execute("SELECT enabled FROM sites WHERE id = 2").fetchone() == (True,)  # rolled back


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_import_a_thousand_sites_from_csv(
    cli_env: dict[str, str], db: Conn, tmp_path: Path
) -> None:
    rows = [["url", "interval_seconds", "timeout_seconds", "regex"]]
    for i in range(1, 1001):
        interval = (30, 60, 300)[i % 3]
        timeout = "" if i % 2 else "2.5"  # empty: the database's default, min(10 s, interval)
        regex = "" if i % 5 else f'"status":\\s*"ok", site {i}'  # quotes and a comma
        rows.append([f"http://127.0.0.1:9/site/{i}", str(interval), timeout, regex])
    path = tmp_path / "sites.csv"
    write_csv(path, rows)

    assert webmon("sites", "import", str(path)) == (0, f"imported 1000 sites from {path}\n")

    stored = db.execute(
        "SELECT url, interval_seconds, timeout_seconds, regex FROM sites ORDER BY id"
    ).fetchall()
    assert len(stored) == 1000
    assert stored[0] == ("http://127.0.0.1:9/site/1", 60, 10.0, None)
    assert stored[1] == ("http://127.0.0.1:9/site/2", 300, 2.5, None)
    assert stored[4] == ("http://127.0.0.1:9/site/5", 300, 10.0, '"status":\\s*"ok", site 5')
    # One statement in one transaction: every row written by the same transaction.
    assert db.execute("SELECT count(DISTINCT xmin::text) FROM sites").fetchone() == (1,)

    code, listing = webmon("sites", "list")
    assert code == 0
    lines = listing.splitlines()
    assert len(lines) == 1 + 1000 + 1
    regex_5, regex_1000 = '"status":\\s*"ok", site 5', '"status":\\s*"ok", site 1000'
    width = len(regex_1000)
    assert lines[0] == f"  id  enabled  every  timeout  {'regex'.ljust(width)}  name  tags  url"
    none = "-     -   "  # no name, no tags
    assert lines[1] == (
        f"   1  yes         1m      10s  {'-'.ljust(width)}  {none}  http://127.0.0.1:9/site/1"
    )
    assert lines[5] == (
        f"   5  yes         5m      10s  {regex_5.ljust(width)}  {none}  http://127.0.0.1:9/site/5"
    )
    assert lines[1000] == (
        f"1000  yes         1m     2.5s  {regex_1000.ljust(width)}  {none}"
        "  http://127.0.0.1:9/site/1000"
    )
    assert lines[-1] == "1000 sites, 1000 enabled"


def test_import_is_all_or_nothing_and_names_the_bad_line(
    cli_env: dict[str, str], db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    write_csv(
        path, [["url", "interval_seconds"], ["http://127.0.0.1:9/ok", "60"], ["ftp://x", "60"]]
    )
    assert webmon("sites", "import", str(path)) == (2, "")
    assert capsys.readouterr().err == (
        f"webmon: line 3: url: {URL_FORMS} (constraint sites_url_form)\n"
    )
    assert db.execute("SELECT count(*) FROM sites").fetchone() == (0,)


def test_import_checks_the_header(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.csv"
    write_csv(path, [["url", "every"], ["http://127.0.0.1:9/", "60"]])
    assert webmon("sites", "import", str(path)) == (2, "")
    assert capsys.readouterr().err == "webmon: line 1: every: not a known field\n"
    assert webmon("sites", "import", str(tmp_path / "absent.csv")) == (1, "")
    assert "No such file" in capsys.readouterr().err


CHECKED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def add_site(db: Conn, url: str, *, enabled: bool = True) -> int:
    row = db.execute(
        "INSERT INTO sites (url, enabled) VALUES (%s, %s) RETURNING id", (url, enabled)
    ).fetchone()
    assert row is not None
    return int(row[0])


def set_status(
    db: Conn,
    site_id: int,
    *,
    up: bool,
    code: int | None,
    ms: float | None,
    error: str | None,
    matched: bool | None = None,
) -> None:
    db.execute(
        "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, up, status_code,"
        " response_time_ms, regex_matched, error)"
        " SELECT id, url, %s, %s, %s, %s, %s, %s, %s FROM sites WHERE id = %s",
        (CHECKED, CHECKED, up, code, ms, matched, error, site_id),
    )


def test_status_table(cli_env: dict[str, str], db: Conn) -> None:
    up = add_site(db, "https://up.example/")
    down = add_site(db, "https://down.example/health")
    timeout = add_site(db, "https://slow.example/")
    mismatch = add_site(db, "https://content.example/")
    add_site(db, "https://new.example/")
    hidden = add_site(db, "https://off.example/", enabled=False)
    set_status(db, up, up=True, code=200, ms=12.345, error=None, matched=True)
    set_status(db, down, up=False, code=503, ms=101.0, error=None)
    set_status(db, timeout, up=False, code=None, ms=None, error="timeout")
    set_status(db, mismatch, up=False, code=200, ms=3.0, error=None, matched=False)
    set_status(db, hidden, up=True, code=200, ms=1.0, error=None)

    # Why a site is down, in the words of the dashboard, the API's incidents and the
    # notifications (shared.causes).
    header = (
        "id  state  code     ms  regex     last check (UTC)     why down"
        "                        url\n"
    )
    up_line = (
        " 1  UP      200   12.3  match     2026-01-02 03:04:05  -                               "
        "https://up.example/\n"
    )
    down_lines = (
        " 2  DOWN    503  101.0  -         2026-01-02 03:04:05  HTTP 503                        "
        "https://down.example/health\n"
        " 3  DOWN      -      -  -         2026-01-02 03:04:05  timeout                         "
        "https://slow.example/\n"
        " 4  DOWN    200    3.0  no match  2026-01-02 03:04:05  regex did not match · HTTP 200  "
        "https://content.example/\n"
    )
    assert webmon("status") == (
        0,
        header
        + up_line
        + down_lines
        + " 5  -         -      -  -         -                    -                               "
        "https://new.example/\n"
        "5 sites: 1 up, 3 down, 1 not checked yet\n",
    )
    assert webmon("status", "--down") == (0, header + down_lines + "3 down\n")


def test_uptime(cli_env: dict[str, str], db: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    site = add_site(db, "https://site.example/")
    add_site(db, "https://twice.example/")
    add_site(db, "https://twice.example/")
    now = datetime.now(UTC).replace(microsecond=0)
    checks = [
        (1, True, 10.0),
        (2, True, 20.0),
        (3, True, 30.0),
        (4, False, None),
        (72, False, None),
    ]
    for hours_ago, up, ms in checks:
        slot = now - timedelta(hours=hours_ago)
        db.execute(  # a response time comes with a status code, as every check stores it
            "INSERT INTO check_results (site_id, scheduled_at, checked_at, up, response_time_ms,"
            " status_code) VALUES (%s, %s, %s, %s, %s, %s)",
            (site, slot, slot, up, ms, None if ms is None else 200),
        )
    assert webmon("uptime", str(site), "--since", "1d") == (
        0,
        "site     1 https://site.example/\n"
        "period   last 1d\n"
        "checks   4 (3 up)\n"
        "uptime   75.00%\n"
        "latency  p50 20.0 ms, p95 29.0 ms\n",
    )
    assert webmon("uptime", "https://site.example/")[1].splitlines()[1:4] == [
        "period   last 30d",
        "checks   5 (3 up)",
        "uptime   60.00%",
    ]
    assert webmon("uptime", "2") == (
        0,
        "site     2 https://twice.example/\n"
        "period   last 30d\n"
        "checks   0 (0 up)\n"
        "uptime   -\n"
        "latency  -\n",
    )
    assert webmon("uptime", "https://twice.example/") == (2, "")
    assert capsys.readouterr().err == (
        "webmon: 2 sites have the URL https://twice.example/ (ids 2, 3); give an id\n"
    )


def test_the_console_script_runs_as_a_process(cli_env: dict[str, str], db: Conn) -> None:
    add_site(db, "https://up.example/")
    done = subprocess.run(
        [sys.executable, "-m", "webmon", "sites", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "1 site, 1 enabled"
    missing = subprocess.run(
        [sys.executable, "-m", "webmon", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert (missing.returncode, missing.stderr) == (2, "webmon: WEBMON_DATABASE_URL is not set\n")


def test_sites_auth_reads_the_secret_from_stdin_and_seals_it(
    cli_env: dict[str, str],
    db: Conn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = new_key()
    secret = "cli-s3cret-token"
    assert webmon("sites", "add", "http://127.0.0.1:9/a")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret + "\n"))
    assert webmon("sites", "auth", "1", "--bearer") == (1, "")  # no key: refused
    assert "WEBMON_SECRET_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("WEBMON_SECRET_KEY", key)
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret + "\n"))
    assert webmon("sites", "auth", "http://127.0.0.1:9/a", "--basic", "monitor") == (
        0,
        "site 1: http://127.0.0.1:9/a: basic auth as monitor set (sealed)\n",
    )
    kind, username, sealed = db.execute("SELECT kind, username, sealed FROM site_auth").fetchone()
    assert (kind, username) == ("basic", "monitor") and secret.encode() not in bytes(sealed)
    assert SecretBox(key).open(1, "basic", "monitor", bytes(sealed)) == secret
    assert secret not in capsys.readouterr().out
    assert webmon("sites", "auth", "1", "--clear") == (
        0,
        "site 1: http://127.0.0.1:9/a: auth removed\n",
    )
    assert db.execute("SELECT count(*) FROM site_auth").fetchone() == (0,)


def test_users_add_and_link(
    cli_env: dict[str, str],
    db: Conn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert webmon("users", "add", "ada") == (2, "")
    assert "password: a password needs at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    code, out = webmon("users", "add", "ada")
    assert code == 0 and out.startswith("user ada can log in to the dashboard (id ")
    code, out = webmon("users", "link", "ada")
    assert code == 0 and out.splitlines()[-1].startswith("/login/once/")
    assert db.execute("SELECT count(*) FROM login_links").fetchone() == (1,)
    assert webmon("users", "link", "nobody") == (1, "")
    assert capsys.readouterr().err == "webmon: no user nobody\n"


def test_tasks_list_writes_durations_as_the_dashboard_does(
    cli_env: dict[str, str], db: Conn
) -> None:
    db.execute(
        "INSERT INTO tasks (task_id, name, url, timeout_seconds, expires_at, created_at, status,"
        " started_at, finished_at, result)"
        " SELECT gen_random_uuid(), 'quick', 'http://127.0.0.1:9/' || took, 5,"
        "        now() + interval '1 minute', now() - took, 3, now() - took, now(),"
        '        \'{"up": true, "status_code": 200}\''
        "   FROM unnest(ARRAY[interval '42 ms', interval '12.34 s']) AS took"
    )
    code, out = webmon("tasks", "list")
    assert code == 0
    rows = {line.split()[-1]: line for line in out.splitlines()[1:]}
    assert " 42.0 ms " in rows["http://127.0.0.1:9/00:00:00.042"]
    assert " 12.3 s " in rows["http://127.0.0.1:9/00:00:12.34"]
