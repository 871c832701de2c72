"""The channels that are one HTTP POST: webhook, Slack, Discord, Telegram, ntfy."""

from __future__ import annotations

from typing import Any

import aiohttp

from notifier.channels.base import SendContext, SendError, config_text, retry_after
from notifier.payload import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Outgoing,
    body_bytes,
    signature,
    text,
    title,
)

TELEGRAM_API = "https://api.telegram.org"
_ERROR_BODY_BYTES = 200


def _headers(n: Outgoing, ctx: SendContext) -> dict[str, str]:
    return {"User-Agent": ctx.user_agent, IDEMPOTENCY_HEADER: n.key, EVENT_HEADER: n.kind}


async def _post(
    ctx: SendContext, url: str, *, headers: dict[str, str], data: bytes | None = None,
    json: Any = None,
) -> None:  # fmt: skip
    timeout = aiohttp.ClientTimeout(total=ctx.timeout_s)
    async with ctx.http.post(
        url, data=data, json=json, headers=headers, timeout=timeout, allow_redirects=False
    ) as response:
        if 200 <= response.status < 300:
            await response.read()
            return
        # 4xx other than 408/429 will not get better by itself, but a channel's owner may
        # fix it within the retry budget: retried like the rest.
        wait = (
            retry_after(response.headers.get("Retry-After"))
            if response.status in (429, 503)
            else None
        )
        raise SendError(f"status {response.status}", retry_after_s=wait)


async def send_webhook(n: Outgoing, ctx: SendContext) -> None:
    url = config_text(n, "url")
    assert url is not None
    body = body_bytes(n)
    headers = {**_headers(n, ctx), "Content-Type": "application/json"}
    if n.channel.secret:
        headers[SIGNATURE_HEADER] = signature(n.channel.secret, body)
    await _post(ctx, url, headers=headers, data=body)


async def send_slack(n: Outgoing, ctx: SendContext) -> None:
    url = config_text(n, "url")
    assert url is not None
    await _post(ctx, url, headers=_headers(n, ctx), json={"text": text(n)})


async def send_discord(n: Outgoing, ctx: SendContext) -> None:
    url = config_text(n, "url")
    assert url is not None
    await _post(ctx, url, headers=_headers(n, ctx), json={"content": text(n)})


async def send_telegram(n: Outgoing, ctx: SendContext) -> None:
    chat_id = config_text(n, "chat_id")
    if not n.channel.secret:
        raise SendError(f"channel {n.channel.name}: no bot token (secret)", permanent=True)
    base = (config_text(n, "api_url", required=False) or TELEGRAM_API).rstrip("/")
    url = f"{base}/bot{n.channel.secret}/sendMessage"
    await _post(
        ctx, url, headers=_headers(n, ctx),
        json={"chat_id": chat_id, "text": text(n), "disable_web_page_preview": True},
    )  # fmt: skip


async def send_ntfy(n: Outgoing, ctx: SendContext) -> None:
    url = config_text(n, "url")
    assert url is not None
    headers = {
        **_headers(n, ctx),
        "Title": title(n),
        "Priority": "high" if n.kind in ("down", "reminder", "region_down") else "default",
        "Tags": {"down": "rotating_light", "reminder": "warning", "region_down": "warning"}.get(
            n.kind, "white_check_mark"
        ),
    }
    if n.channel.secret:
        headers["Authorization"] = f"Bearer {n.channel.secret}"
    await _post(ctx, url, headers=headers, data=text(n).encode())
