"""Body regexes for the probe: RE2 only, compiled once per pattern, searched on decoded text.

RE2 runs in time linear in the text, but "linear" still means up to ~2 s of CPU for a
hostile pattern (a DFA that explodes, e.g. `a[ab]{200}c`) on a 1 MB body. RE2 releases
the GIL while matching, so a search is cheap to run in a worker thread; the probe does that
for large bodies (`checker.probe.body`) so that the event loop keeps serving other checks.

Options, chosen on purpose:

* `max_mem` 8 MiB (RE2's default, stated explicitly): bounds the compiled program and
  the DFA cache of each pattern. A program that does not fit fails to compile, and that
  failure is reported as an invalid regex, never silently. A DFA that runs out of cache
  on a large body makes RE2 fall back to its NFA: same answer, slower, still linear.
* `never_capture`: groups are not needed to answer "does it match?", and submatch
  tracking made a pattern like `(.*a){20}` 60x slower on 1 MB.
* `log_errors` off: RE2 would otherwise print to stderr for each bad pattern.
"""

from __future__ import annotations

import codecs
import functools
from typing import Any

import re2

MAX_MEM = 8 << 20
CACHE_SIZE = 4096

# Codecs Python knows that no web page is really encoded in; some are slow or raise on
# any input. A body that claims one of them is decoded as UTF-8 instead.
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})


class RegexError(ValueError):
    """The pattern is not something RE2 accepts (syntax, or too large a program)."""


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_MEM
    options.never_capture = True
    options.log_errors = False
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(pattern: str) -> tuple[Any, str | None]:
    try:
        return re2.compile(pattern, _OPTIONS), None
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "rejected by RE2"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return None, str(reason)
    except (TypeError, ValueError) as exc:  # e.g. a lone surrogate that cannot be UTF-8
        return None, str(exc)


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 object for `pattern` (cached, failures too); `RegexError` if invalid."""
    compiled, error = _compile(pattern)
    if compiled is None:
        raise RegexError(error)
    return compiled


@functools.lru_cache(maxsize=256)
def _codec(charset: str) -> str:
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return "utf-8"
    return info.name


def codec_name(charset: str | None) -> str:
    """A Python text codec name for a declared charset; "utf-8" when none, unknown or unfit."""
    return _codec(charset.strip().lower()) if charset else "utf-8"


def decode_body(body: bytes, charset: str | None) -> str:
    """Text of `body` in its declared charset, else UTF-8; undecodable bytes become U+FFFD."""
    if charset:
        try:
            return body.decode(codec_name(charset), "replace")
        except Exception:  # a codec that raises even with errors="replace"
            pass
    return body.decode("utf-8", "replace")


def search_body(regex: Any, body: bytes, charset: str | None) -> bool:
    """Whether `regex` (from `compile_regex`) is found anywhere in the decoded body."""
    return regex.search(decode_body(body, charset)) is not None
