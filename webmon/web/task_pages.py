"""Test a URL: submit an on-demand task and watch the recent ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from shared.messages.bounds import DEFAULT_REGION
from webmon.core.errors import Invalid, Limited, invalid_from_validation
from webmon.core.tasks import Task, task_from_text
from webmon.web import forms
from webmon.web.common import core, form_of, render, viewer

router = APIRouter(include_in_schema=False)
SHOWN = 30
FIELDS = frozenset({"url", "regex", "timeout_seconds", "name", "region"})


async def _tasks(request: Request) -> dict[str, Any]:
    tasks: list[Task] = await core(request).tasks.page(limit=SHOWN)
    return {
        "tasks": tasks,
        "live": any(not t.final for t in tasks),
        # A region column once a task ran outside the default region.
        "show_region": any(t.region != DEFAULT_REGION for t in tasks),
    }


async def _form(request: Request) -> dict[str, Any]:
    """The form's choices: where a URL may be checked from (a choice when several)."""
    return {"regions": await core(request).tasks.regions()}


@router.get("/tasks")
async def tasks_page(request: Request) -> Response:
    who = await viewer(request)
    return render(request, "tasks.html", who, form={}, errors={}, **await _form(request),
                  **await _tasks(request))  # fmt: skip


@router.get("/ui/tasks")
async def tasks_live(request: Request) -> Response:
    who = await viewer(request)
    return render(request, "_tasks_rows.html", who, **await _tasks(request))


@router.post("/tasks")
async def submit_task(request: Request) -> Response:
    who = await viewer(request)
    values = await form_of(request, who)
    try:
        try:
            task = task_from_text(values)
        except ValidationError as exc:
            raise invalid_from_validation(exc) from None
        await core(request).tasks.submit(who.actor, task)
    except Invalid as exc:
        errors = forms.errors_of(exc, FIELDS)
    except Limited as exc:
        errors = {"url": str(exc)}
    else:
        return RedirectResponse("/tasks", 303)
    form = {**values, "url": values.get("url", "").strip()}
    return render(request, "tasks.html", who, form=form, errors=errors, status=422,
                  **await _form(request), **await _tasks(request))  # fmt: skip
