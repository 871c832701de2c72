"""The documentation is a site that builds, the README stays a front door, and every shell
example is one the suite runs (or says why not)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs_examples import RUN_LANGUAGES, fenced_blocks, parse_page

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
README_MOST_LINES = 200
# Fences that hold commands a reader would paste into a shell: they must be `console`
# blocks, which the suite runs (tests/docs/test_examples.py) unless the page skips one.
SHELL_FENCES = {"sh", "bash", "shell", "shell-session", "zsh"}


@pytest.mark.timeout(120)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`, as `make docs` and CI run it: a broken link, a missing
    anchor, a page outside the navigation, or a setting without a meaning fails."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    configuration = (tmp_path / "configuration" / "index.html").read_text()
    assert "WEBMON_WRITER_LANES" in configuration  # the table made from the settings classes
    assert "settings-table" not in configuration
    assert "Trust model" in (tmp_path / "security" / "index.html").read_text()  # SECURITY.md


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MOST_LINES, len(lines)
    text = "\n".join(lines)
    for needed in ("make run", "make test", "docs/getting-started.md", "docs/img/overview.png"):
        assert needed in text, needed


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_shell_example_is_a_console_block(page: Path) -> None:
    shell = [
        (line, info)
        for line, info in fenced_blocks(page.read_text())
        if info.split()[0:1] and info.split()[0] in SHELL_FENCES
    ]
    assert not shell, f"{page}: write shell examples as ```console blocks: {shell}"


def test_the_pages_run_examples() -> None:
    """Most examples run: a page cannot turn into skip directives unnoticed."""
    counts = {"run": 0, "skipped": 0}
    for page in PAGES:
        for directives, example in parse_page(page).examples:
            assert example.region.lexemes["arguments"] in RUN_LANGUAGES
            counts["skipped" if directives else "run"] += 1
    assert counts["run"] >= 40 and counts["run"] > 2 * counts["skipped"], counts


def test_every_skip_says_why() -> None:
    for page in PAGES:
        for match in re.finditer(r"^<!--\s*(skip|xfail):\s*(\w+)(.*?)-->", page.read_text(), re.M):
            assert match[2] in ("next", "start", "end"), (page, match[0])
            if match[2] != "end":
                assert re.search(r'"[^"]{10,}"', match[3]), f"{page}: {match[0]} says no why"
