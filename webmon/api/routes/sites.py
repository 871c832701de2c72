"""`/api/v1/sites`: list, create (one or many), read, change, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response

from shared.db import AsyncConnection, AsyncDatabase, translated_errors
from shared.errors import DatabaseError
from shared.sealing import KEY_VARIABLE, SecretBox
from webmon.api.auth import READ, WRITE, Caller
from webmon.api.common import database, json_response, reads, refuse_blocked_literal
from webmon.api.pages import decode_cursor, next_link
from webmon.api.problems import Problem, constraint_problem
from webmon.api.schemas import (
    LOCAL_OPTIONS,
    NOT_NULL_FIELDS,
    OPTION_COLUMNS,
    AuthIn,
    BulkResult,
    SiteIn,
    SiteOut,
    SitePatch,
)
from webmon.api.settings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from webmon.readmodel import SITES
from webmon.sites import auth_params, create_params, update_params

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])

MAX_BULK = 10_000
MAX_SITE_ID = 2**63 - 1
SiteId = Annotated[int, Path(ge=1, le=MAX_SITE_ID)]


def _refuse_local_options(site: SiteIn | SitePatch, where: str = "") -> None:
    """A site from the API is restricted: no proxy (the target policy would see only the
    proxy's address) and no paths of files on the checker host."""
    for name in LOCAL_OPTIONS:
        if getattr(site, name) is not None:
            raise Problem(
                422,
                f"{where}{name}: a site registered through the API may not use a proxy or "
                "files on the checker host",
                title="Option refused",
            )


def _secrets(request: Request, auth: AuthIn | None, where: str = "") -> SecretBox | None:
    """The API's key for sealing `auth`; a 422 when there is auth to seal and no key."""
    box: SecretBox | None = request.app.state.secrets
    if auth is not None and box is None:
        raise Problem(
            422,
            f"{where}auth: this API has no {KEY_VARIABLE} to seal credentials with",
            title="Option refused",
        )
    return box


async def _one(request: Request, site_id: int) -> str:
    """The site's SiteOut JSON, made as a page's are (api_sites_json), so that a site reads
    the same from every route."""
    rows = await database(request).fetch(
        SITES["api_sites_json"],
        {"after": 0, "site_id": site_id, "enabled": None, "state": None, "q": None, "limit": 1},
    )
    if not rows:
        raise Problem(404, f"no site with id {site_id}")
    return str(rows[0][1])


async def sites_page(
    db: AsyncDatabase,
    after: int,
    state: str | None = None,
    enabled: bool | None = None,
    q: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> tuple[bytes, int | None]:
    """A page of sites after the site id `after` as a JSON array of SiteOut objects, made
    by PostgreSQL (api_sites_json), and the id to page on from (None on the last page)."""
    rows = await db.fetch(
        SITES["api_sites_json"],
        {"after": after, "site_id": None, "enabled": enabled, "state": state, "q": q,
         "limit": limit + 1},
    )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    body = "[" + ",".join([row[1] for row in rows]) + "]"
    return body.encode(), int(rows[-1][0]) if more else None


def after_cursor(cursor: str | None) -> int:
    """The site id a `/sites` cursor holds (0 for the first page)."""
    if not cursor:
        return 0
    after = decode_cursor(cursor, 1)[0]
    if type(after) is not int or not 0 <= after <= MAX_SITE_ID:
        raise Problem(422, "cursor: not a cursor this API gave out")
    return after


@router.get("", response_model=list[SiteOut], summary="Sites with their latest status")
async def list_sites(
    request: Request,
    caller: Caller = READ,
    state: Literal["up", "down", "unchecked"] | None = None,
    enabled: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="in the URL")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Response:
    after = after_cursor(cursor)
    if "\x00" in (q or ""):
        raise Problem(422, "q: contains a NUL character")
    body, last = await sites_page(reads(request), after, state, enabled, q, limit)
    return json_response(body, headers=next_link(request, None if last is None else [last]))


@router.post(
    "",
    status_code=201,
    response_model=SiteOut,
    summary="Register a site (checked under the target policy)",
)
async def create_site(request: Request, site: SiteIn, caller: Caller = WRITE) -> Response:
    refuse_blocked_literal(request, site.url)
    _refuse_local_options(site)
    box = _secrets(request, site.auth)
    if site.auth is None:
        row = await database(request).fetchone(SITES["api_create_site"], create_params(site))
    else:
        assert box is not None
        async with database(request).connection() as conn, conn.transaction():
            with translated_errors():
                cur = await conn.execute(SITES["api_create_site"], create_params(site))
                row = await cur.fetchone()
                assert row is not None
                await conn.execute(SITES["set_site_auth"], auth_params(box, int(row[0]), site.auth))
    assert row is not None
    body = await _one(request, int(row[0]))
    return json_response(body, 201, {"Location": f"/api/v1/sites/{row[0]}"})


@router.post(
    "/bulk",
    status_code=201,
    response_model=BulkResult,
    summary="Register many sites in one transaction: all or none",
)
async def create_sites(
    request: Request,
    sites: Annotated[list[SiteIn], Body(min_length=1, max_length=MAX_BULK)],
    caller: Caller = WRITE,
) -> Response:
    box = None
    for item, site in enumerate(sites):
        refuse_blocked_literal(request, site.url, f"item {item}: url")
        _refuse_local_options(site, f"item {item}: ")
        box = _secrets(request, site.auth, f"item {item}: ") or box
    async with database(request).connection() as conn, conn.transaction():
        cur = await conn.execute(SITES["api_reserve_site_ids"], {"count": len(sites)})
        ids = [int(r[0]) for r in await cur.fetchall()]
        try:
            with translated_errors():
                await _copy_sites(conn, ids, sites)
        except DatabaseError as exc:
            raise _bulk_problem(exc) from None
        auths = [
            auth_params(box, site_id, site.auth)
            for site_id, site in zip(ids, sites, strict=True)
            if site.auth is not None and box is not None
        ]
        if auths:
            with translated_errors():
                async with conn.cursor() as cur:
                    await cur.executemany(SITES["set_site_auth"], auths)
    return json_response({"ids": ids}, 201)


async def _copy_sites(conn: AsyncConnection, ids: list[int], sites: list[SiteIn]) -> None:
    """One COPY for every item, each row with its reserved id."""
    async with conn.cursor().copy(SITES["api_copy_sites"]) as copy:
        for site_id, site in zip(ids, sites, strict=True):
            p = create_params(site)
            await copy.write_row(
                (
                    site_id, p["url"], p["interval_seconds"], p["timeout_seconds"], p["regex"],
                    p["method"], p["headers"], p["expected_status"], p["enabled"],
                    p["restricted"], *(p[name] for name in OPTION_COLUMNS),
                )
            )  # fmt: skip


def _bulk_problem(exc: DatabaseError) -> Problem:
    """COPY names the line that failed in its CONTEXT ("COPY sites, line 3"): item 2."""
    item = None
    if exc.context and ", line " in exc.context:
        number = exc.context.split(", line ", 1)[1].split(":", 1)[0].split(",", 1)[0]
        if number.strip().isdigit():
            item = int(number) - 1
    if exc.integrity:
        return constraint_problem(exc, item)
    where = "" if item is None else f"item {item}: "
    return Problem(422, f"{where}{exc}", title="Invalid value")


@router.get("/{site_id}", response_model=SiteOut, summary="One site with its latest status")
async def get_site(request: Request, site_id: SiteId, caller: Caller = READ) -> Response:
    return json_response(await _one(request, site_id))


@router.patch("/{site_id}", response_model=SiteOut, summary="Change some of a site's fields")
async def update_site(
    request: Request, site_id: SiteId, patch: SitePatch, caller: Caller = WRITE
) -> Response:
    given = patch.model_fields_set
    if "url" in given:
        if patch.url is None:
            raise Problem(422, "url: may not be null")
        refuse_blocked_literal(request, patch.url)
    for field in NOT_NULL_FIELDS:
        if field in given and getattr(patch, field) is None:
            raise Problem(422, f"{field}: may not be null")
    _refuse_local_options(patch)
    box = _secrets(request, patch.auth)
    params = update_params(site_id, patch)
    if "auth" not in given:
        row = await database(request).fetchone(SITES["api_update_site"], params)
    else:
        async with database(request).connection() as conn, conn.transaction():
            with translated_errors():
                cur = await conn.execute(SITES["api_update_site"], params)
                row = await cur.fetchone()
                if row is not None and patch.auth is None:
                    await conn.execute(SITES["clear_site_auth"], {"site_id": site_id})
                elif row is not None and box is not None and patch.auth is not None:
                    await conn.execute(
                        SITES["set_site_auth"], auth_params(box, site_id, patch.auth)
                    )
    if row is None:
        raise Problem(404, f"no site with id {site_id}")
    return json_response(await _one(request, site_id))


@router.delete("/{site_id}", status_code=204, summary="Delete a site (its history stays)")
async def delete_site(request: Request, site_id: SiteId, caller: Caller = WRITE) -> Response:
    row = await database(request).fetchone(SITES["api_delete_site"], {"site_id": site_id})
    if row is None:
        raise Problem(404, f"no site with id {site_id}")
    return Response(status_code=204)
