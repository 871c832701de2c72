"""apprise, the catch-all (optional: `pip install 'webmon[apprise]'`).

The channel's secret is an apprise URL (or several, space-separated). apprise opens its
own connections, so the target policy does NOT apply to them: as healthchecks.io warns of
its own apprise integration, whoever can add an apprise channel can make webmon connect
anywhere, internal addresses included. Only operators should have it.
"""

from __future__ import annotations

import asyncio

from notifier.channels.base import SendContext, SendError
from notifier.payload import Outgoing, text, title


def _notify(urls: str, subject: str, body: str) -> bool:
    try:
        import apprise  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise SendError("apprise is not installed (pip install 'webmon[apprise]')") from None
    client = apprise.Apprise()
    for url in urls.split():
        if not client.add(url):
            raise SendError("apprise: an apprise URL was not understood", permanent=True)
    return bool(client.notify(title=subject, body=body))


async def send_apprise(n: Outgoing, ctx: SendContext) -> None:
    if not n.channel.secret:
        raise SendError(f"channel {n.channel.name}: no apprise URL (secret)", permanent=True)
    sent = await asyncio.wait_for(
        asyncio.to_thread(_notify, n.channel.secret, title(n), text(n)), ctx.timeout_s
    )
    if not sent:
        raise SendError("apprise: not sent")
