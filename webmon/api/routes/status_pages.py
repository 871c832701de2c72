"""`/api/v1/status-pages`: the public status pages and the incidents told on them.

Adding, changing or removing a page takes the admin scope (a page publishes its sites'
names); telling an incident and posting its updates take the write scope. The rules are
the core's (`webmon.core.status_pages`). The pages themselves are public at
`/status/{slug}`, `/status/{slug}.json` and `/status/{slug}/feed.atom`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from webmon.api.auth import ADMIN, READ, WRITE
from webmon.api.common import core, json_response
from webmon.core.actors import Actor
from webmon.core.status_pages import (
    MAX_ID,
    SLUG_PATTERN,
    IncidentIn,
    IncidentPatch,
    Page,
    PageIn,
    PageIncident,
    PagePatch,
    UpdateIn,
)

router = APIRouter(prefix="/api/v1/status-pages", tags=["status pages"])

Slug = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=list[Page], summary="Every status page")
async def list_pages(request: Request, caller: Actor = READ) -> Response:
    return json_response(await core(request).status_pages.every())


@router.post("", status_code=201, response_model=Page, summary="Add a status page")
async def create_page(request: Request, page: PageIn, caller: Actor = ADMIN) -> Response:
    added = await core(request).status_pages.add(caller, page)
    return json_response(added, 201, {"Location": f"/api/v1/status-pages/{added.slug}"})


@router.get("/{slug}", response_model=Page, summary="One status page")
async def get_page(request: Request, slug: Slug, caller: Actor = READ) -> Response:
    return json_response(await core(request).status_pages.get(slug))


@router.patch(
    "/{slug}",
    response_model=Page,
    summary="Change a status page",
    description="The fields given replace the page's; `groups`, when given, all of them.",
)
async def update_page(
    request: Request, slug: Slug, patch: PagePatch, caller: Actor = ADMIN
) -> Response:
    return json_response(await core(request).status_pages.change(caller, slug, patch))


@router.delete("/{slug}", status_code=204, summary="Delete a status page and its incidents")
async def delete_page(request: Request, slug: Slug, caller: Actor = ADMIN) -> Response:
    await core(request).status_pages.remove(caller, slug)
    return Response(status_code=204)


@router.get("/{slug}/incidents", response_model=list[PageIncident], summary="A page's incidents")
async def list_incidents(request: Request, slug: Slug, caller: Actor = READ) -> Response:
    return json_response(await core(request).status_pages.incidents(slug))


@router.post(
    "/{slug}/incidents",
    status_code=201,
    response_model=PageIncident,
    summary="Tell an incident on the page",
    description="By hand (`title`, `body`, `site_ids`), or from a detected incident "
    "(`incident_id`: its site and cause fill what is left out). `body` is Markdown; raw "
    "HTML in it is shown as text.",
)
async def open_incident(
    request: Request, slug: Slug, told: IncidentIn, caller: Actor = WRITE
) -> Response:
    opened = await core(request).status_pages.open_incident(caller, slug, told)
    where = f"/api/v1/status-pages/{slug}/incidents/{opened.id}"
    return json_response(opened, 201, {"Location": where})


@router.get("/{slug}/incidents/{incident_id}", response_model=PageIncident,
            summary="One incident with its updates")  # fmt: skip
async def get_incident(
    request: Request, slug: Slug, incident_id: Id, caller: Actor = READ
) -> Response:
    return json_response(await core(request).status_pages.incident(slug, incident_id))


@router.patch(
    "/{slug}/incidents/{incident_id}",
    response_model=PageIncident,
    summary="Change an incident's title or sites, or write its post-mortem (once resolved)",
)
async def change_incident(
    request: Request, slug: Slug, incident_id: Id, patch: IncidentPatch, caller: Actor = WRITE
) -> Response:
    pages = core(request).status_pages
    return json_response(await pages.change_incident(caller, slug, incident_id, patch))


@router.delete("/{slug}/incidents/{incident_id}", status_code=204,
               summary="Delete an incident")  # fmt: skip
async def delete_incident(
    request: Request, slug: Slug, incident_id: Id, caller: Actor = WRITE
) -> Response:
    await core(request).status_pages.remove_incident(caller, slug, incident_id)
    return Response(status_code=204)


@router.post(
    "/{slug}/incidents/{incident_id}/updates",
    status_code=201,
    response_model=PageIncident,
    summary="Post an update",
    description="Its status becomes the incident's; `resolved` resolves it, and a resolved "
    "incident takes no more updates (409).",
    responses={409: {"description": "The incident is resolved"}},
)
async def post_update(
    request: Request, slug: Slug, incident_id: Id, update: UpdateIn, caller: Actor = WRITE
) -> Response:
    pages = core(request).status_pages
    return json_response(await pages.post_update(caller, slug, incident_id, update), 201)
