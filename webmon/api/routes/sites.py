"""`/api/v1/sites`: list, create (one or many), read, change, delete. The rules are the
core's (`webmon.core.sites`); a site from the API is checked under the target policy."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from webmon.api.auth import READ, WRITE
from webmon.api.common import core, json_response
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem
from webmon.api.schemas import BulkResult, SiteOut
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.core import Core
from webmon.core.actors import Actor
from webmon.core.site_rules import SiteIn, SitePatch
from webmon.core.sites import MAX_SITE_ID

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])

MAX_BULK = 10_000
SiteId = Annotated[int, Path(ge=1, le=MAX_SITE_ID)]


def after_cursor(cursor: str | None) -> int:
    """The site id a `/sites` cursor holds (0 for the first page)."""
    if not cursor:
        return 0
    after = decode_cursor(cursor, 1)[0]
    if type(after) is not int or not 0 <= after <= MAX_SITE_ID:
        raise Problem(422, "cursor: not a cursor this API gave out")
    return after


class SitesQuery(BaseModel):
    """The query of `GET /api/v1/sites`: the route's parser, and the hot read's
    (`webmon.api.hot_reads`), so that both take and refuse the same values."""

    state: Literal["up", "down", "unchecked"] | None = None
    enabled: bool | None = None
    q: str | None = Field(None, min_length=1, max_length=200, description="in the URL or the name")
    tag: str | None = Field(
        None, min_length=1, max_length=200, description="`key:value`, or `key` for any value"
    )
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = None


@router.get("", response_model=list[SiteOut], summary="Sites with their latest status")
async def list_sites(
    request: Request, query: Annotated[SitesQuery, Query()], caller: Actor = READ
) -> Response:
    return await sites_page(request, core(request), query)


async def sites_page(request: Request, the_core: Core, query: SitesQuery) -> Response:
    """A page of sites as the API's JSON, which PostgreSQL made, with the next page's Link."""
    after = after_cursor(query.cursor)
    if "\x00" in (query.q or ""):
        raise Problem(422, "q: contains a NUL character")
    body, last = await the_core.sites.page_json(
        after=after, state=query.state, enabled=query.enabled, q=query.q, limit=query.limit,
        tag=query.tag,
    )  # fmt: skip
    return json_response(body, headers=next_link(request, None if last is None else [last]))


@router.post(
    "",
    status_code=201,
    response_model=SiteOut,
    summary="Register a site (checked under the target policy)",
)
async def create_site(request: Request, site: SiteIn, caller: Actor = WRITE) -> Response:
    sites = core(request).sites
    site_id = await sites.add(caller, site)
    body = await sites.one_json(site_id)
    return json_response(body, 201, {"Location": f"/api/v1/sites/{site_id}"})


@router.post(
    "/bulk",
    status_code=201,
    response_model=BulkResult,
    summary="Register many sites in one transaction: all or none",
)
async def create_sites(
    request: Request,
    sites: Annotated[list[SiteIn], Body(min_length=1, max_length=MAX_BULK)],
    caller: Actor = WRITE,
) -> Response:
    ids = await core(request).sites.add_many(caller, sites)
    return json_response({"ids": ids}, 201)


@router.get("/{site_id}", response_model=SiteOut, summary="One site with its latest status")
async def get_site(request: Request, site_id: SiteId, caller: Actor = READ) -> Response:
    return json_response(await core(request).sites.one_json(site_id))


@router.patch(
    "/{site_id}",
    response_model=SiteOut,
    summary="Change some of a site's fields",
    description="A change to what the check sends or reads (URL, method, headers, body, "
    "auth, regex, TLS options, redirect limit, header check) puts the site under the "
    "target policy; only an admin key sending `restricted: false` takes it out.",
)
async def update_site(
    request: Request, site_id: SiteId, patch: SitePatch, caller: Actor = WRITE
) -> Response:
    sites = core(request).sites
    await sites.change(caller, site_id, patch)
    return json_response(await sites.one_json(site_id))


@router.delete("/{site_id}", status_code=204, summary="Delete a site (its history stays)")
async def delete_site(request: Request, site_id: SiteId, caller: Actor = WRITE) -> Response:
    await core(request).sites.remove(caller, site_id)
    return Response(status_code=204)
