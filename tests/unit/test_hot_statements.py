"""The hot reads' statements stay short enough for psycopg to cache their conversion.

psycopg converts a query's `%(name)s` placeholders on every execute, from a cache for a
query of at most MAX_CACHED_STATEMENT_LENGTH bytes, and with a regular expression over the
whole text for a longer one: ~50 µs more per read for a statement of 4 KB (measured on
`site_uptime` at 4,106 bytes against 3,835), a tenth of an uptime read. The comments of a
named block are part of its text."""

from __future__ import annotations

import pytest
from psycopg import _queries

from webmon.core.history import QUERIES as HISTORY
from webmon.core.sites import QUERIES as SITES

HOT = {"site_uptime": HISTORY["site_uptime"], "sites_json": SITES["sites_json"]}


@pytest.mark.parametrize("name", sorted(HOT))
def test_a_hot_statement_fits_psycopgs_cache(name: str) -> None:
    size = len(HOT[name].encode())
    assert size <= _queries.MAX_CACHED_STATEMENT_LENGTH, (name, size)
