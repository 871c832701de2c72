"""The channel kinds: how one notification is sent to one channel.

Each sender raises `SendError` when the send did not succeed; `permanent` when trying
again cannot help (the target policy refused the address, the channel is misconfigured).
No message here carries a URL or a secret: a Slack or Discord webhook URL and a Telegram
bot's URL are credentials themselves.
"""

from __future__ import annotations

from notifier.channels.base import Sender, SendError, describe_error
from notifier.channels.registry import KINDS, sender_for

__all__ = ["KINDS", "SendError", "Sender", "describe_error", "sender_for"]
