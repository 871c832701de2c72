"""`webmon status-pages …`: a page, an incident, its updates and a post-mortem from the
command line, through the same core rules as the API."""

from __future__ import annotations

import pytest

from tests.support.cli import webmon
from tests.support.db import Conn, add_sites

pytestmark = pytest.mark.integration


def test_a_page_and_an_incident_from_the_command_line(
    cli_env: dict[str, str], db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = add_sites(db, 2)
    assert webmon(
        "status-pages",
        "add",
        "acme",
        "--title",
        "Acme",
        "--group",
        f"API: {a}",
        "--group",
        "Web: tag=web",
    ) == (0, "added status page acme: public at /status/acme\n")
    assert webmon(
        "status-pages", "incident", "acme", "--title", "Slow", "--body", "Looking", "--site", str(a)
    ) == (0, "incident 1 on acme: Slow (investigating)\n")
    assert (
        webmon("status-pages", "incident", "acme", "--title", "x", "--body", "y", "--site", str(b))[
            0
        ]
        == 2
    )
    assert "not on status page 'acme'" in capsys.readouterr().err
    assert webmon("status-pages", "postmortem", "acme", "1", "--body", "early")[0] == 2
    assert "resolve it first" in capsys.readouterr().err
    assert webmon(
        "status-pages", "update", "acme", "1", "--status", "resolved", "--body", "Fixed"
    ) == (0, "incident 1 on acme is resolved\n")
    assert webmon("status-pages", "postmortem", "acme", "1", "--body", "A deploy")[0] == 0
    code, shown = webmon("status-pages", "show", "acme")
    assert code == 0 and f"API: {a}" in shown and "Web: tag=web" in shown
    assert "resolved" in shown and "Slow" in shown
    assert db.execute("SELECT postmortem FROM status_page_incidents").fetchone() == ("A deploy",)
    code, listed = webmon("status-pages", "list")
    assert code == 0 and "acme" in listed and "Acme" in listed
    assert webmon("status-pages", "remove", "acme") == (0, "removed status page acme\n")
    assert db.execute("SELECT count(*) FROM status_page_incidents").fetchone() == (0,)
