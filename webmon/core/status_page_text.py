"""A status page's groups as text, one a line, as the dashboard's form and the CLI take
them: `Name: 1, 2, 3` (sites by id) or `Name: tag=KEY[:VALUE]` (sites by tag)."""

from __future__ import annotations

from typing import Any

from webmon.core.errors import Invalid
from webmon.core.status_pages import Group


def groups_from_text(text: str) -> list[dict[str, Any]]:
    """Groups written one a line, as the dashboard's form and the CLI take them:
    `Name: 1, 2, 3` (sites by id) or `Name: tag=KEY[:VALUE]` (sites by tag)."""
    groups: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, what = line.rpartition(":") if "tag=" not in line else line.partition(":")
        name, what = name.strip(), what.strip()
        if not sep or not name:
            raise Invalid("groups", f"line {n}: write 'Name: 1, 2, 3' or 'Name: tag=prod'")
        if what.startswith("tag="):
            groups.append({"name": name, "tag": what.removeprefix("tag=").strip()})
            continue
        try:
            ids = [int(x) for x in what.replace(",", " ").split()]
        except ValueError:
            raise Invalid("groups", f"line {n}: site ids are numbers: {what!r}") from None
        groups.append({"name": name, "site_ids": ids})
    return groups


def groups_to_text(groups: list[Group]) -> str:
    return "\n".join(
        f"{g.name}: tag={g.tag}" if g.tag and not g.site_ids
        else f"{g.name}: {', '.join(str(i) for i in g.site_ids)}" for g in groups
    )  # fmt: skip
