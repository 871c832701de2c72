"""E-mail over SMTP (stdlib smtplib in a worker thread), with STARTTLS or TLS.

config: host, port (587 with starttls, 465 with tls, 25 otherwise), security
(`starttls`, the default, `tls` or `none`), username, from, to (a list or a
comma-separated string); the password is the channel's secret. The connection goes through
the target policy like every HTTP request.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Any

from notifier.channels.base import SendContext, SendError, config_text
from notifier.payload import IDEMPOTENCY_HEADER, Outgoing, text, title
from shared.netpolicy import TargetPolicy
from shared.policy_http import guarded_socket

_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class _GuardedSMTP(smtplib.SMTP):
    def __init__(self, policy: TargetPolicy, timeout: float) -> None:
        self.policy = policy
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host  # STARTTLS checks the certificate against it
        return guarded_socket(host, port, timeout, self.policy)


class _GuardedSMTPS(smtplib.SMTP_SSL):
    def __init__(self, policy: TargetPolicy, timeout: float, context: ssl.SSLContext) -> None:
        self.policy = policy
        super().__init__(timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host
        raw = guarded_socket(host, port, timeout, self.policy)
        return self.context.wrap_socket(raw, server_hostname=host)


def _recipients(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def message(n: Outgoing) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[webmon] {title(n)}"
    msg["From"] = config_text(n, "from")
    msg["To"] = ", ".join(_recipients(n.channel.config.get("to")))
    # Stable per event: a mail client shows a resend as the same message.
    msg["Message-ID"] = f"<{n.key}.{n.channel.id}@webmon>"
    msg[IDEMPOTENCY_HEADER] = n.key
    msg.set_content(text(n) + "\n")
    return msg


def _send_blocking(n: Outgoing, ctx: SendContext, context: ssl.SSLContext) -> None:
    host = config_text(n, "host")
    assert host is not None
    security = str(n.channel.config.get("security") or "starttls")
    if security not in _PORTS:
        raise SendError(f"channel {n.channel.name}: unknown security {security!r}", permanent=True)
    port = int(n.channel.config.get("port") or _PORTS[security])
    to = _recipients(n.channel.config.get("to"))
    if not to:
        raise SendError(f"channel {n.channel.name}: config.to is not set", permanent=True)
    msg = message(n)
    smtp: smtplib.SMTP
    if security == "tls":
        smtp = _GuardedSMTPS(ctx.policy, ctx.timeout_s, context)
    else:
        smtp = _GuardedSMTP(ctx.policy, ctx.timeout_s)
    with smtp:
        smtp.connect(host, port)
        if security == "starttls":
            smtp.starttls(context=context)
        username = n.channel.config.get("username")
        if username and n.channel.secret:
            smtp.login(str(username), n.channel.secret)
        smtp.send_message(msg, to_addrs=to)


async def send_email(n: Outgoing, ctx: SendContext) -> None:
    context = ssl.create_default_context()
    cafile = n.channel.config.get("ca_file")  # a private CA (tests, internal relays)
    if cafile:
        context.load_verify_locations(cafile=str(cafile))
    try:
        await asyncio.to_thread(_send_blocking, n, ctx, context)
    except smtplib.SMTPResponseException as exc:
        raise SendError(f"smtp {exc.smtp_code}") from None
    except smtplib.SMTPException as exc:
        raise SendError(f"smtp: {type(exc).__name__}") from None
