"""A local nginx as the target of the whole-system benchmarks: what a user's sites look like
(a 2 KB page from a C server that closes each connection), cheap enough to leave the
machine's cores to webmon.

Debian's `nginx-light` (or `nginx`) package: `apt-get install nginx-light`. Where it is
not installed, `nginx_target` yields None and the caller falls back to the project's own
Python target (`bench/http_engines.py`'s servers).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.http_engines import BODY
from devstack.localstack import free_port

# The same page as the Python target's, so a check's regex finds the same text.
PAGE = BODY.decode().rstrip("\n")
WORKERS = 2

_CONFIG = """
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/html;
    server {{
        listen 127.0.0.1:{port} backlog=8192;
        default_type "text/html; charset=utf-8";
        location / {{ return 200 "{page}"; }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    url: str
    pid: int  # the master: its tree holds the workers


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@contextmanager
def nginx_target() -> Iterator[Nginx | None]:
    """nginx on a free loopback port serving a 2 KB page, or None where it is missing."""
    binary = nginx_binary()
    if binary is None:
        yield None
        return
    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-nginx-"))
    port = free_port()
    (workdir / "nginx.conf").write_text(
        _CONFIG.format(workers=WORKERS, dir=workdir, port=port, page=PAGE)
    )
    proc = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", "stderr"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "stderr.log").open("ab"),
    )
    try:
        deadline = time.monotonic() + 15
        while not (workdir / "nginx.pid").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"nginx did not start: {(workdir / 'stderr.log').read_text()[-500:]}"
                )
            time.sleep(0.05)
        yield Nginx(f"http://127.0.0.1:{port}/", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
