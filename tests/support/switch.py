"""A local HTTP target whose answer a test switches: 200 ("all good") or 503."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.serving import InThread


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, SwitchServer)
        status = 200 if server.healthy else 503
        body = b"all good" if server.healthy else b"down for maintenance"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class SwitchServer(InThread, ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.healthy = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/switch"
