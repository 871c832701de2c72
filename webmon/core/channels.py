"""Notification channels: their rules, once, for the API, the dashboard and the CLI.

A channel decides where webmon connects and carries a secret: the secret is write-only
(answers say whether one is set) and sealed at rest with WEBMON_SECRET_KEY, bound to the
channel (`shared.sealing`); a URL a channel posts to is judged by the target policy like a
site's (a blocked literal IP is refused; the notifier judges every connection); and an
`apprise` channel, which opens its own connections past the policy, is the operator's
alone. Each kind needs its own config: what `REQUIRED` lists, plus a secret for the kinds
in `SECRET_REQUIRED`.

A secret cannot be read back by pointing its channel elsewhere: a change of where a
channel sends (`DESTINATION_KEYS`: its URL, or its mail server's host, port or security)
takes the secret again. And what a channel posts to is shown in full to admins only:
below admin, every URL shows its scheme and host alone (a Slack or Discord URL, itself a
credential, shows no more to anyone).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import Field, StrictBool, StrictInt, StrictStr
from yarl import URL

from notifier.channels import KINDS
from notifier.payload import Channel as Sendable
from notifier.trial import send_test_notification
from shared.db import AsyncConnection, AsyncDatabase, dict_rows
from shared.errors import DatabaseError
from shared.netpolicy import TargetPolicy
from shared.queries import load_queries
from shared.sealing import KEY_VARIABLE, SecretBox
from webmon.core.actors import Actor
from webmon.core.errors import (
    ConstraintWords,
    Invalid,
    NotFound,
    invalid_from_database,
)
from webmon.core.site_rules import Input
from webmon.core.targets import refuse_blocked_literal

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "channels.sql")
TEST_TIMEOUT_S = 10.0
# What each kind needs in its config (and the kinds that need a secret besides).
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "webhook": ("url",),
    "slack": ("url",),
    "discord": ("url",),
    "ntfy": ("url",),
    "telegram": ("chat_id",),
    "email": ("host", "from", "to"),
    "apprise": (),
}
SECRET_REQUIRED = ("telegram", "apprise")
# The config keys that hold a URL webmon posts to; where a URL given as such goes.
URL_KEYS = ("url", "api_url")
URL_KEY = {"telegram": "api_url"}
# Kinds whose URL is itself a credential: only its host is shown, to anyone.
SECRET_URLS = ("slack", "discord")
OPERATOR_ONLY = ("apprise",)
# Where a channel sends: a change of any of these takes its secret again.
DESTINATION_KEYS = ("url", "api_url", "host", "port", "security")
SECRET_AGAIN = (
    "a change of where a channel sends (its URL, or its server's host, port or security) "
    "takes its secret again: give `secret` with the change"
)
HIDDEN = "…"

CONSTRAINTS: ConstraintWords = {
    "channels_name_key": ("name", "a channel of that name exists already"),
    "channels_name_length": ("name", "the name must be 1 to 100 characters long"),
    "channels_kind": ("kind", f"the kind must be one of {', '.join(KINDS)}"),
    "channels_config_object": ("config", "the config must be an object of at most 8 KiB"),
    "channels_secret_length": ("secret", "the secret must be 1 to 4,096 characters long"),
}

Kind = Literal["webhook", "slack", "discord", "telegram", "ntfy", "email", "apprise"]
ConfigValue = (
    StrictBool
    | Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
    | Annotated[StrictStr, Field(max_length=2048)]
    | Annotated[list[Annotated[StrictStr, Field(max_length=320)]], Field(max_length=100)]
)
Config = Annotated[dict[Annotated[str, Field(min_length=1, max_length=100)], ConfigValue],
                   Field(max_length=50)]  # fmt: skip


class ChannelIn(Input):
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    config: Config = Field(default_factory=dict)
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    is_default: bool = False
    enabled: bool = True


class ChannelPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    config: Config | None = None
    secret: str | None = Field(default=None, min_length=1, max_length=4096)
    is_default: bool | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as anyone may see it: never its secret, and a URL that is itself a
    credential shows only its host."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secret: Annotated[bool, Field(description="whether it has one; never the secret")]
    is_default: Annotated[
        bool, Field(description="every site without channels of its own notifies it")
    ]
    enabled: bool
    created_at: datetime
    sites: Annotated[int, Field(description="sites routed to it")]

    @classmethod
    def from_row(cls, row: Mapping[str, Any], viewer: Actor) -> Channel:
        """The channel as `viewer` may see it: its URLs in full to an admin only."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["config"] = shown_config(row["kind"], row["config"], full=viewer.admin)
        return cls(**values)

    @property
    def idle(self) -> bool:
        """Neither a default nor routed from any site: it notifies nobody."""
        return not self.is_default and self.sites == 0


def masked_url(url: str) -> str:
    """`scheme://host[:port]/…`: no user name or password, no path, no query."""
    try:
        parsed = URL(url)
        host, port = parsed.raw_host, parsed.explicit_port
    except (ValueError, TypeError):
        return HIDDEN
    if not parsed.scheme or not host:
        return HIDDEN
    netloc = f"[{host}]" if ":" in host else host
    return f"{parsed.scheme}://{netloc}{f':{port}' if port else ''}/{HIDDEN}"


def shown_config(kind: str, config: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
    """The config with its URLs masked (`masked_url`): below admin (`full` false), every
    URL; for anyone, a URL that is a credential itself or that carries a password."""
    shown = dict(config)
    for key in URL_KEYS:
        value = shown.get(key)
        if not isinstance(value, str):
            continue
        if not full or kind in SECRET_URLS or _has_userinfo(value):
            shown[key] = masked_url(value)
    return shown


def _has_userinfo(url: str) -> bool:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return True  # not shown as it is when it cannot be read
    return parsed.raw_user is not None or parsed.raw_password is not None


def config_from_text(
    kind: str, url: str | None, settings: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """A config from text (a form's URL field, the CLI's --url and --set KEY=VALUE): the URL
    under the kind's URL key, `to` as a comma-separated list, `port` as a number."""
    config: dict[str, Any] = dict(settings)
    if url:
        config[URL_KEY.get(kind, "url")] = url.strip()
    if "to" in config:
        config["to"] = [part.strip() for part in str(config["to"]).split(",") if part.strip()]
    if "port" in config:
        try:
            config["port"] = int(config["port"])
        except ValueError:
            raise Invalid("config.port", f"not a number: {config['port']!r}") from None
    return config


class Channels:
    def __init__(self, db: AsyncDatabase, policy: TargetPolicy, box: SecretBox | None) -> None:
        self._db = db
        self._policy = policy
        self._box = box

    def _check_config(self, actor: Actor, kind: str, config: Mapping[str, Any]) -> None:
        for key in URL_KEYS:
            value = config.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise Invalid(f"config.{key}", "an http(s) URL")
            if not actor.trusted:
                refuse_blocked_literal(self._policy, value, f"config.{key}")
        missing = [key for key in REQUIRED[kind] if not config.get(key)]
        if missing:
            raise Invalid(f"config.{missing[0]}", f"a {kind} channel needs it")

    def _sealer(self) -> SecretBox:
        if self._box is None:
            raise Invalid("secret", f"{KEY_VARIABLE} is not set: it seals channel secrets")
        return self._box

    async def add(self, actor: Actor, channel: ChannelIn) -> Channel:
        if channel.kind in OPERATOR_ONLY and not actor.trusted:
            raise Invalid(
                "kind",
                f"an {channel.kind} channel opens its own connections past the target policy: "
                "only the operator adds one, with the CLI",
            )
        self._check_config(actor, channel.kind, channel.config)
        if channel.kind in SECRET_REQUIRED and not channel.secret:
            raise Invalid("secret", f"a {channel.kind} channel needs one")
        box = self._sealer() if channel.secret else None
        params = {
            "name": channel.name, "kind": channel.kind, "config": Jsonb(channel.config),
            "is_default": channel.is_default, "enabled": channel.enabled,
        }  # fmt: skip
        async with self._db.connection() as conn, conn.transaction():
            row = (await self._write(conn, QUERIES["add_channel"], params))[0]
            channel_id = int(row["id"])
            if box is not None and channel.secret:
                sealed = box.seal_channel(channel_id, channel.kind, channel.secret)
                await conn.execute(
                    QUERIES["seal_channel_secret"], {"channel_id": channel_id, "sealed": sealed}
                )
        logger.info("channels.added channel_id=%s kind=%s by=%s", channel_id, channel.kind, actor)
        return await self.get(channel_id, actor)

    async def _write(
        self, conn: AsyncConnection, query: str, params: dict[str, Any]
    ) -> Sequence[Mapping[str, Any]]:
        try:
            return await dict_rows(conn, query, params)
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None

    async def change(self, actor: Actor, channel_id: int, patch: ChannelPatch) -> Channel:
        """Change what the patch gives. A change of where the channel sends takes its
        secret again (`SECRET_AGAIN`), so that a stored secret cannot be sent elsewhere."""
        given = patch.model_fields_set
        for name in ("name", "config", "is_default", "enabled"):
            if name in given and getattr(patch, name) is None:
                raise Invalid(name, "may not be null")
        box = self._sealer() if patch.secret is not None else None
        async with self._db.connection() as conn, conn.transaction():
            rows = await dict_rows(conn, QUERIES["channel_for_change"], {"channel_id": channel_id})
            if not rows:
                raise NotFound(f"no channel with id {channel_id}")
            current = rows[0]
            kind = str(current["kind"])
            if patch.config is not None:
                self._check_config(actor, kind, patch.config)
                moved = any(
                    current["config"].get(key) != patch.config.get(key) for key in DESTINATION_KEYS
                )
                if moved and current["has_secret"] and "secret" not in given:
                    raise Invalid("secret", SECRET_AGAIN)
            sealed = None
            if box is not None and patch.secret is not None:
                sealed = box.seal_channel(channel_id, kind, patch.secret)
            await self._write(conn, QUERIES["update_channel"], {
                "channel_id": channel_id,
                "set_name": "name" in given, "name": patch.name,
                "set_config": "config" in given,
                "config": None if patch.config is None else Jsonb(patch.config),
                "set_secret": "secret" in given, "sealed": sealed,
                "set_default": "is_default" in given, "is_default": patch.is_default,
                "set_enabled": "enabled" in given, "enabled": patch.enabled,
            })  # fmt: skip
        logger.info("channels.changed channel_id=%d by=%s", channel_id, actor)
        return await self.get(channel_id, actor)

    async def remove(self, actor: Actor, channel_id: int) -> None:
        """Remove a channel and its queued notifications."""
        if await self._db.row(QUERIES["delete_channel"], {"channel_id": channel_id}) is None:
            raise NotFound(f"no channel with id {channel_id}")
        logger.info("channels.removed channel_id=%d by=%s", channel_id, actor)

    async def every(self, viewer: Actor) -> list[Channel]:
        """Every channel, as `viewer` may see it (`Channel.from_row`)."""
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": None, "name": None})
        return [Channel.from_row(r, viewer) for r in rows]

    async def get(self, channel_id: int, viewer: Actor) -> Channel:
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": channel_id, "name": None})
        if not rows:
            raise NotFound(f"no channel with id {channel_id}")
        return Channel.from_row(rows[0], viewer)

    async def named(self, name: str, viewer: Actor) -> Channel:
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": None, "name": name})
        if not rows:
            raise NotFound(f"no channel named {name}")
        return Channel.from_row(rows[0], viewer)

    async def test(self, actor: Actor, channel_id: int) -> str | None:
        """Send a test notification now, under the target policy: None when the channel
        accepted it, else what failed (never a URL or a secret)."""
        row = await self._db.row(QUERIES["channel_to_send"], {"channel_id": channel_id})
        if row is None:
            raise NotFound(f"no channel with id {channel_id}")
        channel = Sendable(int(row["id"]), row["name"], row["kind"], row["config"],
                           row["secret"], row["secret_sealed"])  # fmt: skip
        if channel.kind in OPERATOR_ONLY and not actor.trusted:
            raise Invalid(
                "kind", f"{channel.kind} channels bypass the target policy: test them with the CLI"
            )
        error = await send_test_notification(channel, self._policy, TEST_TIMEOUT_S, self._box)
        logger.info("channels.tested channel_id=%d by=%s sent=%s", channel_id, actor, error is None)
        return error

    async def seal_clear_secrets(self) -> int:
        """Seal the secrets written in clear before sealing existed (none without a key);
        how many were sealed."""
        if self._box is None:
            return 0
        rows = await self._db.rows(QUERIES["clear_channel_secrets"])
        if not rows:
            return 0
        box = self._box
        params = {
            "ids": [r["id"] for r in rows],
            "clear": [r["secret"] for r in rows],
            "sealed": [box.seal_channel(int(r["id"]), str(r["kind"]), r["secret"]) for r in rows],
        }
        sealed = await self._db.execute(QUERIES["seal_channel_secrets"], params)
        logger.info("channels.sealed_secrets count=%d", sealed)
        return sealed

    async def route(
        self, actor: Actor, site_id: int, names: Sequence[str], *, replace: bool = False
    ) -> list[str]:
        """Notify these channels for a site (instead of the defaults); `replace` drops its
        other routes first. The names of the channels the site notifies now."""
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(QUERIES["channel_ids"], {"names": list(names)})
            known = {str(name): int(cid) for cid, name in await cur.fetchall()}
            unknown = [name for name in names if name not in known]
            if unknown:
                raise NotFound(f"no channel named {unknown[0]}")
            if replace:
                await conn.execute(QUERIES["unroute_site"], {"site_id": site_id})
            if names:
                await conn.execute(
                    QUERIES["route_site"],
                    {"site_id": site_id, "channel_ids": [known[n] for n in names]},
                )
        logger.info("channels.routed site_id=%d by=%s channels=%s", site_id, actor,
                    ",".join(names) or "-")  # fmt: skip
        return await self.routes(site_id)

    async def own_routes(self, site_id: int) -> list[str]:
        """The channels routed to the site itself; [] when it notifies the defaults."""
        rows = await self._db.rows(QUERIES["site_own_routes"], {"site_id": site_id})
        return [str(r["name"]) for r in rows]

    async def routes(self, site_id: int) -> list[str]:
        return [str(r["name"]) for r in await self._db.rows(QUERIES["site_routes"],
                                                              {"site_id": site_id})]  # fmt: skip
