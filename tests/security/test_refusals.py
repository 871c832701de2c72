"""A refusal teaches the caller nothing of the inside: a restricted check's `blocked`
detail names neither the refused address nor a resolver, and a restricted dns:// check
asks only a resolver it names, one the policy allows, never the checker's own.

127.0.0.2 stands in for an internal address, as in tests/checks/test_target_policy.py;
every packet stays on loopback (the checker's own resolvers are replaced by 127.0.0.3).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checker.probe import Prober, prober
from shared.messages import CheckResult, CheckTask
from tests.checks.test_target_policy import INTERNAL, POLICY, CountingServer
from tests.support.api import running_api
from tests.support.db import Conn, count

BLOCKED = "refused by the target policy"
SYSTEM_RESOLVER = "127.0.0.3"  # nothing listens there: a query would be a dns error


def task(url: str) -> CheckTask:
    now = datetime.now(UTC)
    return CheckTask(
        site_id=1, url=url, timeout_s=3.0, scheduled_at=now,
        expires_at=now + timedelta(minutes=1), restricted=True,
    )  # fmt: skip


def check(url: str) -> CheckResult:
    async def main() -> CheckResult:
        async with Prober(policy=POLICY) as p:
            return await p.check(task(url))

    return asyncio.run(main())


@pytest.fixture
def inside_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """A name that resolves to the internal address, as an internal DNS name would."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "db.inside.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (INTERNAL, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "db.inside.test"


@pytest.fixture
def system_resolvers(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    resolvers = (SYSTEM_RESOLVER,)
    monkeypatch.setattr(prober, "system_resolvers", lambda: resolvers)
    return resolvers


def test_a_name_that_resolves_inside_is_refused_without_its_address(inside_name: str) -> None:
    async def main() -> CheckResult:
        async with CountingServer(INTERNAL) as internal, Prober(policy=POLICY) as p:
            result = await p.check(task(f"http://{inside_name}:{internal.port}/"))
            assert await internal.accepted() == 0
            return result

    for result in (asyncio.run(main()), check(f"tcp://{inside_name}:5432")):
        assert (result.error, result.error_detail) == ("blocked", BLOCKED), result
        assert INTERNAL not in str(result), result


def test_a_restricted_dns_check_without_a_resolver_asks_none(
    system_resolvers: tuple[str, ...],
) -> None:
    result = check("dns:///www.example.test?type=A")
    assert result.error == "blocked", result
    assert result.error_detail is not None and result.error_detail.startswith(BLOCKED), result
    assert result.dns_ms is None, result  # no exchange with any resolver
    assert all(resolver not in str(result) for resolver in system_resolvers), result


def test_a_restricted_dns_check_may_not_ask_an_inside_resolver(inside_name: str) -> None:
    for url in (f"dns://{INTERNAL}/www.example.test", f"dns://{inside_name}/www.example.test"):
        result = check(url)
        assert (result.error, result.error_detail) == ("blocked", BLOCKED), result
        assert result.dns_ms is None, result


@pytest.mark.integration
def test_the_api_refuses_a_dns_check_without_its_resolver(db_url: str, db: Conn) -> None:
    with running_api(db_url, db) as api:
        for path, body in (
            ("/api/v1/tasks", {"name": "dns", "url": "dns:///www.example.test"}),
            ("/api/v1/sites", {"url": "dns:///www.example.test?type=MX"}),
        ):
            refused = api.post(path, body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "url"
            assert "resolver" in refused.json()["detail"]
        assert count(db, "SELECT count(*) FROM sites") == 0
        assert count(db, "SELECT count(*) FROM tasks") == 0
        named = api.post("/api/v1/sites", {"url": "dns://127.0.0.1:5353/www.example.test"})
        assert named.status_code == 201, named.text
