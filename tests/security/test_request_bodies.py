"""The API checks the key before it reads a body, and caps bodies: an oversized one is a
413 without being read. Against the real API process (uvicorn), over raw sockets that send
a request's head and then nothing: an answer proves the body was not waited for."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from devstack.localstack import free_port
from tests.support.api import TEST_SECRET_KEY, make_key
from tests.support.db import Conn, count
from tests.support.processes import Process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MAX_BODY = 64 * 1024
MAX_BULK_BODY = 1024 * 1024
HUGE = 200 * 1024 * 1024  # declared, never sent
ANSWER_WITHIN_S = 10.0


@pytest.fixture
def api_port(db_url: str, processes: list[Process], tmp_path: Path) -> int:
    port = free_port()
    env = {
        "WEBMON_DATABASE_URL": db_url, "WEBMON_API_PORT": str(port),
        "WEBMON_SECRET_KEY": TEST_SECRET_KEY, "WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32",
        "WEBMON_API_MAX_BODY_BYTES": str(MAX_BODY),
        "WEBMON_API_MAX_BULK_BODY_BYTES": str(MAX_BULK_BODY),
    }  # fmt: skip
    api = Process("webmon.api", env, tmp_path, "api")
    processes.append(api)
    wait_for(lambda: api.logged("api.started"), what="the API to start")
    return port


def head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(sock: socket.socket) -> tuple[int, bytes]:
    """The answer's status and the answer, read until its head and its Content-Length of
    body are in, or the server closes."""
    sock.settimeout(ANSWER_WITHIN_S)
    data = b""
    while True:
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if _ and length and len(body) >= int(length[1]):
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 "), data[:200]
    return int(data.split(b" ", 2)[1]), data


def exchange(port: int, request: bytes, body: bytes = b"") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(request + body)
        return status_of(sock)


def test_no_key_is_refused_before_the_body_and_big_bodies_unread(api_port: int, db: Conn) -> None:
    write = make_key(db, "write")
    json_head = {"Content-Type": "application/json", "Content-Length": str(HUGE)}

    status, answer = exchange(api_port, head("/api/v1/sites", json_head))
    assert status == 401, answer
    assert b"application/problem+json" in answer
    wrong = {**json_head, "Authorization": "Bearer wm_not-a-key"}
    assert exchange(api_port, head("/api/v1/sites", wrong))[0] == 401

    keyed = {**json_head, "Authorization": f"Bearer {write}"}
    status, answer = exchange(api_port, head("/api/v1/sites", keyed))
    assert status == 413, answer
    assert b"WEBMON_API_MAX_BODY_BYTES" in answer
    assert exchange(api_port, head("/api/v1/sites/bulk", keyed))[0] == 413  # its own cap
    # A form of the dashboard, which needs no key, is capped alike.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(HUGE)}
    assert exchange(api_port, head("/login", form))[0] == 413


def test_a_chunked_body_is_cut_at_its_cap(api_port: int, db: Conn) -> None:
    write = make_key(db, "write")
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
               "Authorization": f"Bearer {write}"}  # fmt: skip
    with socket.create_connection(("127.0.0.1", api_port), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(head("/api/v1/sites", chunked))
        piece = b"x" * 16384
        for _ in range(MAX_BODY // len(piece) + 1):  # a little past the cap, never ended
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        status, answer = status_of(sock)
    assert status == 413, answer
    assert count(db, "SELECT count(*) FROM sites") == 0


def test_bodies_within_their_caps_are_taken(api_port: int, db: Conn) -> None:
    write = make_key(db, "write")
    sites = [{"url": f"http://127.0.0.1:9/{i}?{'p' * 1500}"} for i in range(200)]
    bulk = json.dumps(sites).encode()
    assert MAX_BODY < len(bulk) < MAX_BULK_BODY
    keyed = {"Content-Type": "application/json", "Authorization": f"Bearer {write}"}
    status, answer = exchange(
        api_port, head("/api/v1/sites/bulk", {**keyed, "Content-Length": str(len(bulk))}), bulk
    )
    assert status == 201, answer
    one = json.dumps(sites[0]).encode()
    status, _ = exchange(
        api_port, head("/api/v1/sites", {**keyed, "Content-Length": str(len(one))}), one
    )
    assert status == 201
    assert count(db, "SELECT count(*) FROM sites") == 201
