"""Status pages: several public pages, each with its sites in named groups (chosen one by
one or by tag), and the incidents an operator tells its readers about, with their updates
and a post-mortem. The public view of a page is `webmon.core.status_views`.

Who may do what: a page publishes the names (and, if asked, URLs) of the sites it holds,
so adding, changing or removing a page takes the admin scope. Telling an incident, posting
an update and writing a post-mortem take the write scope: the people on call.

An incident's status is its latest update's; one in `resolved` takes no more updates (open
a new one) but takes a post-mortem. Its sites must be on its page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, Field, model_validator

from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.queries import load_queries
from webmon.core.actors import Actor, Scope, grants
from webmon.core.errors import (
    Conflict,
    ConstraintWords,
    Forbidden,
    Invalid,
    NotFound,
    invalid_from_database,
)
from webmon.core.markdown_text import to_html
from webmon.core.site_labels import normal_tag
from webmon.core.site_rules import Input

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "status_pages.sql")
MAX_ID = 2**63 - 1
DEFAULT_DAYS_SHOWN = 90
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"
STATUSES = ("investigating", "identified", "monitoring", "resolved")
IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]

CONSTRAINTS: ConstraintWords = {
    "status_pages_slug_key": ("slug", "another status page has this slug"),
    "status_pages_slug": ("slug", "lower-case letters, digits and inner hyphens, 1 to 64"),
    "status_pages_title_length": ("title", "the title must be 1 to 200 characters long"),
    "status_pages_description_length": ("description", "at most 2,000 characters"),
    "status_pages_logo_url": ("logo_url", "an http(s) URL of at most 2,000 characters"),
    "status_pages_days_shown": ("days_shown", "1 to 365 days"),
    "status_page_groups_name_length": ("groups", "a group's name is 1 to 200 characters"),
    "status_page_groups_tag_valid": ("groups", "a group's tag is key or key:value, as a site's"),
    "status_page_incidents_title_length": ("title", "the title must be 1 to 200 characters"),
}

SiteIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=5000)]


class GroupIn(Input):
    name: str = Field(min_length=1, max_length=200)
    site_ids: SiteIds = Field(default_factory=list)
    # A site's tag rule (webmon.core.site_labels): the same normal form and the same words
    # as a site's tags and the overview's filter.
    tag: Annotated[str, AfterValidator(normal_tag)] | None = None


class PagePatch(Input):
    """A change of a page: the fields given replace the page's; `groups`, all of them."""

    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    logo_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    days_shown: int | None = Field(default=None, ge=1, le=365)
    show_urls: bool | None = None
    groups: list[GroupIn] | None = Field(default=None, max_length=50)


class PageIn(Input):
    slug: str = Field(pattern=SLUG_PATTERN, description="the page's address: /status/{slug}")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    logo_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    days_shown: int = Field(default=DEFAULT_DAYS_SHOWN, ge=1, le=365)
    show_urls: bool = Field(default=False, description="print each site's URL by its name")
    groups: list[GroupIn] = Field(default_factory=list, max_length=50)


class IncidentIn(Input):
    """An incident told on a page: by hand, or from a detected one (`incident_id`), whose
    site and cause fill what is left out."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: IncidentStatus = "investigating"
    body: str | None = Field(default=None, min_length=1, max_length=20000)
    site_ids: SiteIds | None = None
    incident_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _told(self) -> IncidentIn:
        if self.incident_id is None and (self.title is None or self.body is None):
            raise ValueError("title and body are needed (or incident_id, a detected one)")
        return self


class UpdateIn(Input):
    status: IncidentStatus
    body: str = Field(min_length=1, max_length=20000, description="Markdown")


class IncidentPatch(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    site_ids: SiteIds | None = None
    postmortem: str | None = Field(
        default=None, min_length=1, max_length=50000, description="Markdown; once resolved"
    )


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    site_ids: list[int]
    tag: str | None


@dataclass(frozen=True, slots=True)
class Page:
    id: int
    slug: str
    title: str
    description: str
    logo_url: str | None
    days_shown: int
    show_urls: bool
    created_at: datetime
    updated_at: datetime
    groups: list[Group]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Page:
        values = {f.name: row[f.name] for f in fields(cls) if f.name != "groups"}
        return cls(**values, groups=[Group(**g) for g in row["groups"]])

    @property
    def site_ids(self) -> set[int]:
        return {i for g in self.groups for i in g.site_ids}


@dataclass(frozen=True, slots=True)
class Update:
    id: int
    status: str
    body: str
    body_html: Annotated[str, Field(description="the body rendered: no raw HTML, no script")]
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class PageIncident:
    id: int
    title: str
    status: str
    site_ids: list[int]
    incident_id: Annotated[int | None, Field(description="the detected incident it tells")]
    postmortem: str | None
    postmortem_html: str | None
    opened_at: datetime
    resolved_at: datetime | None
    updated_at: datetime
    updates: list[Update]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PageIncident:
        updates = [
            Update(id=u["id"], status=u["status"], body=u["body"], body_html=to_html(u["body"]),
                   posted_at=datetime.fromisoformat(u["posted_at"]).astimezone(UTC))
            for u in row["updates"]
        ]  # fmt: skip
        postmortem = row["postmortem"]
        return cls(
            **{f.name: row[f.name] for f in fields(cls)
               if f.name not in ("updates", "postmortem_html")},
            postmortem_html=None if postmortem is None else to_html(postmortem),
            updates=updates,
        )  # fmt: skip


async def page_site_ids(db: AsyncDatabase, page_id: int) -> set[int]:
    """The ids of the sites a page shows: named in a group, or carrying a group's tag."""
    return {int(r["id"]) for r in await db.rows(QUERIES["page_sites"], {"page_id": page_id})}


def _admit(actor: Actor, scope: Scope, what: str) -> None:
    if not (actor.trusted or (actor.scope is not None and grants(actor.scope, scope))):
        raise Forbidden(f"{what} takes the {scope} scope")


class StatusPages:
    """The pages and their incidents. `changed(slug)` is called after each change, so a
    cache of public views (`status_views.Views`) forgets the page at once."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self.changed: Callable[[str], None] = lambda slug: None

    async def every(self) -> list[Page]:
        return [Page.from_row(r) for r in await self._db.rows(QUERIES["pages"], {"slug": None})]

    async def get(self, slug: str) -> Page:
        rows = await self._db.rows(QUERIES["pages"], {"slug": slug})
        if not rows:
            raise NotFound(f"no status page with slug {slug!r}")
        return Page.from_row(rows[0])

    async def _sites_must_exist(self, site_ids: list[int], field: str) -> None:
        rows = await self._db.rows(QUERIES["missing_sites"], {"site_ids": site_ids})
        if rows:
            raise Invalid(field, f"no site with id {rows[0]['id']}")

    async def add(self, actor: Actor, page: PageIn) -> Page:
        _admit(actor, Scope.ADMIN, "adding a status page")
        await self._sites_must_exist([i for g in page.groups for i in g.site_ids], "groups")
        values = page.model_dump(exclude={"groups"})
        groups = orjson.dumps([g.model_dump() for g in page.groups]).decode()
        async with self._db.connection() as conn, conn.transaction():
            try:
                cur = await conn.execute(QUERIES["add_page"], values)
                found = await cur.fetchone()
                assert found is not None
                page_id = int(found[0])
                await conn.execute(QUERIES["add_groups"], {"page_id": page_id, "groups": groups})
            except DatabaseError as exc:
                raise self._refused(exc) from None
        logger.info("status_pages.added page_id=%d slug=%s by=%s", page_id, page.slug, actor)
        self.changed(page.slug)
        return await self.get(page.slug)

    def _refused(self, exc: DatabaseError) -> Exception:
        return invalid_from_database(exc, CONSTRAINTS) if exc.integrity else exc

    async def change(self, actor: Actor, slug: str, patch: PagePatch) -> Page:
        _admit(actor, Scope.ADMIN, "changing a status page")
        page = await self.get(slug)
        given = patch.model_dump(exclude_unset=True)
        if patch.groups is not None:
            await self._sites_must_exist([i for g in patch.groups for i in g.site_ids], "groups")
        values = {
            name: given.get(name, getattr(page, name))
            for name in ("slug", "title", "description", "logo_url", "days_shown", "show_urls")
        }
        for name in ("slug", "title", "days_shown", "show_urls", "description"):
            if values[name] is None:
                raise Invalid(name, "may not be null")
        async with self._db.connection() as conn, conn.transaction():
            try:
                await conn.execute(QUERIES["change_page"], {**values, "page_id": page.id})
                if patch.groups is not None:
                    groups = orjson.dumps([g.model_dump() for g in patch.groups]).decode()
                    await conn.execute(QUERIES["clear_groups"], {"page_id": page.id})
                    await conn.execute(
                        QUERIES["add_groups"], {"page_id": page.id, "groups": groups}
                    )
            except DatabaseError as exc:
                raise self._refused(exc) from None
        logger.info("status_pages.changed page_id=%d slug=%s by=%s", page.id, values["slug"], actor)
        self.changed(slug)
        self.changed(str(values["slug"]))
        return await self.get(str(values["slug"]))

    async def remove(self, actor: Actor, slug: str) -> None:
        _admit(actor, Scope.ADMIN, "removing a status page")
        row = await self._db.row(QUERIES["remove_page"], {"slug": slug})
        if row is None:
            raise NotFound(f"no status page with slug {slug!r}")
        logger.info("status_pages.removed page_id=%d slug=%s by=%s", row["id"], slug, actor)
        self.changed(slug)

    async def incidents(self, slug: str, limit: int = 50) -> list[PageIncident]:
        page = await self.get(slug)
        params = {"page_id": page.id, "incident_id": None, "limit": limit}
        return [PageIncident.from_row(r) for r in await self._db.rows(
            QUERIES["page_incidents"], params)]  # fmt: skip

    async def incident(self, slug: str, incident_id: int) -> PageIncident:
        page = await self.get(slug)
        params = {"page_id": page.id, "incident_id": incident_id, "limit": 1}
        rows = await self._db.rows(QUERIES["page_incidents"], params)
        if not rows:
            raise NotFound(f"no incident {incident_id} on status page {slug!r}")
        return PageIncident.from_row(rows[0])

    async def _sites_on_page(self, slug: str, site_ids: list[int]) -> None:
        on_page = await page_site_ids(self._db, (await self.get(slug)).id)
        off = [i for i in site_ids if i not in on_page]
        if off:
            raise Invalid("site_ids", f"site {off[0]} is not on status page {slug!r}")

    async def open_incident(self, actor: Actor, slug: str, told: IncidentIn) -> PageIncident:
        _admit(actor, Scope.WRITE, "telling an incident")
        page = await self.get(slug)
        title, body, site_ids = told.title, told.body, told.site_ids
        if told.incident_id is not None:
            found = await self._db.row(QUERIES["detected_incident"],
                                       {"incident_id": told.incident_id})  # fmt: skip
            if found is None:
                raise Invalid("incident_id", f"no incident with id {told.incident_id}")
            title = title or f"{found['site']} is unavailable"
            body = body or f"We are investigating: {found['cause']}."
            site_ids = site_ids if site_ids is not None else [int(found["site_id"])]
        site_ids = site_ids or []
        await self._sites_on_page(slug, site_ids)
        params = {"page_id": page.id, "title": title, "status": told.status, "body": body,
                  "site_ids": site_ids, "incident_id": told.incident_id}  # fmt: skip
        try:
            row = await self._db.row(QUERIES["open_incident"], params)
        except DatabaseError as exc:
            raise self._refused(exc) from None
        assert row is not None
        logger.info("status_pages.incident_opened page_id=%d incident=%d site_ids=%s by=%s",
                    page.id, row["id"], site_ids, actor)  # fmt: skip
        self.changed(slug)
        return await self.incident(slug, int(row["id"]))

    async def post_update(
        self, actor: Actor, slug: str, incident_id: int, update: UpdateIn
    ) -> PageIncident:
        _admit(actor, Scope.WRITE, "posting an incident update")
        page = await self.get(slug)
        params = {"page_id": page.id, "incident_id": incident_id, "status": update.status,
                  "body": update.body}  # fmt: skip
        if await self._db.row(QUERIES["post_update"], params) is None:
            state = await self._db.row(QUERIES["incident_state"], params)
            if state is None:
                raise NotFound(f"no incident {incident_id} on status page {slug!r}")
            raise Conflict(f"incident {incident_id} is resolved: open a new one")
        logger.info("status_pages.incident_updated page_id=%d incident=%d status=%s by=%s",
                    page.id, incident_id, update.status, actor)  # fmt: skip
        self.changed(slug)
        return await self.incident(slug, incident_id)

    async def change_incident(
        self, actor: Actor, slug: str, incident_id: int, patch: IncidentPatch
    ) -> PageIncident:
        _admit(actor, Scope.WRITE, "changing an incident")
        current = await self.incident(slug, incident_id)
        if patch.postmortem is not None and current.resolved_at is None:
            raise Invalid("postmortem", "a post-mortem follows the resolution: resolve it first")
        if patch.site_ids is not None:
            await self._sites_on_page(slug, patch.site_ids)
        page = await self.get(slug)
        params = {
            "page_id": page.id, "incident_id": incident_id,
            "title": patch.title or current.title,
            "site_ids": current.site_ids if patch.site_ids is None else patch.site_ids,
            "postmortem": current.postmortem if patch.postmortem is None else patch.postmortem,
        }  # fmt: skip
        try:
            await self._db.row(QUERIES["change_incident"], params)
        except DatabaseError as exc:
            raise self._refused(exc) from None
        logger.info("status_pages.incident_changed page_id=%d incident=%d by=%s",
                    page.id, incident_id, actor)  # fmt: skip
        self.changed(slug)
        return await self.incident(slug, incident_id)

    async def remove_incident(self, actor: Actor, slug: str, incident_id: int) -> None:
        _admit(actor, Scope.WRITE, "removing an incident")
        page = await self.get(slug)
        params = {"page_id": page.id, "incident_id": incident_id}
        if await self._db.row(QUERIES["remove_incident"], params) is None:
            raise NotFound(f"no incident {incident_id} on status page {slug!r}")
        logger.info("status_pages.incident_removed page_id=%d incident=%d by=%s",
                    page.id, incident_id, actor)  # fmt: skip
        self.changed(slug)
