"""The operator's side of the status pages, in the logged-in dashboard: add, change and
remove pages; tell incidents, post their updates, write a post-mortem. What is posted goes
through the core's rules (`webmon.core.status_pages`), as the API's requests do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from webmon.core.errors import CoreError, NotFound, invalid_from_validation
from webmon.core.status_page_text import groups_from_text, groups_to_text
from webmon.core.status_pages import (
    STATUSES,
    IncidentIn,
    IncidentPatch,
    PageIn,
    PagePatch,
    UpdateIn,
)
from webmon.web.common import Viewer, core, form_of, not_found, render, viewer

router = APIRouter(include_in_schema=False)


def _model(model: Any, fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None


def _page_fields(form: dict[str, str]) -> dict[str, Any]:
    return {
        "slug": form.get("slug", "").strip(),
        "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip(),
        "logo_url": form.get("logo_url", "").strip() or None,
        "days_shown": form.get("days_shown") or 90,
        "show_urls": form.get("show_urls") == "on",
        "groups": groups_from_text(form.get("groups", "")),
    }


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split() if x.isdigit()]


@router.get("/status-pages")
async def pages_list(request: Request) -> Response:
    return await _list(request, await viewer(request))


async def _list(request: Request, who: Viewer, error: str | None = None,
                form: dict[str, str] | None = None, status: int = 200) -> Response:  # fmt: skip
    pages = await core(request).status_pages.every()
    return render(request, "status_pages.html", who, active="status-pages", pages=pages,
                  form=form or {}, form_error=error, status=status)  # fmt: skip


@router.post("/status-pages")
async def add_page(request: Request) -> Response:
    who = await viewer(request)
    form = await form_of(request, who)
    try:
        page = await core(request).status_pages.add(who.actor, _model(PageIn, _page_fields(form)))
    except CoreError as exc:
        return await _list(request, who, f"The page was not added: {exc}", form, 422)
    return RedirectResponse(f"/status-pages/{page.slug}", 303)


@router.get("/status-pages/{slug}")
async def manage_page(request: Request, slug: str) -> Response:
    return await _manage(request, await viewer(request), slug)


async def _manage(request: Request, who: Viewer, slug: str, error: str | None = None,
                  status: int = 200) -> Response:  # fmt: skip
    pages = core(request).status_pages
    try:
        page = await pages.get(slug)
    except NotFound as exc:
        return not_found(request, who, str(exc))
    return render(request, "status_page_admin.html", who, active="status-pages", page=page,
                  groups_text=groups_to_text(page.groups), incidents=await pages.incidents(slug),
                  statuses=STATUSES, form_error=error, status=status)  # fmt: skip


async def _act(request: Request, slug: str, action: Any) -> Response:
    """Run `action(who, form)`, then back to the page's management, or its error."""
    who = await viewer(request)
    form = await form_of(request, who)
    try:
        target = await action(who, form)
    except CoreError as exc:
        return await _manage(request, who, slug, f"Not done: {exc}", 422)
    return RedirectResponse(target or f"/status-pages/{slug}", 303)


@router.post("/status-pages/{slug}")
async def change_page(request: Request, slug: str) -> Response:
    async def act(who: Viewer, form: dict[str, str]) -> str:
        patch = _model(PagePatch, _page_fields(form))
        page = await core(request).status_pages.change(who.actor, slug, patch)
        return f"/status-pages/{page.slug}?saved=1"

    return await _act(request, slug, act)


@router.post("/status-pages/{slug}/delete")
async def delete_page(request: Request, slug: str) -> Response:
    async def act(who: Viewer, form: dict[str, str]) -> str:
        await core(request).status_pages.remove(who.actor, slug)
        return "/status-pages"

    return await _act(request, slug, act)


@router.post("/status-pages/{slug}/incidents")
async def open_incident(request: Request, slug: str) -> Response:
    async def act(who: Viewer, form: dict[str, str]) -> None:
        told = _model(IncidentIn, {
            "title": form.get("title", "").strip() or None, "status": form.get("status"),
            "body": form.get("body", "").strip() or None,
            "site_ids": _ids(form.get("site_ids", "")),
            "incident_id": int(form["incident_id"]) if form.get("incident_id", "").isdigit()
                           else None,
        })  # fmt: skip
        await core(request).status_pages.open_incident(who.actor, slug, told)

    return await _act(request, slug, act)


@router.post("/status-pages/{slug}/incidents/{incident_id}/updates")
async def post_update(request: Request, slug: str, incident_id: int) -> Response:
    async def act(who: Viewer, form: dict[str, str]) -> None:
        update = _model(UpdateIn, {"status": form.get("status"),
                                   "body": form.get("body", "").strip()})  # fmt: skip
        await core(request).status_pages.post_update(who.actor, slug, incident_id, update)

    return await _act(request, slug, act)


@router.post("/status-pages/{slug}/incidents/{incident_id}/postmortem")
async def postmortem(request: Request, slug: str, incident_id: int) -> Response:
    async def act(who: Viewer, form: dict[str, str]) -> None:
        patch = _model(IncidentPatch, {"postmortem": form.get("postmortem", "").strip()})
        await core(request).status_pages.change_incident(who.actor, slug, incident_id, patch)

    return await _act(request, slug, act)
