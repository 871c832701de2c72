"""Every channel kind's request, sent by `webmon channels test` to local receivers (HTTP and
SMTP with and without STARTTLS), and the alerting commands' output."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from notifier.payload import verify
from tests.support.api import TEST_SECRET_KEY
from tests.support.cli import webmon
from tests.support.db import Conn, add_sites
from tests.support.receivers import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    keyed = {"WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32", "WEBMON_SECRET_KEY": TEST_SECRET_KEY}
    for name, value in {**env, **keyed}.items():
        monkeypatch.setenv(name, value)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp(ca: trustme.CA) -> Iterator[tuple[Mailbox, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks it is up on the port it was given
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def test_each_kind_sends_its_request(cli_env: None, db: Conn) -> None:
    with Receiver() as r:
        adds = [
            ("hook", "webhook", "--url", r.url("/hook"), "--secret", "k3y"),
            ("slack", "slack", "--url", r.url("/slack")),
            ("discord", "discord", "--url", r.url("/discord")),
            ("ntfy", "ntfy", "--url", r.url("/alerts"), "--secret", "tk_abc"),
            ("tg", "telegram", "--url", r.url(""), "--secret", "123:ABC", "--set", "chat_id=42"),
        ]
        for name, kind, *rest in adds:
            code, _ = webmon("channels", "add", "--name", name, "--kind", kind, *rest)
            assert code == 0
        for name, kind, *_ in adds:
            sent = f"sent a test notification to {name} ({kind})\n"
            assert webmon("channels", "test", name) == (0, sent)
        got = {req.path: req for req in r.requests}
    hook = got["/hook"]
    body = hook.json()
    assert body["event"] == "test" and body["idempotency_key"].startswith("test-")
    assert hook.headers["Idempotency-Key"] == body["idempotency_key"]
    assert verify("k3y", hook.body, hook.headers["X-Webmon-Signature"])
    assert got["/slack"].json() == {"text": "webmon test notification (channel slack)"}
    assert got["/discord"].json() == {"content": "webmon test notification (channel discord)"}
    ntfy = got["/alerts"]
    assert ntfy.headers["Authorization"] == "Bearer tk_abc" and ntfy.headers["Title"]
    telegram = got["/bot123:ABC/sendMessage"].json()
    assert telegram["chat_id"] == "42" and "test" in telegram["text"]
    code, listing = webmon("channels", "list")
    assert code == 0
    assert "k3y" not in listing and "tk_abc" not in listing and "123:ABC" not in listing
    assert "/slack" not in listing  # a Slack webhook URL is a credential


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_email_over_smtp(
    cli_env: None, smtp: tuple[Mailbox, int], ca: trustme.CA, tmp_path: Path, security: str
) -> None:
    mailbox, port = smtp
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    code, _ = webmon(
        "channels", "add", "--name", "mail", "--kind", "email", "--set", "host=127.0.0.1",
        "--set", f"port={port}", "--set", f"security={security}", "--set", "from=webmon@test",
        "--set", "to=oncall@test,boss@test", "--set", f"ca_file={ca_file}",
    )  # fmt: skip
    assert code == 0
    assert webmon("channels", "test", "mail") == (0, "sent a test notification to mail (email)\n")
    [(sender, recipients, content)] = mailbox.messages
    assert sender == "webmon@test" and recipients == ["oncall@test", "boss@test"]
    assert b"Subject: [webmon] webmon test notification" in content
    assert b"Idempotency-Key: test-" in content


def test_a_blocked_channel_test_fails_without_connecting(cli_env: None) -> None:
    code, _ = webmon("channels", "add", "--name", "internal", "--kind", "webhook",
                     "--url", "http://127.0.0.2:9/")  # fmt: skip
    assert code == 0
    assert webmon("channels", "test", "internal")[0] == 1


def test_windows_thresholds_and_incidents_commands(cli_env: None, db: Conn) -> None:
    [site] = add_sites(db, 1)
    assert webmon("thresholds", str(site), "--failure", "5", "--success", "3",
                  "--remind", "30m", "--tags", "db,eu") == (
        0, f"site {site}: opens after 5 down, resolves after 3 up, reminders 30m, tags db,eu,"
        " certificate warning 14 days ahead\n"
    )  # fmt: skip
    code, added = webmon(
        "windows", "add", "--name", "patch night", "--tag", "db",
        "--start", "2026-12-24T22:00Z", "--duration", "2h", "--every", "week",
    )  # fmt: skip
    assert code == 0 and added.endswith("for 2h, every week\n")
    code, listing = webmon("windows", "list")
    assert code == 0 and "tag db" in listing and "weekly" in listing
    db.execute(
        "INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at, cause)"
        " VALUES (%s, now() - interval '5 minutes', now() - interval '3 minutes', now(),"
        "         'timeout')",
        (site,),
    )
    code, incidents = webmon("incidents", "--open")
    assert code == 0 and "timeout" in incidents and "open" in incidents
    # a telegram channel without its chat id: the core refuses the value (exit status 2)
    assert webmon("channels", "add", "--name", "x", "--kind", "telegram", "--secret", "t")[0] == 2


# apprise 2.2 imports the stdlib's deprecated imghdr.
@pytest.mark.filterwarnings("ignore:.*imghdr.*:DeprecationWarning")
def test_apprise_is_sent_and_bypasses_the_target_policy(cli_env: None) -> None:
    pytest.importorskip("apprise")
    with Receiver(host="127.0.0.2") as internal:  # blocked for every native channel
        code, _ = webmon("channels", "add", "--name", "other", "--kind", "apprise",
                         "--secret", f"json://127.0.0.2:{internal.port}/apprise")  # fmt: skip
        assert code == 0
        assert webmon("channels", "test", "other") == (
            0, "sent a test notification to other (apprise)\n"
        )  # fmt: skip
        [got] = internal.requests
    assert got.path == "/apprise" and got.json()["title"] == "webmon test notification"
