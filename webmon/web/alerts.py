"""The alerting page: open and recent incidents, the channels (add, test, remove) and the
maintenance windows (add, remove). What is posted goes through the core's rules, as the
API's requests do (`webmon.core.channels`, `webmon.core.windows`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from notifier.channels import KINDS
from webmon.core.channels import ChannelIn, ChannelPatch
from webmon.core.errors import CoreError, Invalid, NotFound, invalid_from_validation
from webmon.core.windows import WindowIn
from webmon.web.channel_forms import changed_config, new_config, settings_text
from webmon.web.common import core, form_of, not_found, render, viewer

router = APIRouter(include_in_schema=False)

SHOWN = 50


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    return await _page(request)


async def _page(request: Request, error: str | None = None, status: int = 200) -> Response:
    who = await viewer(request)
    the_core = core(request)
    channels = await the_core.channels.every(who.actor)
    tested_id = request.query_params.get("tested", "")
    tested = next((c.name for c in channels if str(c.id) == tested_id), None)
    return render(
        request,
        "alerts.html",
        who,
        open_incidents=await the_core.incidents.page(open_only=True, limit=SHOWN),
        incidents=await the_core.incidents.page(resolved_only=True, limit=SHOWN),
        channels=channels,
        windows=await the_core.windows.every(),
        tested=tested,
        test_error=request.query_params.get("error"),
        form_error=error,
        kinds=KINDS,
        settings_text=settings_text,
        status=status,
    )


def _model(model: Any, fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None


@router.post("/alerts/channels")
async def add_channel(request: Request) -> Response:
    who = await viewer(request)
    form = await form_of(request, who)
    kind = form.get("kind", "")
    try:
        channel = _model(ChannelIn, {
            "name": form.get("name", "").strip(),
            "kind": kind,
            "config": new_config(kind, form),
            "secret": form.get("secret") or None,
            "is_default": form.get("is_default") == "on",
        })  # fmt: skip
        await core(request).channels.add(who.actor, channel)
    except CoreError as exc:
        return await _page(request, f"The channel was not added: {exc}", 422)
    return RedirectResponse("/alerts#channels", 303)


@router.post("/alerts/channels/{channel_id}/edit")
async def edit_channel(request: Request, channel_id: int) -> Response:
    who = await viewer(request)
    form = await form_of(request, who)
    channels = core(request).channels
    try:
        current = await channels.get(channel_id, who.actor)
        fields: dict[str, Any] = {
            "name": form.get("name", "").strip(),
            "is_default": form.get("is_default") == "on",
            "enabled": form.get("enabled") == "on",
        }
        config = changed_config(current, form)
        if config is not None:
            fields["config"] = config
        if form.get("secret"):
            fields["secret"] = form["secret"]
        await channels.change(who.actor, channel_id, _model(ChannelPatch, fields))
    except NotFound:
        return not_found(request, who, f"No channel {channel_id}.")
    except CoreError as exc:
        return await _page(request, f"The channel was not changed: {exc}", 422)
    return RedirectResponse(f"/alerts?saved={channel_id}#channels", 303)


@router.post("/alerts/channels/{channel_id}/remove")
async def remove_channel(request: Request, channel_id: int) -> Response:
    who = await viewer(request)
    await form_of(request, who)
    try:
        await core(request).channels.remove(who.actor, channel_id)
    except NotFound:
        pass  # removed already: the page shows what is left
    return RedirectResponse("/alerts#channels", 303)


@router.post("/alerts/channels/{channel_id}/test")
async def test_channel(request: Request, channel_id: int) -> Response:
    who = await viewer(request)
    await form_of(request, who)
    try:
        error = await core(request).channels.test(who.actor, channel_id)
    except NotFound:
        return not_found(request, who, f"No channel {channel_id}.")
    except CoreError as exc:
        error = str(exc)
    query = {"tested": channel_id, **({"error": error} if error else {})}
    return RedirectResponse(f"/alerts?{urlencode(query)}#channels", 303)


@router.post("/alerts/windows")
async def add_window(request: Request) -> Response:
    who = await viewer(request)
    form = await form_of(request, who)
    covers = form.get("covers", "all").strip()
    try:
        try:
            starts = datetime.fromisoformat(form.get("starts_at", "")).replace(tzinfo=UTC)
            minutes = float(form.get("duration_minutes", "0"))
        except ValueError as exc:
            raise Invalid("starts_at", str(exc)) from None
        window = _model(WindowIn, {
            "name": form.get("name", "").strip(),
            "site_id": covers.removeprefix("site:") if covers.startswith("site:") else None,
            "tag": covers.removeprefix("tag:") if covers.startswith("tag:") else None,
            "starts_at": starts,
            "duration_seconds": int(minutes * 60),
            "recurrence": form.get("recurrence", "none"),
        })  # fmt: skip
        await core(request).windows.add(who.actor, window)
    except CoreError as exc:
        return await _page(request, f"The window was not added: {exc}", 422)
    return RedirectResponse("/alerts#windows", 303)


@router.post("/alerts/windows/{window_id}/remove")
async def remove_window(request: Request, window_id: int) -> Response:
    who = await viewer(request)
    await form_of(request, who)
    try:
        await core(request).windows.remove(who.actor, window_id)
    except NotFound:
        pass
    return RedirectResponse("/alerts#windows", 303)
