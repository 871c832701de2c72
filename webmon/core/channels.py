"""Notification channels: their rules, once, for the API, the dashboard and the CLI.

A channel decides where webmon connects and carries a secret: the secret is write-only
(answers say whether one is set), a URL a channel posts to is judged by the target policy
like a site's (a blocked literal IP is refused; the notifier judges every connection), and
an `apprise` channel, which opens its own connections past the policy, is the operator's
alone. Each kind needs its own config: what `REQUIRED` lists, plus a secret for the kinds
in `SECRET_REQUIRED`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import Field, StrictBool, StrictInt, StrictStr

from notifier.channels import KINDS
from notifier.payload import Channel as Sendable
from notifier.trial import send_test_notification
from shared.db import AsyncDatabase
from shared.errors import DatabaseError
from shared.netpolicy import TargetPolicy
from shared.queries import load_queries
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
# Kinds whose URL is itself a credential: only its host is shown.
SECRET_URLS = ("slack", "discord")
OPERATOR_ONLY = ("apprise",)

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
    def from_row(cls, row: Mapping[str, Any]) -> Channel:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["config"] = shown_config(row["kind"], row["config"])
        return cls(**values)

    @property
    def idle(self) -> bool:
        """Neither a default nor routed from any site: it notifies nobody."""
        return not self.is_default and self.sites == 0


def shown_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(config)
    if kind in SECRET_URLS and isinstance(shown.get("url"), str):
        shown["url"] = "/".join(shown["url"].split("/", 3)[:3]) + "/…"
    return shown


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
    def __init__(self, db: AsyncDatabase, policy: TargetPolicy) -> None:
        self._db = db
        self._policy = policy

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
        params = {
            "name": channel.name, "kind": channel.kind, "config": Jsonb(channel.config),
            "secret": channel.secret, "is_default": channel.is_default,
            "enabled": channel.enabled,
        }  # fmt: skip
        row = await self._write(QUERIES["add_channel"], params)
        assert row is not None
        logger.info("channels.added channel_id=%s kind=%s by=%s", row["id"], channel.kind, actor)
        return await self.get(int(row["id"]))

    async def _write(self, query: str, params: dict[str, Any]) -> Mapping[str, Any] | None:
        try:
            return await self._db.row(query, params)
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None

    async def change(self, actor: Actor, channel_id: int, patch: ChannelPatch) -> Channel:
        given = patch.model_fields_set
        for name in ("name", "config", "is_default", "enabled"):
            if name in given and getattr(patch, name) is None:
                raise Invalid(name, "may not be null")
        current = await self.get(channel_id)
        if patch.config is not None:
            self._check_config(actor, current.kind, patch.config)
        row = await self._write(QUERIES["update_channel"], {
            "channel_id": channel_id,
            "set_name": "name" in given, "name": patch.name,
            "set_config": "config" in given,
            "config": None if patch.config is None else Jsonb(patch.config),
            "set_secret": "secret" in given, "secret": patch.secret,
            "set_default": "is_default" in given, "is_default": patch.is_default,
            "set_enabled": "enabled" in given, "enabled": patch.enabled,
        })  # fmt: skip
        if row is None:
            raise NotFound(f"no channel with id {channel_id}")
        logger.info("channels.changed channel_id=%d by=%s", channel_id, actor)
        return await self.get(channel_id)

    async def remove(self, actor: Actor, channel_id: int) -> None:
        """Remove a channel and its queued notifications."""
        if await self._db.row(QUERIES["delete_channel"], {"channel_id": channel_id}) is None:
            raise NotFound(f"no channel with id {channel_id}")
        logger.info("channels.removed channel_id=%d by=%s", channel_id, actor)

    async def every(self) -> list[Channel]:
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": None, "name": None})
        return [Channel.from_row(r) for r in rows]

    async def get(self, channel_id: int) -> Channel:
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": channel_id, "name": None})
        if not rows:
            raise NotFound(f"no channel with id {channel_id}")
        return Channel.from_row(rows[0])

    async def named(self, name: str) -> Channel:
        rows = await self._db.rows(QUERIES["channels"], {"channel_id": None, "name": name})
        if not rows:
            raise NotFound(f"no channel named {name}")
        return Channel.from_row(rows[0])

    async def test(self, actor: Actor, channel_id: int) -> str | None:
        """Send a test notification now, under the target policy: None when the channel
        accepted it, else what failed (never a URL or a secret)."""
        row = await self._db.row(QUERIES["channel_to_send"], {"channel_id": channel_id})
        if row is None:
            raise NotFound(f"no channel with id {channel_id}")
        channel = Sendable(int(row["id"]), row["name"], row["kind"], row["config"], row["secret"])
        if channel.kind in OPERATOR_ONLY and not actor.trusted:
            raise Invalid(
                "kind", f"{channel.kind} channels bypass the target policy: test them with the CLI"
            )
        error = await send_test_notification(channel, self._policy, TEST_TIMEOUT_S)
        logger.info("channels.tested channel_id=%d by=%s sent=%s", channel_id, actor, error is None)
        return error

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

    async def routes(self, site_id: int) -> list[str]:
        return [str(r["name"]) for r in await self._db.rows(QUERIES["site_routes"],
                                                              {"site_id": site_id})]  # fmt: skip
