"""What is judged before a request's body is read: the API key, and the body's size.

FastAPI reads (and parses) a route's body before it resolves the route's dependencies,
the key among them: a 200 MB POST without a key was read in full, and held, before its
401. This plain ASGI middleware answers first:

* under `/api/v1/` (but the OpenAPI document), a request without a valid key is a 401
  before a byte of its body is read; the caller found is left in the scope (`CALLER`)
  for the route's dependency, which judges its scope (`webmon.api.auth`);
* a request whose body is larger than its cap is a 413: at once when its Content-Length
  says so, else as soon as the bytes read pass the cap (a chunked body). The cap is
  WEBMON_API_MAX_BODY_BYTES; a bulk import's route has its own,
  WEBMON_API_MAX_BULK_BODY_BYTES. The dashboard's forms are capped alike.

An answer given before the body was read leaves the rest unread: uvicorn closes the
connection instead of reading on. A client that goes away before its body is in is logged
here, once, at INFO (`api.client_gone`): its trouble, not webmon's.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webmon.api.auth import CALLER, identify
from webmon.api.problems import Problem, problem_response
from webmon.core import Core

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"


class BodyTooLarge(HTTPException):
    """A body past its cap; an HTTPException, so that FastAPI's body reading passes it on
    and the problem handlers answer it (413)."""

    def __init__(self, cap: int, setting: str) -> None:
        super().__init__(413, f"the request's body is larger than {cap} bytes ({setting})")


class Door:
    def __init__(
        self,
        app: ASGIApp,
        *,
        core: Core,
        max_body: int,
        max_bulk_body: int,
        bulk_paths: Collection[str],
        open_paths: Collection[str],
    ) -> None:
        self.app = app
        self._core = core
        self._max_body = max_body
        self._max_bulk_body = max_bulk_body
        self._bulk_paths = frozenset(bulk_paths)
        self._open_paths = frozenset(open_paths)

    def _cap(self, path: str) -> tuple[int, str]:
        if path in self._bulk_paths:
            return self._max_bulk_body, "WEBMON_API_MAX_BULK_BODY_BYTES"
        return self._max_body, "WEBMON_API_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        authorization = declared = None
        chunked = False
        for name, value in scope["headers"]:  # one pass: names are lower-case in ASGI
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if path.startswith(API_PREFIX) and path not in self._open_paths:
            try:
                scope[CALLER] = await identify(self._core, authorization)
            except Problem as exc:
                await _answer(exc, scope, receive, send)
                return
        if declared is None and not chunked:  # no body to read, or to cap
            await self.app(scope, receive, send)
            return
        cap, setting = self._cap(path)
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _answer(BodyTooLarge(cap, setting), scope, receive, send)
            return
        await self._capped(scope, receive, send, cap, setting)

    async def _capped(
        self, scope: Scope, receive: Receive, send: Send, cap: int, setting: str
    ) -> None:
        read = 0
        started = gone = False

        async def counted() -> Message:
            nonlocal read, gone
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > cap:
                    raise BodyTooLarge(cap, setting)
            elif message["type"] == "http.disconnect":
                gone = True
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # raised where no handler answered it
            if started:
                raise
            await _answer(exc, scope, receive, send)
        finally:
            if gone:  # the client's trouble, not ours: no error, no traceback
                logger.info("api.client_gone method=%s path=%s read=%d", scope.get("method"),
                            scope.get("path"), read)  # fmt: skip


async def _answer(exc: Problem | HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    if isinstance(exc, Problem):
        response = problem_response(exc.status, exc.detail, title=exc.title, headers=exc.headers)
    else:
        response = problem_response(exc.status_code, str(exc.detail))
    await response(scope, receive, send)
