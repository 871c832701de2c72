"""A channel's secret as a sender needs it: opened from its sealed form just before a send.

Secrets are sealed at rest with WEBMON_SECRET_KEY, bound to the channel's id and kind
(`shared.sealing`); a secret written in clear before sealing existed is used as it is
until an API process with the key seals it. A process without the key (or with another
one) cannot send through a channel with a sealed secret: that send fails for good, with a
reason that names the setting, never the secret.
"""

from __future__ import annotations

from dataclasses import replace

from notifier.channels.base import SendError
from notifier.payload import Channel
from shared.sealing import KEY_VARIABLE, SecretBox, SecretError


def opened(channel: Channel, box: SecretBox | None) -> Channel:
    """`channel` with its secret opened; `SendError` (permanent) when it cannot be."""
    if channel.sealed is None:
        return channel
    if box is None:
        raise SendError(
            f"channel {channel.name}: its secret is sealed and this process has no {KEY_VARIABLE}",
            permanent=True,
        )
    try:
        secret = box.open_channel(channel.id, channel.kind, bytes(channel.sealed))
    except SecretError as exc:
        raise SendError(f"channel {channel.name}: {exc}", permanent=True) from None
    return replace(channel, secret=secret, sealed=None)
