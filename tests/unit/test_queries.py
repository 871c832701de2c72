from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.queries import parse_queries

ROOT = Path(__file__).resolve().parents[2]


def test_parse_named_blocks() -> None:
    text = "-- a --\nSELECT 1\n\n-- b_2 --\n-- a comment\nSELECT 2\n"
    assert parse_queries(text) == {"a": "SELECT 1", "b_2": "-- a comment\nSELECT 2"}


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- a --\nSELECT 1\n-- a --\nSELECT 2\n")


# Each .sql file of named blocks, and the Python modules that ask for its blocks by name.
SQL_FILES = {
    "scheduler/queries.sql": ["scheduler/*.py"],
    "checker/writer/queries.sql": ["checker/writer/*.py"],
    "webmon/core/sites.sql": ["webmon/core/sites.py"],
    "webmon/core/tasks.sql": ["webmon/core/tasks.py"],
    "webmon/core/channels.sql": ["webmon/core/channels.py"],
    "webmon/core/windows.sql": ["webmon/core/windows.py"],
    "webmon/core/keys.sql": ["webmon/core/keys.py"],
    "webmon/core/users.sql": ["webmon/core/users.py"],
    "webmon/core/incidents.sql": ["webmon/core/incidents.py"],
    "webmon/core/regions.sql": ["webmon/core/regions.py"],
    "webmon/core/site_history.sql": ["webmon/core/history.py"],
    "webmon/core/site_regions.sql": ["webmon/core/site_regions.py"],
    "webmon/core/history.sql": ["webmon/core/history.py", "bench/*.py"],
}
USERS = {
    "webmon/core/history.sql": re.compile(r'\b(?:DOCUMENTED|HISTORY)\["([a-z0-9_]+)"\]'),
}
DEFAULT_USER = re.compile(r'QUERIES\["([a-z0-9_]+)"\]')


@pytest.mark.parametrize("sql_file", sorted(SQL_FILES))
def test_every_query_the_code_asks_for_exists(sql_file: str) -> None:
    queries = parse_queries((ROOT / sql_file).read_text())
    pattern = USERS.get(sql_file, DEFAULT_USER)
    asked = set()
    for glob in SQL_FILES[sql_file]:
        for source in ROOT.glob(glob):
            asked |= set(pattern.findall(source.read_text()))
    assert asked, f"nothing asks for a query of {sql_file} by name"
    assert asked <= set(queries), asked - set(queries)


def test_no_query_formats_values_into_sql() -> None:
    for source in ROOT.glob("*/**/*.py"):
        if ".venv" in source.parts:
            continue
        text = source.read_text()
        assert not re.search(r'execute\(\s*f"', text), source
