"""The OpenAPI document, complete: every status a route can answer, as problem+json.

FastAPI documents a route's success and its validation error. A route of webmon's can also
refuse, and every refusal is `application/problem+json` (`webmon.api.problems`); this adds
to each operation the ones it can give, from what the document already says of it:

    400  a body that cannot be read ............................. routes with a body
    401  no key, an unknown or a revoked one .................... routes that take a key
    403  a key short of the route's scope ....................... routes that need write or admin
    404  no such site, task, channel, window .................... routes with a path parameter
    409  the request contradicts an earlier one ................. as the route declares (tasks)
    413  a body past its cap (webmon.api.door caps any request) . every route
    422  a value refused, naming the field and constraint ....... routes with parameters or a body
    429  over a limit for now, with Retry-After ................. as the route declares (tasks)
    503  the database cannot be reached ......................... every route

A route declares the statuses only it answers in its `responses`; their bodies are made
problem+json here too. schemathesis checks the answers against this document
(tests/api/test_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from webmon.api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WORDS = {
    400: "The body cannot be read",
    401: "No API key, or an unknown or revoked one (see WWW-Authenticate)",
    403: "The key's scope is short of what the route needs",
    404: "No such thing",
    409: "The request contradicts an earlier one",
    413: "The body is larger than its cap (WEBMON_API_MAX_BODY_BYTES)",
    422: "A value was refused: `field` and `constraint` name it",
    429: "Over a limit for now: try again after Retry-After seconds",
    503: "The database cannot be reached: try again (Retry-After)",
}
METHODS = ("get", "put", "post", "delete", "patch")


class Problem(BaseModel):
    """An error (RFC 9457): what went wrong, in words, and where when a value was refused."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="about:blank: the status says it")
    title: str
    status: int
    detail: str
    field: str | None = Field(default=None, description="the refused value's field")
    constraint: str | None = Field(default=None, description="the constraint it breaks")
    item: int | None = Field(default=None, description="the refused item of a batch (0-based)")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="each refused field of a request body"
    )


def statuses(path: str, operation: dict[str, Any]) -> set[int]:
    """The refusals an operation can answer, by the rules of the module's table."""
    found = {413, 503}
    roles = {role for need in operation.get("security", []) for roles in need.values()
             for role in roles}  # fmt: skip
    if operation.get("security"):
        found.add(401)
    if roles & {"write", "admin"}:
        found.add(403)
    if "{" in path:
        found.add(404)
    if "requestBody" in operation:
        found |= {400, 422}
    if operation.get("parameters"):
        found.add(422)
    return found


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every operation's refusals, as problem+json (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(statuses(path, operation) | declared):
                answer = responses.setdefault(str(status), {})
                answer.setdefault("description", WORDS.get(status, "Refused"))
                content = answer.get("content", {})
                if not content or ("application/json" in content and status == 422):
                    # FastAPI's own 422 model is not what webmon answers: a problem.
                    answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document (made once, on first asking)."""
    made: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or "Problem" not in app.openapi_schema.get(
            "components", {}
        ).get("schemas", {}):
            app.openapi_schema = complete(made())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
