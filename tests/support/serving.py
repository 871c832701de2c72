"""Test servers that serve from a daemon thread for the length of a `with` block."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class InThread(socketserver.BaseServer):
    """Mixed in before a socketserver class: `with Server() as s:` serves, then closes."""

    def __enter__(self) -> Self:
        self._serving = threading.Thread(target=self.serve_forever, daemon=True)
        self._serving.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()
