"""Sites from text: a CSV file with a header row naming site fields, or one URL per line.

The CLI's `webmon sites import FILE.csv`, the dashboard's pasted list and its uploaded file
all read through here and add through `Sites.add_many`, the same function as a single
add: the same checks, the same words, and a refusal names its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from webmon.core.errors import UNKNOWN_FIELD, Invalid, invalid_from_validation
from webmon.core.site_rules import SiteIn
from webmon.core.site_text import TEXT_FIELDS, fields_from_text

MAX_LINES = 100_000


@dataclass(frozen=True)
class Parsed:
    """The sites of a text, each with the line it came from."""

    lines: list[int]
    sites: list[SiteIn]

    def line_of(self, refused: Invalid) -> Invalid:
        """A refusal of the `item`-th site (from `add_many`), naming its line instead."""
        if refused.item is None:
            return refused
        return Invalid(
            refused.field, refused.message, constraint=refused.constraint,
            line=self.lines[refused.item],
        )  # fmt: skip


def site_of(values: dict[str, str], extra: Mapping[str, Any] | None = None) -> SiteIn:
    """One site from its fields as text (and `extra` fields as they are: a form's `auth`),
    in the model's words when refused."""
    try:
        return SiteIn.model_validate({**fields_from_text(values, new=True), **(extra or {})})
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None


def parse_sites(text: str, *, max_lines: int = MAX_LINES) -> Parsed:
    """CSV with a header row whose first column is `url` (any other column a site field:
    interval_seconds, timeout_seconds, regex, method, headers, expected_status, ...), or one
    URL per line. Blank lines are skipped; lines are numbered as in the text."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise Invalid(None, "nothing to import: one URL per line, or CSV with a header row")
    if not numbered[0][1].strip().lower().startswith("url"):
        rows = [(n, {"url": line.strip()}) for n, line in numbered]
    else:
        header_line, header = numbered[0]
        columns = [name.strip() for name in next(csv.reader([header]))]
        for name in columns:
            if name not in TEXT_FIELDS:
                raise Invalid(name, UNKNOWN_FIELD, line=header_line)
        if len(set(columns)) != len(columns):
            raise Invalid(None, "a column is named twice in the header row", line=header_line)
        reader = csv.reader(io.StringIO("\n".join(line for _, line in numbered[1:])))
        # A site's fields hold no newline, so each CSV record is one line.
        rows = []
        for (n, _), record in zip(numbered[1:], reader, strict=False):
            if len(record) > len(columns):
                raise Invalid(None, f"{len(record)} values for {len(columns)} columns", line=n)
            rows.append((n, dict(zip(columns, record, strict=False))))
    if len(rows) > max_lines:
        raise Invalid(None, f"at most {max_lines:,} sites at once")
    lines, sites = [], []
    for n, values in rows:
        try:
            sites.append(site_of(values))
        except Invalid as exc:
            raise exc.at(line=n) from None
        lines.append(n)
    return Parsed(lines, sites)
