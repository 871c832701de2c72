"""`/api/v1/status/summary`: how many sites are up, down and not checked yet."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shared.db import AsyncDatabase
from webmon.api.auth import READ, Caller
from webmon.api.common import json_response
from webmon.api.schemas import Summary
from webmon.readmodel import SITES

router = APIRouter(prefix="/api/v1/status", tags=["status"])


@router.get("/summary", response_model=Summary, summary="Counts of enabled sites by state")
async def summary(request: Request, caller: Caller = READ) -> Response:
    db: AsyncDatabase = request.app.state.db
    row = await db.fetchone(SITES["status_summary"])
    up, down, unchecked, disabled = row or (0, 0, 0, 0)
    return json_response({"up": up, "down": down, "unchecked": unchecked, "disabled": disabled})
