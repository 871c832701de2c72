"""`/api/v1/status/summary`: how many sites are up, down and not checked yet."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from webmon.api.auth import READ
from webmon.api.common import core, json_response
from webmon.core.actors import Actor
from webmon.core.site_views import Summary

router = APIRouter(prefix="/api/v1/status", tags=["status"])


@router.get("/summary", response_model=Summary, summary="Counts of enabled sites by state")
async def summary(request: Request, caller: Actor = READ) -> Response:
    return json_response(await core(request).sites.summary())
