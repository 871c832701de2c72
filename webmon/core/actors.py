"""Who asks the core to act: the operator, an API key, or a dashboard user.

The operator (SQL, the CLI, the environment) is trusted: what it registers is checked
without the target policy. Everything that arrives through the API or the dashboard comes
from someone the operator let in with less trust: what they shape is checked under the
target policy (`webmon.core.site_rules`), and their scope limits what they may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Scope(StrEnum):
    """read: GET anything; write: also change sites and submit tasks; admin: everything."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


def grants(held: Scope, needed: Scope) -> bool:
    return _RANK[held] >= _RANK[needed]


@dataclass(frozen=True)
class Actor:
    kind: Literal["operator", "key", "user"]
    id: int | None = None
    scope: Scope | None = None
    name: str = ""

    @property
    def trusted(self) -> bool:
        """The operator's requests are its own; nobody else's are."""
        return self.kind == "operator"

    @property
    def admin(self) -> bool:
        return self.trusted or (self.scope is not None and grants(self.scope, Scope.ADMIN))

    @property
    def key_id(self) -> int | None:
        return self.id if self.kind == "key" else None

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None

    def __str__(self) -> str:
        return "operator" if self.trusted else f"{self.kind} {self.id}"


OPERATOR = Actor("operator")


def api_key(key_id: int, scope: Scope, name: str = "") -> Actor:
    return Actor("key", key_id, scope, name)


def dashboard_user(user_id: int, name: str = "") -> Actor:
    """A dashboard user, whom the operator added by name: they manage sites, tasks,
    channels and windows as an admin key does, but are not the operator."""
    return Actor("user", user_id, Scope.ADMIN, name)
