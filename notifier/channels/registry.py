"""Channel kind -> sender."""

from __future__ import annotations

from notifier.channels.apprise_channel import send_apprise
from notifier.channels.base import Sender
from notifier.channels.email import send_email
from notifier.channels.http import (
    send_discord,
    send_ntfy,
    send_slack,
    send_telegram,
    send_webhook,
)

_SENDERS: dict[str, Sender] = {
    "webhook": send_webhook,
    "slack": send_slack,
    "discord": send_discord,
    "telegram": send_telegram,
    "ntfy": send_ntfy,
    "email": send_email,
    "apprise": send_apprise,
}
KINDS = tuple(_SENDERS)


def sender_for(kind: str) -> Sender:
    return _SENDERS[kind]
