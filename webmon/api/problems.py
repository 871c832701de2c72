"""Every error as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`.

Handlers are registered once, here. A constraint PostgreSQL refused is 422 naming the
constraint (the data is wrong, not the server); a lost database is 503; anything else
webmon did not foresee is a 500 with no internals in the body (they are logged).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import DatabaseError, DatabaseUnavailable

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# What a constraint means, in words, for the `detail` of a 422 (and the dashboard's forms).
CONSTRAINTS: dict[str, str] = {
    "sites_url_form": "the URL must be http(s)://host…, tcp://host:port, tls://host[:port] "
    "or dns://[resolver]/name",
    "sites_http_options": (
        "method, headers, a redirect limit and the other HTTP options (body, proxy, TLS, "
        "ip_version, require_tls, a header check, regex_mode) are options of http(s) URLs only"
    ),
    "sites_tls_without_regex": "a tls:// check reads nothing, so it cannot have a regex",
    "sites_url_length": "the URL may be at most 2,048 characters long",
    "sites_url_no_whitespace": "the URL may not contain spaces or control characters",
    "sites_url_no_userinfo": "the URL may not carry a user name or password; "
    "send credentials in headers",
    "sites_interval_range": "the interval must be between 1 second and 1 day",
    "sites_timeout_range": "the timeout must be more than 0 and at most 120 seconds",
    "sites_timeout_within_interval": "the timeout may not be longer than the interval",
    "sites_regex_length": "the regex may be at most 1,000 characters long",
    "sites_method": "the method must be GET, HEAD, POST or PUT",
    "sites_head_without_regex": "a HEAD request reads no body, so it cannot have a regex",
    "sites_body_length": "a body must be 1 to 65,536 bytes long",
    "sites_body_needs_method": "only a POST or PUT request carries a body",
    "sites_body_content_type": "a content type needs a body, and looks like type/subtype",
    "sites_proxy_http": "the proxy must be an http://host:port URL, without a path or credentials",
    "sites_tls_files": "a client certificate needs its key and a key its certificate; "
    "file paths are 1 to 4,096 characters without control characters",
    "sites_tls_server_name": "the TLS server name must be a host name",
    "sites_ip_version": "ip_version must be 4, 6 or null (any)",
    "sites_header_check": "a header check needs both a header name (an HTTP token) and a "
    "regex of at most 1,000 characters",
    "sites_header_mode": "header_mode must be match or not_match",
    "sites_regex_mode": "regex_mode must be match or absent, and absent needs a regex",
    "sites_restricted_options": "a site registered through the API may not use a proxy or "
    "files on the checker host (proxy, tls_ca_file, tls_cert_file, tls_key_file)",
    "site_auth_username": "a basic auth needs a user name without ':' (a bearer token none)",
    "sites_headers_valid": "headers must be a JSON object of at most 50 string values, "
    "with HTTP token names, no control characters, and none of the framing headers",
    "sites_expected_status_range": "expected statuses must lie within 100-599 and not be empty",
    "sites_max_redirects_range": "a site's redirect limit must be between 0 and 30",
    "tasks_url_form": "the URL must be http(s)://host…, tcp://host:port, tls://host[:port] "
    "or dns://[resolver]/name",
    "tasks_http_options": "method and headers are options of http(s) URLs only",
    "tasks_tls_without_regex": "a tls:// check reads nothing, so it cannot have a regex",
    "tasks_url_length": "the URL may be at most 2,048 characters long",
    "tasks_url_no_whitespace": "the URL may not contain spaces or control characters",
    "tasks_url_no_userinfo": "the URL may not carry a user name or password",
    "tasks_timeout_range": "the timeout must be more than 0 and at most 60 seconds",
    "tasks_regex_length": "the regex may be at most 1,000 characters long",
    "tasks_name_length": "the name must be 1 to 200 characters long",
    "tasks_method": "the method must be GET or HEAD",
    "tasks_head_without_regex": "a HEAD request reads no body, so it cannot have a regex",
    "tasks_headers_valid": "headers must be a JSON object of at most 50 string values",
}


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


def constraint_problem(exc: DatabaseError, item: int | None = None) -> Problem:
    """A 422 for a row that broke a constraint, naming it and saying it in words."""
    name = exc.constraint or "unknown"
    words = CONSTRAINTS.get(name, str(exc))
    where = "" if item is None else f"item {item}: "
    extra: dict[str, Any] = {"constraint": name}
    if item is not None:
        extra["item"] = item
    return Problem(422, f"{where}{words} (constraint {name})", title="Constraint violated", **extra)


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
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        return problem_response(
            422, f"{where}: {first['msg']}", title="Invalid request", errors=errors
        )

    @app.exception_handler(DatabaseUnavailable)
    async def _unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        logger.warning("api.db_unavailable path=%s error=%s", request.url.path, exc)
        return unavailable()

    @app.exception_handler(DatabaseError)
    async def _database(request: Request, exc: DatabaseError) -> JSONResponse:
        if exc.integrity:
            problem = constraint_problem(exc)
            return problem_response(
                problem.status, problem.detail, title=problem.title, **problem.extra
            )
        if exc.sqlstate is not None and exc.sqlstate.startswith("22"):  # bad data: a value
            return problem_response(422, str(exc), title="Invalid value")
        logger.error(
            "api.db_error path=%s sqlstate=%s error=%s", request.url.path, exc.sqlstate, exc
        )
        return problem_response(500, "the database refused the request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("api.unexpected path=%s", request.url.path)
        return problem_response(500, "an unexpected error; it was logged")
