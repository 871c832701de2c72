"""`/healthz` (no key) and `/metrics` (a read key: Prometheus sends it as a bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webmon.api.auth import READ
from webmon.api.common import core, json_response
from webmon.api.schemas import Health
from webmon.core.actors import Actor

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="200 when PostgreSQL answers, 503 otherwise; needs no key",
    responses={503: {"model": Health}},
)
async def healthz(request: Request) -> Response:
    if not await core(request).healthy():
        return json_response({"status": "fail", "database": "lost"}, 503)
    return json_response({"status": "ok", "database": "ok"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, caller: Actor = READ) -> Response:
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
