"""Markdown that anyone may read on a public page: the text of an incident's updates and
its post-mortem, rendered to HTML that cannot run anything.

markdown-it-py (CommonMark) with raw HTML off: a `<script>` or an `onerror=` in the text
comes out escaped, as text; its link check refuses `javascript:`, `vbscript:`, `file:` and
non-image `data:` URLs, which stay as plain text. Links get `rel="nofollow noopener"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MD.enable("table").enable("strikethrough")


def _link_open(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow noopener")
    return str(renderer.renderToken(tokens, idx, options, env))


_MD.add_render_rule("link_open", _link_open)


def to_html(text: str) -> str:
    """`text` (Markdown) as safe HTML."""
    return str(_MD.render(text))
