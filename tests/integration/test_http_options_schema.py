"""Migration 0013 against a real PostgreSQL: the site_auth table, and the claim that
carries the per-site HTTP options and the sealed auth into tasks. (The options'
constraints are in test_check_details.py, beside the other columns'.)"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg
import pytest

from scheduler.service import QUERIES as SCHEDULER_QUERIES
from scheduler.tasks import claimed_task
from shared.messages import CheckTask, decode
from shared.sealing import SecretBox, new_key
from tests.integration.test_check_details import insert_site
from tests.support.db import Conn

pytestmark = pytest.mark.integration

DUE = datetime.now(UTC) - timedelta(minutes=1)


def test_site_auth_constraints_and_cascade(db: Conn) -> None:
    site_id = insert_site(db, "method", ("GET",))
    sealed = b"\x01" + b"n" * 12 + b"c" * 17
    for kind, username, constraint in [
        ("digest", "u", "site_auth_kind"),
        ("basic", None, "site_auth_username"),
        ("bearer", "u", "site_auth_username"),
        ("basic", "a:b", "site_auth_username"),
    ]:
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            db.execute(
                "INSERT INTO site_auth (site_id, kind, username, sealed) VALUES (%s, %s, %s, %s)",
                (site_id, kind, username, sealed),
            )
    with pytest.raises(psycopg.errors.CheckViolation, match="site_auth_sealed_length"):
        db.execute(
            "INSERT INTO site_auth (site_id, kind, sealed) VALUES (%s, 'bearer', %s)",
            (site_id, b"short"),
        )
    db.execute(
        "INSERT INTO site_auth (site_id, kind, sealed) VALUES (%s, 'bearer', %s)", (site_id, sealed)
    )
    db.execute("DELETE FROM sites WHERE id = %s", (site_id,))
    assert db.execute("SELECT count(*) FROM site_auth").fetchone() == (0,)


def test_claim_carries_the_options_and_the_sealed_auth(db: Conn) -> None:
    box = SecretBox(new_key())
    plain = insert_site(db, "next_check_at", (DUE,))
    full = insert_site(
        db,
        "next_check_at, method, body, body_content_type, regex, regex_mode, tls_verify,"
        "tls_server_name, ip_version, require_tls, header_name, header_regex, header_mode,"
        "restricted",
        (
            DUE, "POST", '{"a": 1}', "application/json", "down", "absent", False,
            "internal.example", 4, True, "X-State", "^ok$", "not_match", True,
        ),
    )  # fmt: skip
    proxied = insert_site(
        db,
        "next_check_at, proxy, tls_ca_file, tls_cert_file, tls_key_file",
        (DUE, "http://127.0.0.1:3128", "/ca.pem", "/c.pem", "/k.pem"),
    )
    secret = "tok-" + "x" * 200  # long enough that base64 would wrap at 76 characters
    sealed = box.seal(full, "bearer", None, secret)
    db.execute(
        "INSERT INTO site_auth (site_id, kind, sealed) VALUES (%s, 'bearer', %s)", (full, sealed)
    )
    db.execute("BEGIN")
    rows = db.execute(SCHEDULER_QUERIES["claim_due"], {"batch_size": 10}).fetchall()
    db.execute("ROLLBACK")
    raws = {row[0]: claimed_task(*row).encode() for row in rows}
    tasks = {site_id: decode(CheckTask, raw) for site_id, raw in raws.items()}
    bare = tasks[plain]
    assert raws[plain] == CheckTask(**msgspec.structs.asdict(bare)).encode()  # defaults left out
    assert bare.body is None and bare.auth is None and bare.tls_verify and not bare.restricted
    t = tasks[full]
    assert (t.method, t.body, t.body_content_type) == ("POST", '{"a": 1}', "application/json")
    assert (t.regex, t.regex_mode, t.tls_verify, t.tls_server_name) == (
        "down", "absent", False, "internal.example",
    )  # fmt: skip
    assert (t.ip_version, t.require_tls, t.restricted) == (4, True, True)
    assert (t.header_name, t.header_regex, t.header_mode) == ("X-State", "^ok$", "not_match")
    assert t.auth is not None and t.auth.kind == "bearer"
    assert secret.encode() not in raws[full]  # sealed on the topic
    assert box.open(full, "bearer", None, base64.b64decode(t.auth.sealed)) == secret
    p = tasks[proxied]
    assert (p.proxy, p.tls_ca_file, p.tls_cert_file, p.tls_key_file) == (
        "http://127.0.0.1:3128", "/ca.pem", "/c.pem", "/k.pem",
    )  # fmt: skip
    assert raws[full] == t.encode()
