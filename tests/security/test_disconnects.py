"""A client that goes away in the middle of its request is not webmon's error: no ERROR, no
traceback; one line at INFO says it happened. Against the real API process."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from devstack.localstack import free_port
from tests.support.api import TEST_SECRET_KEY, make_key
from tests.support.db import Conn
from tests.support.processes import Process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_client_gone_mid_request_logs_no_error(
    db_url: str, db: Conn, processes: list[Process], tmp_path: Path
) -> None:
    port = free_port()
    env = {"WEBMON_DATABASE_URL": db_url, "WEBMON_API_PORT": str(port),
           "WEBMON_SECRET_KEY": TEST_SECRET_KEY}  # fmt: skip
    api = Process("webmon.api", env, tmp_path, "api")
    processes.append(api)
    wait_for(lambda: api.logged("api.started"), what="the API to start")
    write = make_key(db, "write")
    requests = [
        ("/api/v1/sites", {"Content-Type": "application/json", "Authorization": f"Bearer {write}"}),
        ("/api/v1/tasks", {"Content-Type": "application/json", "Authorization": f"Bearer {write}"}),
        ("/api/v1/sites/bulk", {"Content-Type": "application/json",
                                "Authorization": f"Bearer {write}"}),
        ("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]  # fmt: skip
    for path, headers in requests:
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 5000"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"url": "http')
        # gone: the socket is closed with 4,987 bytes of the body unsent
    # Each request has been dealt with once the server answers another after them all.
    wait_for(lambda: len(api.events("api.client_gone")) == len(requests), 30,
             "each request seen gone")  # fmt: skip
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    assert api.stop()[0] == 0
    levels = [line for line in api.events() if line.get("level") in ("error", "critical")]
    assert levels == [], levels
    assert "Traceback" not in api.output
    assert {line["level"] for line in api.events("api.client_gone")} == {"info"}
