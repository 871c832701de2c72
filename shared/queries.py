"""Named SQL blocks from a component's `.sql` file, loaded once.

A file holds blocks that start with a marker line `-- name --`; everything up to the next
marker is that query. Modelled on procrastinate's `sql/queries.sql`.
"""

from __future__ import annotations

import re
from importlib import resources

_MARKER = re.compile(r"^-- ([a-z0-9_]+) --$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _MARKER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip()
    return queries


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    return parse_queries(resources.files(package).joinpath(filename).read_text("utf-8"))
