"""The core's refusals, under one root; each surface renders them in its own envelope.

    CoreError (WebmonError)
     ├── Invalid        a value breaks a rule: the field, the words, the constraint if one
     │                  (API 422, a message by the form's field, CLI exit 2, a CSV line)
     ├── NotFound       no such site, task, channel, window, key or user (404, exit 1)
     ├── Forbidden      this caller may not do this (403, exit 1)
     ├── Conflict       the request contradicts an earlier one (409, exit 1)
     └── Limited        over a limit for now; `retry_after` seconds (429, exit 1)

The words of a rule live once, in the core module that owns the rule; PostgreSQL's
constraints are the backstop, and a refused constraint is turned into the same `Invalid`
the core's own check would raise (`invalid_from_database`). pydantic's refusals of an input
model become `Invalid` through `invalid_from_validation`, whichever surface fed the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from shared.errors import DatabaseError, WebmonError

# The words for a field nobody knows, on every surface.
UNKNOWN_FIELD = "not a known field"


class CoreError(WebmonError):
    """Root of the core's refusals."""


class Invalid(CoreError):
    """`field`'s value breaks a rule. `item` is the position of the refused element of a
    batch (0-based), and `line` its line in a text (1-based), when there is one: a surface
    names whichever its user gave."""

    def __init__(
        self,
        field: str | None,
        message: str,
        *,
        constraint: str | None = None,
        item: int | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.constraint = constraint
        self.item = item
        self.line = line

    def at(self, item: int | None = None, line: int | None = None) -> Invalid:
        """The same refusal, of the `item`-th element of a batch or of a text's `line`."""
        return Invalid(
            self.field,
            self.message,
            constraint=self.constraint,
            item=self.item if item is None else item,
            line=self.line if line is None else line,
        )

    def __str__(self) -> str:
        """`field: words (constraint name)`: how the API and the CLI say it."""
        where = f"{self.field}: " if self.field else ""
        named = f" (constraint {self.constraint})" if self.constraint else ""
        return f"{where}{self.message}{named}"


class NotFound(CoreError):
    pass


class Forbidden(CoreError):
    pass


class Conflict(CoreError):
    pass


class Limited(CoreError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# What each constraint means: the field it is about and its words. Each aggregate's module
# holds the entries of its own table; a refused constraint of another table names itself.
ConstraintWords = Mapping[str, tuple[str, str]]


def invalid_from_database(
    exc: DatabaseError, words: ConstraintWords, item: int | None = None
) -> Invalid:
    """A row PostgreSQL refused, as the core's own check would have said it."""
    name = exc.constraint or ""
    field, message = words.get(name, (None, str(exc)))
    return Invalid(field, message, constraint=name or None, item=item)


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return UNKNOWN_FIELD
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_of(loc: Sequence[Any]) -> tuple[int | None, str | None]:
    """(the batch item, the field) of a pydantic error location, without FastAPI's `body`
    and without the parts below a field (a header's name, a union's member)."""
    parts = [p for p in loc if p != "body"]
    item = None
    if parts and isinstance(parts[0], int):
        item, parts = parts[0], parts[1:]
    field = next((str(p) for p in parts if isinstance(p, str)), None)
    return item, field


def invalid_from_errors(errors: Sequence[Mapping[str, Any]]) -> list[Invalid]:
    """pydantic's (or FastAPI's) error list, one `Invalid` per field, first error first."""
    found: dict[tuple[int | None, str | None], Invalid] = {}
    for error in errors:
        item, field = field_of(error.get("loc", ()))
        found.setdefault((item, field), Invalid(field, _message(error), item=item))
    return list(found.values())


def invalid_from_validation(exc: ValidationError) -> Invalid:
    """The first refusal of a model's validation."""
    return invalid_from_errors(exc.errors())[0]
