"""A stand-in for an internal service: an HTTP server on 127.0.0.2 that counts the
connections it accepted, so that a test can prove none reached it."""

from __future__ import annotations

import socketserver
import threading

from tests.support.serving import InThread

INTERNAL_ADDRESS = "127.0.0.2"  # blocked: tests allow only 127.0.0.1/32


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, InternalServer)
        with server.lock:
            server.accepted += 1
        self.request.recv(65536)
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret"
        )


class InternalServer(InThread, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__((INTERNAL_ADDRESS, 0), _Handler)
        self.lock = threading.Lock()
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://{INTERNAL_ADDRESS}:{self.server_address[1]}/"
