"""`/api/v1/regions`: the regions sites are checked from, their checkers' health, canaries
and outages; a region's canary is set here. The rules are the core's
(`webmon.core.regions`). Naming a canary changes which checks count, so it takes the admin
scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from shared.messages.bounds import REGION_PATTERN
from webmon.api.auth import ADMIN, READ
from webmon.api.common import core, json_response
from webmon.core.actors import Actor
from webmon.core.regions import CanaryIn, Region, RegionCanary

router = APIRouter(prefix="/api/v1/regions", tags=["regions"])

RegionName = Annotated[str, Path(pattern=REGION_PATTERN, max_length=40)]
# The window a region's checks are counted over, in seconds: a minute to a day.
Window = Annotated[int, Query(ge=60, le=86_400, description="seconds counted back from now")]


@router.get(
    "",
    response_model=list[Region],
    summary="Regions, their checkers' health, canaries and outages",
    description="`health` is `unhealthy` while an outage of the region lasts (`outage`): its "
    "checks are stored and count for no site's quorum.",
)
async def list_regions(request: Request, caller: Actor = READ, window: Window = 300) -> Response:
    return json_response(await core(request).regions.every(timedelta(seconds=window)))


@router.put(
    "/{region}/canary",
    response_model=RegionCanary,
    summary='Name a region\'s canary, or none (`{"site_id": null}`)',
    description="The site must be checked from the region. Without a canary, an outage its "
    "canary opened ends now.",
)
async def set_canary(
    request: Request, region: RegionName, body: CanaryIn, caller: Actor = ADMIN
) -> Response:
    return json_response(await core(request).regions.set_canary(caller, region, body.site_id))
