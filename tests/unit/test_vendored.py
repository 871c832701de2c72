"""Every vendored front-end file is the one its record names, with its licence beside it,
and the templates load only files the package serves."""

from __future__ import annotations

import re
from pathlib import Path

from devstack import vendor

STATIC = Path(vendor.__file__).resolve().parents[1] / "webmon" / "web" / "static"
TEMPLATES = STATIC.parent / "templates"


def test_every_vendored_file_matches_its_record() -> None:
    assert vendor.check() == []


def test_pages_load_no_script_or_style_from_elsewhere() -> None:
    found = 0
    for template in TEMPLATES.glob("*.html"):
        pattern = r'(?:src|href)="([^"{?]+\.(?:js|css))(?:\?[^"]*)?"'
        for ref in re.findall(pattern, template.read_text()):
            assert ref.startswith("/static/"), f"{template.name} loads {ref}"
            assert (STATIC / ref.removeprefix("/static/")).is_file(), ref
            found += 1
    assert found >= 4  # htmx, uPlot's script and style, webmon's own
