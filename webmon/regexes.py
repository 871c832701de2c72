"""A submitted regex is judged by the same RE2 compiler, with the same limits, as the
checkers will use: refused at once (422) rather than recorded later as `invalid_regex`."""

from __future__ import annotations

from checker.probe.regex import RegexError, compile_regex


def regex_problem(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it compiles."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        return str(exc)
    return None
