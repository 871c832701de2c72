"""`Authorization: Bearer <key>` on every route but /healthz (and the API's documents).

No key or an unknown or revoked one: 401. A key without the route's scope: 403. The key is
looked up before the request's body is read (`webmon.api.door`, which hands the caller to
the route's dependency here); the key's lookup, its cache and the revocation notices are
the core's (`webmon.core.keys`).
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import HTTPBearer

from webmon.api.common import core
from webmon.api.problems import Problem
from webmon.core import Core
from webmon.core.actors import Actor, Scope, grants

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="webmon"'}
# Where the door leaves the caller it found, in the request's ASGI scope.
CALLER = "webmon.caller"


async def identify(the_core: Core, authorization: str | None) -> Actor:
    """The caller an `Authorization` header stands for; `Problem(401)` for none."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "an API key is needed: Authorization: Bearer <key>", headers=CHALLENGE)
    caller = await the_core.keys.lookup(key.strip())
    if caller is None:
        raise Problem(401, "unknown or revoked API key", headers=CHALLENGE)
    return caller


class Caller(HTTPBearer):
    """A dependency: the caller, who holds at least `scope`.

    One dependency, and a security scheme itself, so that FastAPI documents the bearer key
    with the scope as its role (webmon.api.openapi documents a 403 for the routes that need
    more than read) without a second dependency to resolve on every request: the door has
    already read the header and left the caller in the scope."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="An API key: `webmon keys create`",
        )
        self.scope = scope

    async def __call__(self, request: Request) -> Actor:  # type: ignore[override]
        caller = request.scope.get(CALLER)
        if not isinstance(caller, Actor):
            caller = await identify(core(request), request.headers.get("authorization"))
        if not self.admits(caller):
            raise Problem(403, f"this key's scope is {caller.scope}; this needs {self.scope}")
        return caller

    def admits(self, caller: Actor) -> bool:
        """Whether the caller's scope is at least this dependency's."""
        return caller.scope is not None and grants(caller.scope, self.scope)


# The readers' dependency; webmon.api.hot_reads admits its callers with it too.
READER = Caller(Scope.READ)
READ = Security(READER, scopes=[Scope.READ.value])
WRITE = Security(Caller(Scope.WRITE), scopes=[Scope.WRITE.value])
ADMIN = Security(Caller(Scope.ADMIN), scopes=[Scope.ADMIN.value])
