"""The alerts page's channel forms as the core's inputs: every kind, its URL in one field
and its other settings as `key=value` lines (`chat_id=…`, `host=…`, `port=587`,
`from=…`, `to=a@x, b@y`, `security=starttls`, `username=…`), as `webmon channels add
--set` takes them."""

from __future__ import annotations

from typing import Any

from webmon.core.channels import SECRET_URLS, URL_KEY, Channel, config_from_text
from webmon.core.errors import Invalid


def settings_lines(text: str) -> list[tuple[str, str]]:
    pairs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Invalid("config", f"settings line {n}: write key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def settings_text(channel: Channel) -> str:
    """A channel's settings but its URL, one `key=value` a line, for the edit form."""
    url_key = URL_KEY.get(channel.kind, "url")
    lines = []
    for key, value in channel.config.items():
        if key == url_key:
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"{key}={shown}")
    return "\n".join(lines)


def new_config(kind: str, form: dict[str, str]) -> dict[str, Any]:
    return config_from_text(kind, form.get("url") or None, settings_lines(form.get("settings", "")))


def changed_config(channel: Channel, form: dict[str, str]) -> dict[str, Any] | None:
    """The config an edit gives, or None when it leaves it as it was (a blank URL keeps the
    URL; settings as they were keep them)."""
    url = form.get("url", "").strip()
    text = form.get("settings", "")
    if not url and text.strip() == settings_text(channel).strip():
        return None
    url_key = URL_KEY.get(channel.kind, "url")
    if not url and channel.kind in SECRET_URLS and url_key in channel.config:
        raise Invalid("url", "this kind's URL is a secret kept hidden: give it again to change")
    return config_from_text(channel.kind, url or channel.config.get(url_key), settings_lines(text))
