"""The `webmon` command line in-process, in a thread of its own.

A command starts an event loop (`asyncio.run`), as its own process would, and it cannot
in a thread where one already runs: sync Playwright keeps one in the main thread once the
browser tests have run in this pytest process."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from webmon.cli import main


def webmon(*argv: str) -> tuple[int, str]:
    """(exit status, standard output)."""
    out = io.StringIO()
    with ThreadPoolExecutor(max_workers=1) as pool:
        code = pool.submit(main, list(argv), out=out).result()
    return code, out.getvalue()
