"""The docs' "Reading results" page shows the documented queries as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from webmon.core.history import DOCUMENTED as HISTORY

ROOT = Path(__file__).resolve().parents[2]
QUERIES = HISTORY
DOCUMENTED = [
    "uptime",
    "uptime_by_quorum",
    "p95_per_day",
    "down_now",
    "recent_events",
    "site_events_of_site",
    "slowest_now",
]


def test_the_file_holds_the_documented_queries() -> None:
    assert sorted(QUERIES) == sorted(DOCUMENTED)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_the_docs_show_the_history_queries_as_they_are(name: str) -> None:
    """Each block, its comment included, appears verbatim in a ```sql block of the page."""
    page = (ROOT / "docs" / "results.md").read_text()
    assert f"```sql\n{QUERIES[name]}\n```" in page


@pytest.mark.parametrize("name", DOCUMENTED)
def test_each_query_says_what_it_answers(name: str) -> None:
    first = QUERIES[name].splitlines()[0]
    assert first.startswith("-- ") and len(first) > 20, first
