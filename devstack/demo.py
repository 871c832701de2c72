"""A small local HTTP server with known behaviours, for `make run` to watch offline.

/ok        200, a short page
/health    200, {"status": "ok"}           (registered with a matching regex)
/error     500
/slow      answers after 5 s               (registered with a 2 s timeout)
/content   200, a page without "goodbye"   (registered with the regex "goodbye")
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_DEMO_PORT = 18080
SLOW_SECONDS = 5.0

_PAGES: dict[str, tuple[int, str, bytes]] = {
    "/ok": (200, "text/html", b"<html><body>webmon demo: all good</body></html>"),
    "/health": (200, "application/json", b'{"status": "ok", "version": "1.2.3"}'),
    "/error": (500, "text/plain", b"internal server error (on purpose)"),
    "/slow": (200, "text/plain", b"sorry, I am slow"),
    "/content": (200, "text/plain", b"hello from the demo server"),
}


def demo_sites(port: int) -> list[tuple[str, int, float, str | None]]:
    """(url, interval_seconds, timeout_seconds, regex) of the demo sites."""
    base = f"http://127.0.0.1:{port}"
    return [
        (f"{base}/ok", 10, 2.0, None),
        (f"{base}/health", 10, 2.0, r'"status":\s*"ok"'),
        (f"{base}/error", 10, 2.0, None),
        (f"{base}/slow", 10, 2.0, None),
        (f"{base}/content", 10, 2.0, "goodbye"),
    ]


class _Handler(BaseHTTPRequestHandler):
    server_version = "webmon-demo"

    def do_GET(self) -> None:
        status, content_type, body = _PAGES.get(self.path, (404, "text/plain", b"not found"))
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the checker gave up first (the /slow case): that is the point

    def log_message(self, format: str, *args: object) -> None:
        pass  # the checks themselves are the log


class DemoServer:
    def __init__(self, port: int = DEFAULT_DEMO_PORT) -> None:
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
