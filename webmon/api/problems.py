"""Every error as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`.

Handlers are registered once, here. The core's refusals (`webmon.core.errors`) map to 422,
404, 403, 409 and 429; a request body that fails its model is a 422 in the core's words; a
lost database is 503; a client that went away mid-request gets no problem (it is gone;
`webmon.api.door` logs it at INFO); anything else webmon did not foresee is a 500 with no
internals in the body (they are logged).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from shared.errors import DatabaseError, DatabaseUnavailable
from webmon.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Limited,
    NotFound,
    invalid_from_errors,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raised by routes: answered as problem+json with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def unavailable() -> JSONResponse:
    return problem_response(
        503, "the database cannot be reached; try again", headers={"Retry-After": "5"}
    )


def invalid_response(exc: Invalid, **more: Any) -> JSONResponse:
    """A 422 for a value the core refused: `field: words (constraint name)`, with the
    field, the constraint and the batch item apart for a program to read."""
    extra: dict[str, Any] = dict(more)
    if exc.field is not None:
        extra["field"] = exc.field
    if exc.constraint is not None:
        extra["constraint"] = exc.constraint
    where = ""
    if exc.item is not None:
        extra["item"] = exc.item
        where = f"item {exc.item}: "
    title = "Constraint violated" if exc.constraint else "Invalid request"
    return problem_response(422, f"{where}{exc}", title=title, **extra)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # In the core's words (webmon.core.errors), as every other surface says them.
        found = invalid_from_errors(exc.errors()) or [Invalid(None, "invalid request")]
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": invalid_from_errors([error])[0].message,
            }
            for error in exc.errors()
        ]
        return invalid_response(found[0], errors=errors)

    @app.exception_handler(Invalid)
    async def _core_invalid(request: Request, exc: Invalid) -> JSONResponse:
        return invalid_response(exc)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return problem_response(403, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(409, str(exc))

    @app.exception_handler(Limited)
    async def _limited(request: Request, exc: Limited) -> JSONResponse:
        return problem_response(429, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(DatabaseUnavailable)
    async def _unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        logger.warning("api.db_unavailable path=%s error=%s", request.url.path, exc)
        return unavailable()

    @app.exception_handler(DatabaseError)
    async def _database(request: Request, exc: DatabaseError) -> JSONResponse:
        if exc.integrity:  # a constraint no core module words: named as it is
            return invalid_response(Invalid(None, str(exc), constraint=exc.constraint))
        if exc.sqlstate is not None and exc.sqlstate.startswith("22"):  # bad data: a value
            return problem_response(422, str(exc), title="Invalid value")
        logger.error(
            "api.db_error path=%s sqlstate=%s error=%s", request.url.path, exc.sqlstate, exc
        )
        return problem_response(500, "the database refused the request")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # Nobody reads this answer; the door logs the departure (webmon.api.door).
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("api.unexpected path=%s", request.url.path)
        return problem_response(500, "an unexpected error; it was logged")
