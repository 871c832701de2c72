"""The per-site HTTP options through the real probe (issue 19, item 2): body, auth, proxy,
TLS files and verification, server name, ip_version, require_tls, header and keyword checks.

Each test serves its own aiohttp target on 127.0.0.1 in the test's event loop, with
certificates from trustme; nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from checker.probe import Prober
from shared.messages import CheckResult, CheckTask, TaskAuth
from shared.sealing import SecretBox, new_key

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """What a target received."""

    requests: list[dict[str, Any]] = field(default_factory=list)


async def _echo(seen: Seen, request: web.Request) -> web.Response:
    body = await request.read()
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    seen.requests.append(
        {
            "method": request.method,
            "target": request.raw_path,
            "url": str(request.url),
            "headers": dict(request.headers),
            "body": body,
            "peercert": peer,
        }
    )
    if request.path == "/word":
        return web.Response(text="the service is in maintenance")
    return web.Response(text="all good", headers={"X-State": "degraded"})


@asynccontextmanager
async def serving(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[tuple[int, Seen]]:
    """An echo target on 127.0.0.1: (port, what it saw)."""
    seen = Seen()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _echo(seen, request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    assert site._server is not None
    port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    try:
        yield port, seen
    finally:
        await runner.cleanup()


def task(url: str, site_id: int = 1, **options: Any) -> CheckTask:
    now = datetime.now(UTC)
    return CheckTask(
        site_id=site_id,
        url=url,
        timeout_s=5.0,
        scheduled_at=now,
        expires_at=now + timedelta(minutes=1),
        **options,
    )


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(main())  # type: ignore[arg-type]


async def one(t: CheckTask, **prober: Any) -> CheckResult:
    async with Prober(**prober) as p:
        return await p.check(t)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert: trustme.LeafCert, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# --- body ------------------------------------------------------------------------------


def test_a_post_body_arrives_with_its_content_type() -> None:
    async def main() -> tuple[CheckResult, Seen]:
        async with serving() as (port, seen):
            result = await one(
                task(
                    f"http://127.0.0.1:{port}/api/health",
                    method="POST",
                    body='{"probe": "webmon", "n": "é"}',
                    body_content_type="application/json",
                    regex="all good",
                )
            )
            return result, seen

    result, seen = run(main)
    assert (result.up, result.error, result.regex_matched) == (True, None, True), result
    [request] = seen.requests
    assert request["method"] == "POST"
    assert request["body"] == '{"probe": "webmon", "n": "é"}'.encode()
    assert request["headers"]["Content-Type"] == "application/json"


def test_a_put_body_without_a_type_goes_as_octet_stream() -> None:
    async def main() -> Seen:
        async with serving() as (port, seen):
            result = await one(task(f"http://127.0.0.1:{port}/", method="PUT", body="x=1"))
            assert result.up, result
            return seen

    [request] = run(main).requests
    assert (request["method"], request["body"]) == ("PUT", b"x=1")
    assert request["headers"]["Content-Type"] == "application/octet-stream"


# --- auth ------------------------------------------------------------------------------

SECRET = "s3cr3t-Pa55word-do-not-log"


def sealed_auth(box: SecretBox, site_id: int, kind: str, username: str | None) -> TaskAuth:
    sealed = box.seal(site_id, kind, username, SECRET)
    return TaskAuth(kind=kind, username=username, sealed=base64.b64encode(sealed).decode())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_auth_arrives_and_its_secret_is_in_no_log_line(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    box = SecretBox(new_key())
    username = "monitor" if kind == "basic" else None
    auth = sealed_auth(box, 7, kind, username)

    async def main() -> tuple[CheckResult, CheckResult, Seen]:
        async with serving() as (port, seen):
            url = f"http://127.0.0.1:{port}/private"
            # The site's own Authorization header is replaced by its auth.
            t = task(url, site_id=7, auth=auth, headers={"Authorization": "Basic old"})
            ok = await one(t, secrets=box)
            refused = await one(task("http://127.0.0.1:1/x", site_id=7, auth=auth), secrets=box)
            return ok, refused, seen

    with caplog.at_level(logging.DEBUG):
        ok, refused, seen = run(main)
    assert (ok.up, ok.error) == (True, None), ok
    [request] = seen.requests
    expected = (
        "Basic " + base64.b64encode(f"monitor:{SECRET}".encode()).decode()
        if kind == "basic"
        else f"Bearer {SECRET}"
    )
    assert request["headers"]["Authorization"] == expected
    assert refused.error == "connect"
    # Not in the task's repr, the results, or any log line (the secret or its base64).
    encoded = base64.b64encode(f"monitor:{SECRET}".encode()).decode()
    text = caplog.text + repr(task("http://a", site_id=7, auth=auth)) + ok.encode().decode()
    text += refused.encode().decode()
    assert SECRET not in text and encoded not in text


def test_a_checker_without_the_key_records_a_config_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = SecretBox(new_key())
    auth = sealed_auth(box, 7, "bearer", None)

    async def main() -> tuple[CheckResult, CheckResult, Seen]:
        async with serving() as (port, seen):
            url = f"http://127.0.0.1:{port}/"
            no_key = await one(task(url, site_id=7, auth=auth))
            other_key = await one(task(url, site_id=7, auth=auth), secrets=SecretBox(new_key()))
            return no_key, other_key, seen

    with caplog.at_level(logging.INFO):
        no_key, other_key, seen = run(main)
    assert (no_key.up, no_key.error) == (False, "config"), no_key
    assert "WEBMON_SECRET_KEY" in (no_key.error_detail or "")
    assert (other_key.error, other_key.up) == ("config", False), other_key
    assert "does not open" in (other_key.error_detail or "")
    assert seen.requests == []  # no request without the credentials
    assert "check.config_error site_id=7" in caplog.text


def test_a_sealed_secret_is_bound_to_its_site() -> None:
    box = SecretBox(new_key())
    auth = sealed_auth(box, 7, "bearer", None)  # copied onto site 8's task

    async def main() -> CheckResult:
        async with serving() as (port, _):
            return await one(task(f"http://127.0.0.1:{port}/", site_id=8, auth=auth), secrets=box)

    assert run(main).error == "config"


# --- proxy -----------------------------------------------------------------------------


def test_a_proxy_on_loopback_sees_the_request() -> None:
    async def main() -> tuple[CheckResult, Seen]:
        async with serving() as (proxy_port, seen):
            # The target's port is closed: only the proxy answers.
            t = task(
                "http://127.0.0.1:9/through/the/proxy",
                proxy=f"http://127.0.0.1:{proxy_port}",
                regex="all good",
            )
            return await one(t), seen

    result, seen = run(main)
    assert (result.up, result.error) == (True, None), result
    [request] = seen.requests
    assert request["target"] == "http://127.0.0.1:9/through/the/proxy"  # absolute form


def test_a_restricted_site_may_not_use_a_proxy_or_files() -> None:
    async def main() -> tuple[CheckResult, CheckResult, Seen]:
        async with serving() as (port, seen):
            proxied = await one(
                task("http://192.0.2.1/", restricted=True, proxy=f"http://127.0.0.1:{port}")
            )
            with_file = await one(task("https://192.0.2.1/", restricted=True, tls_ca_file="/x"))
            return proxied, with_file, seen

    proxied, with_file, seen = run(main)
    assert (proxied.error, proxied.up) == ("blocked", False)
    assert "proxy" in (proxied.error_detail or "")
    assert (with_file.error, with_file.up) == ("blocked", False)
    assert seen.requests == []


# --- TLS -------------------------------------------------------------------------------


def test_a_client_certificate_is_presented(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    client_ca = trustme.CA()
    client = client_ca.issue_cert("monitor@webmon.example")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    server = server_context(ca.issue_cert("127.0.0.1"), client_ca)

    async def main() -> tuple[CheckResult, CheckResult, Seen]:
        async with serving(server) as (port, seen):
            url = f"https://127.0.0.1:{port}/"
            presented = await one(
                task(url, tls_ca_file=ca_file, tls_cert_file=str(cert), tls_key_file=str(key))
            )
            without = await one(task(url, tls_ca_file=ca_file))
            return presented, without, seen

    presented, without, seen = run(main)
    assert (presented.up, presented.error, presented.tls_version) == (True, None, "TLSv1.3")
    [request] = seen.requests
    assert request["peercert"] is not None  # the server saw and verified our certificate
    assert ("email", "monitor@webmon.example") in request["peercert"]["subjectAltName"]
    # Without the certificate the server refuses the handshake (TLS 1.3 reports it on the
    # first read: a tls or protocol error, never up).
    assert without.up is False and without.error in ("tls", "protocol"), without


def test_an_unreadable_tls_file_is_a_config_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.pem")
    result = run(lambda: one(task("https://127.0.0.1:9/", tls_ca_file=missing)))
    assert (result.error, result.up) == ("config", False)
    assert "nowhere.pem" in (result.error_detail or "")


def test_tls_verify_off_accepts_a_self_signed_certificate() -> None:
    other = trustme.CA()  # its own certificate serves: self-signed, trusted by nobody
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("127.0.0.1").configure_cert(server)

    async def main() -> tuple[CheckResult, CheckResult]:
        async with serving(server) as (port, _):
            url = f"https://127.0.0.1:{port}/"
            return await one(task(url, tls_verify=False)), await one(task(url))

    unverified, verified = run(main)
    assert (unverified.up, unverified.error, unverified.tls_version) == (True, None, "TLSv1.3")
    assert unverified.tls_expires_at is not None  # decoded from the unverified certificate
    assert (verified.up, verified.error) == (False, "tls"), verified
    assert "certificate verify failed" in (verified.error_detail or "")


def test_the_server_name_is_sent_and_verified(ca: trustme.CA, ca_file: str) -> None:
    server = server_context(ca.issue_cert("internal.example"))
    names: list[str | None] = []
    server.sni_callback = lambda sock, name, ctx: names.append(name)

    async def main() -> tuple[CheckResult, CheckResult]:
        async with serving(server) as (port, _):
            url = f"https://127.0.0.1:{port}/"
            named = await one(task(url, tls_ca_file=ca_file, tls_server_name="internal.example"))
            unnamed = await one(task(url, tls_ca_file=ca_file))
            return named, unnamed

    named, unnamed = run(main)
    assert (named.up, named.error) == (True, None), named
    assert names[0] == "internal.example"
    assert (unnamed.up, unnamed.error) == (False, "tls"), unnamed


# --- ip_version, require_tls -----------------------------------------------------------


def test_ip_version_picks_the_address_family() -> None:
    async def main() -> tuple[CheckResult, CheckResult]:
        async with serving() as (port, _):
            v4 = await one(task(f"http://localhost:{port}/", ip_version=4))
            v6 = await one(task(f"http://127.0.0.1:{port}/", ip_version=6))
            return v4, v6

    v4, v6 = run(main)
    assert (v4.up, v4.error) == (True, None), v4
    assert (v6.up, v6.error) == (False, "connect"), v6
    assert "IPv6" in (v6.error_detail or "")


def test_require_tls_fails_an_http_url() -> None:
    async def main() -> CheckResult:
        async with serving() as (port, _):
            return await one(task(f"http://127.0.0.1:{port}/", require_tls=True))

    result = run(main)
    assert (result.up, result.error, result.status_code) == (False, "tls_required", 200), result
    assert "not https" in (result.error_detail or "")
    assert result.response_time_ms is not None  # a response arrived


def test_require_tls_passes_an_https_url(ca: trustme.CA, ca_file: str) -> None:
    server = server_context(ca.issue_cert("127.0.0.1"))

    async def main() -> CheckResult:
        async with serving(server) as (port, _):
            return await one(
                task(f"https://127.0.0.1:{port}/", require_tls=True, tls_ca_file=ca_file)
            )

    result = run(main)
    assert (result.up, result.error) == (True, None), result


# --- header and keyword checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "name", "pattern", "up"),
    [
        ("not_match", "X-State", "degraded", False),  # fail_if_header_matches
        ("not_match", "X-State", "^ok$", True),
        ("not_match", "X-Missing", ".", True),  # a missing header matches nothing
        ("match", "X-State", "^degr", True),  # fail_if_header_not_matches
        ("match", "X-State", "^ok$", False),
        ("match", "X-Missing", ".", False),  # a missing header fails a must-match
        ("match", "content-type", "text/plain", True),  # names are case-insensitive
    ],
)
def test_the_header_check(mode: str, name: str, pattern: str, up: bool) -> None:
    async def main() -> CheckResult:
        async with serving() as (port, _):
            t = task(
                f"http://127.0.0.1:{port}/",
                header_name=name,
                header_regex=pattern,
                header_mode=mode,
            )
            return await one(t)

    result = run(main)
    assert result.up is up, result
    assert result.status_code == 200
    assert result.error == (None if up else "header_check"), result
    if not up:
        assert name in (result.error_detail or "")


def test_an_invalid_header_regex_is_invalid_regex() -> None:
    t = task("http://127.0.0.1:9/", header_name="X-State", header_regex="(")
    result = run(lambda: one(t))
    assert (result.error, result.up) == ("invalid_regex", False)
    assert "header regex" in (result.error_detail or "")


@pytest.mark.parametrize(("path", "up"), [("/word", False), ("/", True)])
def test_keyword_absent(path: str, up: bool) -> None:
    async def main() -> CheckResult:
        async with serving() as (port, _):
            return await one(
                task(f"http://127.0.0.1:{port}{path}", regex="maintenance", regex_mode="absent")
            )

    result = run(main)
    assert (result.up, result.error) == (up, None), result
    assert result.regex_matched is (not up)  # still: was the pattern found?


def test_a_bearer_token_with_a_newline_is_a_config_error_never_sent() -> None:
    box = SecretBox(new_key())
    sealed = box.seal(7, "bearer", None, "tok\r\nX-Injected: 1")
    auth = TaskAuth(kind="bearer", sealed=base64.b64encode(sealed).decode())

    async def main() -> tuple[CheckResult, Seen]:
        async with serving() as (port, seen):
            return await one(
                task(f"http://127.0.0.1:{port}/", site_id=7, auth=auth), secrets=box
            ), seen

    result, seen = run(main)
    assert (result.error, result.up) == ("config", False), result
    assert "X-Injected" not in (result.error_detail or "") and seen.requests == []
