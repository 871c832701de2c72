"""`Authorization: Bearer <key>` on every route but /healthz (and the API's documents).

No key or an unknown or revoked one: 401. A key without the route's scope: 403. The key is
looked up before the request's body is read (`webmon.api.door`, which hands the caller to
the route's dependency here); the key's lookup, its cache and the revocation notices are
the core's (`webmon.core.keys`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from webmon.api.common import core
from webmon.api.problems import Problem
from webmon.core import Core
from webmon.core.actors import Actor, Scope, grants

bearer = HTTPBearer(auto_error=False, description="An API key: `webmon keys create`")
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


def require(scope: Scope) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the caller, who holds at least `scope`."""

    # The scope is the security requirement's role in the OpenAPI document (webmon.api.openapi
    # documents a 403 for the routes that need more than read).
    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer, scopes=[scope.value]),
    ) -> Actor:
        caller = request.scope.get(CALLER)
        if not isinstance(caller, Actor):
            caller = await identify(core(request), request.headers.get("authorization"))
        assert caller.scope is not None
        if not grants(caller.scope, scope):
            raise Problem(403, f"this key's scope is {caller.scope}; this needs {scope}")
        request.state.caller = caller
        return caller

    return dependency


READ = Depends(require(Scope.READ))
WRITE = Depends(require(Scope.WRITE))
ADMIN = Depends(require(Scope.ADMIN))
