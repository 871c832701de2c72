"""A site's fields written as text, as people write them in a form, a CSV cell or a
command-line flag, to the fields of the core's models and back. The words of a refusal are
the models' (`webmon.core.site_rules`), whichever way the text came in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from webmon.core.errors import Invalid
from webmon.core.site_labels import tags_as_text, tags_from_text
from webmon.core.site_rules import DEFAULT_EXPECTED_STATUS, SiteIn

TEXT_FIELDS = frozenset(SiteIn.model_fields) - {"auth"}


def statuses_from_text(text: str) -> list[tuple[int, int]] | None:
    """ "200-399, 404" as [low, high) pairs; "" as None (the default)."""
    text = text.strip()
    if not text:
        return None
    pairs = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or (high and not high.strip().isdigit()):
            raise Invalid(
                "expected_status", f"not a status or a range: {part!r} (e.g. 200-399, 404)"
            )
        lo = int(low)
        hi = int(high) if high else lo
        pairs.append((lo, hi + 1))
    return pairs


def statuses_as_text(pairs: Any) -> str:
    return ", ".join(f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in pairs)


def headers_from_text(text: str) -> dict[str, str] | None:
    """ "Name: value" lines, or a JSON object; "" as None."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise Invalid("headers", "not a JSON object") from None
        if not isinstance(value, dict):
            raise Invalid("headers", "not a JSON object")
        return {str(k): str(v) for k, v in value.items()}
    headers = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise Invalid("headers", f"one header per line, as Name: value (got {line!r})")
        headers[name.strip()] = value.strip()
    return headers


def regions_from_text(text: str) -> list[str]:
    """ "eu-central-1, us-east-1" (commas, semicolons or spaces between) as a list."""
    return [name for name in re.split(r"[\s,;]+", text.strip()) if name]


def regions_as_text(regions: Any) -> str:
    return ", ".join(regions or ())


def headers_as_text(headers: Mapping[str, str] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


def fields_from_text(values: Mapping[str, str], *, new: bool = False) -> dict[str, Any]:
    """The fields of a site written as text, for SiteIn (`new`) or SitePatch: every key is a
    field (an unknown one is refused by the model, in its words); an empty value is the
    default for a new site and null (cleared) in a change; and the fields with a shape of
    their own are read as people write them: expected_status as "200-399, 404", headers as
    "Name: value" lines (or a JSON object), tags as "env:prod, db". Numbers and booleans
    ("true", "on", "1") are the model's to read."""
    fields: dict[str, Any] = {}
    for name, raw in values.items():
        text = raw.strip() if isinstance(raw, str) else raw
        if text == "" and name != "url":
            if not new:
                fields[name] = None
        elif name == "expected_status":
            fields[name] = statuses_from_text(text)
        elif name == "headers":
            fields[name] = headers_from_text(text)
        elif name == "tags":
            fields[name] = tags_from_text(text)
        elif name == "regions":
            fields[name] = regions_from_text(text)
        elif name == "ip_version" and text.isdigit():
            fields[name] = int(text)  # a Literal[4, 6]: the model matches numbers, not text
        else:
            fields[name] = text
    return fields


def fields_as_text(site: Mapping[str, Any]) -> dict[str, str]:
    """A site's fields as a form shows them: the inverse of `fields_from_text`."""
    shown: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = site.get(name)
        if name == "expected_status":
            shown[name] = statuses_as_text(value or DEFAULT_EXPECTED_STATUS)
        elif name == "headers":
            shown[name] = headers_as_text(value)
        elif name == "tags":
            shown[name] = tags_as_text(value or ())
        elif name == "regions":
            shown[name] = regions_as_text(value)
        elif value is None:
            shown[name] = ""
        elif isinstance(value, bool):
            shown[name] = "true" if value else "false"
        elif isinstance(value, float):
            shown[name] = f"{value:g}"
        else:
            shown[name] = str(value)
    return shown


# A form's credentials, apart from the site's other fields: the secret is sealed and never
# shown again, so a form shows only that one is set, and an empty secret keeps it.
AUTH_FIELDS = ("auth_kind", "auth_username", "auth_secret")
KEEP_OR_RETYPE = (
    "type the password or token again: it is sealed and never shown, so a new kind or user "
    "name needs it"
)


def auth_from_text(
    values: Mapping[str, str], *, kind_now: str | None = None, username_now: str | None = None
) -> dict[str, Any]:
    """The `auth` field a form's credentials make, for SiteIn or SitePatch to judge in their
    words: {} leaves the site's as they are (no kind field, or the same kind and user name
    without a secret), {"auth": None} removes them (kind ""), else the new ones."""
    if "auth_kind" not in values:
        return {}
    kind = values["auth_kind"].strip()
    username = values.get("auth_username", "").strip()
    secret = values.get("auth_secret", "")
    if not kind:
        return {} if kind_now is None else {"auth": None}
    if not secret:
        if kind == kind_now and (kind != "basic" or username == (username_now or "")):
            return {}
        raise Invalid("auth", KEEP_OR_RETYPE)
    if kind == "basic":
        return {"auth": {"kind": kind, "username": username, "password": secret}}
    return {"auth": {"kind": kind, "token": secret}}
