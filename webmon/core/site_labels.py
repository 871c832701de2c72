"""A site's labels: its display name and its tags, the rules of both in one place.

The table holds the same rules as constraints (migration 0018); these functions say them in
words before the database has to, and bring what people type to the one form the table
keeps: a tag's key lower-cased, spaces around the tag and its colon dropped, a tag given
twice kept once. The API, the dashboard's form, the CSV import and the CLI all pass through
here, so `Env : Prod` is `env:Prod` whichever way it came in.

Tags as `key` or `key:value` follow Uptime Kuma's tags (a name with an optional value) and
Kubernetes' labels (a short key of restricted characters, a free value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_NAME = 100
MAX_TAGS = 20
MAX_KEY = 40
MAX_VALUE = 100

NAME_WORDS = f"a name is 1 to {MAX_NAME} characters without control characters"
TAG_WORDS = (
    f"a tag is key or key:value; the key 1 to {MAX_KEY} lower-case letters, digits, '_', "
    f"'.' or '-', starting with a letter or a digit; the value 1 to {MAX_VALUE} characters "
    "without a comma or a control character"
)
TAGS_WORDS = f"at most {MAX_TAGS} tags; {TAG_WORDS}"

_KEY = re.compile(rf"[a-z0-9][a-z0-9_.-]{{0,{MAX_KEY - 1}}}")


def _has_control(text: str) -> bool:
    return any(not c.isprintable() and c != " " for c in text)


def normal_name(name: str) -> str:
    """A display name as stored: trimmed; refused (ValueError, in the core's words) when
    empty, too long or holding a control character."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME or _has_control(name):
        raise ValueError(NAME_WORDS)
    return name


def normal_tag(tag: str) -> str:
    """A tag as stored: `key` or `key:value`, the key lower-cased, spaces around the tag and
    its colon dropped; ValueError (in the core's words) when it breaks the syntax."""
    key, colon, value = tag.partition(":")
    key, value = key.strip().lower(), value.strip()
    if not _KEY.fullmatch(key):
        raise ValueError(f"{TAG_WORDS} (got {tag.strip()!r})")
    if not colon:
        return key
    if not 1 <= len(value) <= MAX_VALUE or "," in value or _has_control(value):
        raise ValueError(f"{TAG_WORDS} (got {tag.strip()!r})")
    return f"{key}:{value}"


def normal_tags(tags: Iterable[str]) -> list[str]:
    """Each tag as stored, in order, each once; at most MAX_TAGS."""
    found: list[str] = []
    for tag in tags:
        if (normal := normal_tag(tag)) not in found:
            found.append(normal)
    if len(found) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags (got {len(found)})")
    return found


def tags_from_text(text: str) -> list[str]:
    """ "env:prod, team:web" (a form's field, a CSV cell, a flag) as a list; "" as []."""
    return [part for part in (p.strip() for p in text.split(",")) if part]


def tags_as_text(tags: Iterable[str]) -> str:
    return ", ".join(tags)
