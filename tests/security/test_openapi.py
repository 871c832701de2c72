"""The OpenAPI document lists every status a route can answer, each refusal as
application/problem+json with the `Problem` schema (schemathesis holds the answers to it:
tests/api/test_fuzz.py)."""

from __future__ import annotations

from typing import Any

from webmon.api.app import create_app
from webmon.api.settings import ApiSettings

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def document() -> dict[str, Any]:
    settings = ApiSettings(_env_file=None, database_url="postgresql://unused/unused")  # type: ignore[call-arg]
    return create_app(settings).openapi()


def test_every_refusal_a_route_can_give_is_documented_as_a_problem() -> None:
    doc = document()
    assert {"type", "title", "status", "detail"} <= set(
        doc["components"]["schemas"]["Problem"]["properties"]
    )
    seen: set[int] = set()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            codes = {int(code) for code in responses}
            where = f"{method.upper()} {path}"
            assert {413, 503} <= codes, where
            if operation.get("security"):
                assert 401 in codes, where
                roles = {r for need in operation["security"] for rs in need.values() for r in rs}
                assert (403 in codes) == bool(roles & {"write", "admin"}), where
            if "{" in path:
                assert 404 in codes, where
            if "requestBody" in operation:
                assert {400, 422} <= codes, where
            for code in codes:
                if code >= 400 and not (path == "/healthz" and code == 503):
                    assert responses[str(code)]["content"] == PROBLEM, (where, code)
            seen |= codes
    assert {400, 401, 403, 404, 409, 413, 422, 429, 503} <= seen
    submit = doc["paths"]["/api/v1/tasks"]["post"]["responses"]
    assert {"409", "429"} <= set(submit)
    windows = doc["paths"]["/api/v1/windows"]["post"]["security"]
    assert windows == [{"HTTPBearer": ["admin"]}]
