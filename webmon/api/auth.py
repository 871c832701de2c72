"""`Authorization: Bearer <key>` on every route but /healthz.

No key or an unknown or revoked one: 401. A key without the route's scope: 403. The key's
lookup, its cache and the revocation notices are the core's (`webmon.core.keys`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from webmon.api.common import core
from webmon.api.problems import Problem
from webmon.core.actors import Actor, Scope, grants

bearer = HTTPBearer(auto_error=False, description="An API key: `webmon keys create`")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="webmon"'}


def require(scope: Scope) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the caller, who holds at least `scope`."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Actor:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401, "an API key is needed: Authorization: Bearer <key>", headers=CHALLENGE
            )
        caller = await core(request).keys.lookup(credentials.credentials)
        if caller is None:
            raise Problem(401, "unknown or revoked API key", headers=CHALLENGE)
        assert caller.scope is not None
        if not grants(caller.scope, scope):
            raise Problem(403, f"this key's scope is {caller.scope}; this needs {scope}")
        request.state.caller = caller
        return caller

    return dependency


READ = Depends(require(Scope.READ))
WRITE = Depends(require(Scope.WRITE))
ADMIN = Depends(require(Scope.ADMIN))
