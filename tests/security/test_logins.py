"""Failed logins are limited per client address, which no X-Forwarded-For changes unless it
comes from a trusted proxy (WEBMON_TRUSTED_PROXIES, none by default), and per account,
with a lockout that ends by itself. Against the real API process (uvicorn, which on its
own believes X-Forwarded-For from 127.0.0.1); clients connect from several loopback
addresses (Linux routes all of 127/8 to lo)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from devstack.localstack import free_port
from tests.support.api import TEST_SECRET_KEY
from tests.support.db import Conn
from tests.support.processes import Process, wait_for
from webmon.core.users import QUERIES as USERS
from webmon.core.users import hash_password

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PASSWORD = "correct horse"


def api_process(db_url: str, processes: list[Process], tmp_path: Path, **extra: str) -> str:
    port = free_port()
    env = {"WEBMON_DATABASE_URL": db_url, "WEBMON_API_PORT": str(port),
           "WEBMON_SECRET_KEY": TEST_SECRET_KEY, **extra}  # fmt: skip
    api = Process("webmon.api", env, tmp_path, "api")
    processes.append(api)
    wait_for(lambda: api.logged("api.started"), what="the API to start")
    return f"http://127.0.0.1:{port}"


@contextmanager
def client(base: str, source: str = "127.0.0.1") -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=30) as c:
        yield c


def attempt(c: httpx.Client, name: str, password: str, forwarded_for: str | None = None) -> int:
    """A login through the form (with its CSRF token when it has one): the answer's status."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    page = c.get("/login", headers=headers)
    fields = {"username": name, "password": password, "next": "/"}
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if token:
        fields["csrf"] = token[1]
    return c.post("/login", data=fields, headers=headers).status_code


def from_address(base: str, source: str, name: str, password: str) -> int:
    with client(base, source) as c:
        return attempt(c, name, password)


def add_user(db: Conn, name: str = "ada") -> None:
    db.execute(USERS["add_user"], {"name": name, "password_hash": hash_password(PASSWORD)})


def test_failed_logins_are_limited_per_address_and_per_account(
    db_url: str, db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    add_user(db)
    base = api_process(db_url, processes, tmp_path)

    # A header does not make another client: the eleventh failure from here is refused,
    # and so is the right password, from here.
    with client(base) as c:
        codes = [attempt(c, f"nobody{i}", "wrong", f"127.9.0.{i}") for i in range(15)]
        assert codes == [401] * 10 + [429] * 5
        assert attempt(c, "ada", PASSWORD, "127.9.1.1") == 429
    assert from_address(base, "127.0.0.7", "ada", PASSWORD) == 303  # another address may

    # Ten failures for one account, each from another address, lock the account: the
    # right password is refused from anywhere until the lockout ends.
    codes = [from_address(base, f"127.0.1.{i}", "ada", "wrong") for i in range(1, 11)]
    assert codes == [401] * 10
    assert from_address(base, "127.0.1.50", "ada", PASSWORD) == 429
    # The lockout's end, without waiting out its 15 minutes:
    db.execute("UPDATE users SET locked_until = now() - interval '1 second' WHERE name = 'ada'")
    assert from_address(base, "127.0.1.51", "ada", PASSWORD) == 303

    # A name nobody has is limited alike: a lockout does not tell which names exist.
    codes = [from_address(base, f"127.0.2.{i}", "ghost", "wrong") for i in range(1, 12)]
    assert codes == [401] * 10 + [429]


def test_a_trusted_proxy_names_the_client(
    db_url: str, db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    base = api_process(db_url, processes, tmp_path, WEBMON_TRUSTED_PROXIES="127.0.0.1/32")
    with client(base) as proxy:
        codes = [attempt(proxy, f"nobody{i}", "wrong", "127.9.9.1") for i in range(11)]
        assert codes == [401] * 10 + [429]
        assert attempt(proxy, "nobody", "wrong", "127.9.9.2") == 401  # another client
    with client(base, "127.0.0.8") as stranger:  # not a trusted proxy: its header is ignored
        codes = [attempt(stranger, f"other{i}", "wrong", "127.9.9.3") for i in range(11)]
        assert codes == [401] * 10 + [429]
        assert attempt(stranger, "other", "wrong", "127.9.9.4") == 429
