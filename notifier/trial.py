"""A test notification, sent at once (not through the outbox) as the notifier would send
it: `webmon channels test` and `POST /api/v1/channels/{id}/test`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aiohttp

from notifier.channels import describe_error, sender_for
from notifier.channels.base import SendContext
from notifier.payload import Channel, Outgoing
from notifier.secrets import opened
from shared.netpolicy import TargetPolicy
from shared.policy_http import policy_connector
from shared.sealing import SecretBox
from shared.version import version


async def send_test_notification(
    channel: Channel, policy: TargetPolicy, timeout_s: float, box: SecretBox | None = None
) -> str | None:
    """None when the channel accepted it, else what failed (never a URL or a secret).
    `box` opens the channel's sealed secret."""
    now = datetime.now(UTC)
    try:
        channel = opened(channel, box)
    except Exception as exc:
        return str(describe_error(exc))
    n = Outgoing(
        id=0, key=f"test-{uuid.uuid4()}", kind="test", event_at=now, attempts=1,
        created_at=now, channel=channel,
    )  # fmt: skip
    async with aiohttp.ClientSession(
        connector=policy_connector(policy), cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    ) as http:
        ctx = SendContext(
            http=http, policy=policy, timeout_s=timeout_s,
            user_agent=f"webmon-notifier/{version()}",
        )  # fmt: skip
        try:
            await sender_for(channel.kind)(n, ctx)
        except Exception as exc:
            return str(describe_error(exc))
    return None
