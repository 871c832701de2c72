from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.queries import load_queries, parse_queries

ROOT = Path(__file__).resolve().parents[2]


def test_parse_named_blocks() -> None:
    text = "-- a --\nSELECT 1\n\n-- b_2 --\n-- a comment\nSELECT 2\n"
    assert parse_queries(text) == {"a": "SELECT 1", "b_2": "-- a comment\nSELECT 2"}


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- a --\nSELECT 1\n-- a --\nSELECT 2\n")


@pytest.mark.parametrize("package", ["scheduler", "checker"])
def test_every_query_the_code_asks_for_exists(package: str) -> None:
    sql_file = ROOT / package / "queries.sql"
    if not sql_file.exists():
        pytest.skip(f"{package} has no queries.sql")
    queries = load_queries(package)
    asked = set()
    for source in (ROOT / package).glob("*.py"):
        asked |= set(re.findall(r'QUERIES\["([a-z0-9_]+)"\]', source.read_text()))
    assert asked, f"{package} asks for no query by name"
    assert asked <= set(queries), asked - set(queries)


def test_no_query_formats_values_into_sql() -> None:
    for source in ROOT.glob("*/**/*.py"):
        if ".venv" in source.parts:
            continue
        text = source.read_text()
        assert not re.search(r'execute\(\s*f"', text), source
