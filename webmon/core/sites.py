"""Sites: register, change, remove, read. The one owner of the sites table's writes for the
API, the dashboard and the CLI; the rules themselves are in `webmon.core.site_rules`.

Every way to add a site ends in `add_many` (one COPY, all or none), so a single add, the
API's bulk import, the dashboard's pasted list and a CSV file meet the same checks. Every
change goes through `change`: it reads the row, applies the change, and decides whether the
site is now checked under the target policy (someone other than the operator shaped its
request) before it writes the row back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from shared.db import AsyncConnection, AsyncDatabase, dict_rows, translated_errors
from shared.errors import DatabaseError
from shared.netpolicy import TargetPolicy
from shared.queries import load_queries
from shared.sealing import KEY_VARIABLE, SecretBox
from webmon.core.actors import Actor
from webmon.core.errors import Forbidden, Invalid, NotFound, invalid_from_database
from webmon.core.site_labels import normal_tag, normal_tags
from webmon.core.site_rules import (
    CONSTRAINTS,
    DEFAULT_TIMEOUT_S,
    NOT_NULL_FIELDS,
    OPTION_COLUMNS,
    AuthIn,
    SiteIn,
    SitePatch,
    check_quorum,
    check_timeout,
    refuse_local_options,
    shapes_request,
)
from webmon.core.site_views import DownSite, PublicSite, Site, Summary, Thresholds
from webmon.core.targets import refuse_untrusted_target

logger = logging.getLogger(__name__)

QUERIES = load_queries("webmon.core", "sites.sql")
QUERIES["sites_json"] = QUERIES["sites_json"].replace("{site_rows}", QUERIES["site_rows"])
COPY_COLUMNS = (
    "id", "url", "name", "tags", "interval_seconds", "timeout_seconds", "restricted",
    *OPTION_COLUMNS, "cert_expiry_days",
)  # fmt: skip
DEFAULT_EXPECTED_TEXT = "{[200,400)}"
MAX_SITE_ID = 2**63 - 1


def multirange(pairs: Sequence[Sequence[int]] | None) -> str:
    """[low, high) pairs as PostgreSQL's int4multirange text."""
    if pairs is None:
        return DEFAULT_EXPECTED_TEXT
    return "{" + ",".join(f"[{low},{high})" for low, high in pairs) + "}"


def _column(name: str, value: Any) -> Any:
    """A field's value as its column takes it."""
    if name == "headers":
        return None if value is None else Jsonb(value)
    if name == "expected_status":
        return multirange(value)
    return value


def _bulk_item(exc: DatabaseError) -> int | None:
    """COPY names the line that failed in its CONTEXT ("COPY sites, line 3"): item 2."""
    if exc.context and ", line " in exc.context:
        number = exc.context.split(", line ", 1)[1].split(":", 1)[0].split(",", 1)[0]
        if number.strip().isdigit():
            return int(number) - 1
    return None


def tag_filter(tag: str | None) -> str | None:
    """A filter's tag as the table keeps tags (`Env: Prod` is `env:Prod`); refused in the
    core's words when no tag could be written so."""
    if tag is None:
        return None
    try:
        return normal_tag(tag)
    except ValueError as exc:
        raise Invalid("tag", str(exc)) from None


def _page(
    after: int,
    site_id: int | None,
    state: str | None,
    enabled: bool | None,
    q: str | None,
    limit: int,
    tag: str | None = None,
) -> dict[str, Any]:
    """`site_rows`' parameters."""
    return {"after": after, "site_id": site_id, "enabled": enabled, "state": state, "q": q,
            "tag": tag_filter(tag), "limit": limit}  # fmt: skip


class Sites:
    def __init__(
        self,
        db: AsyncDatabase,
        reads: AsyncDatabase,
        policy: TargetPolicy,
        box: SecretBox | None,
    ) -> None:
        self._db = db
        self._reads = reads
        self._policy = policy
        self._box = box

    # -- adding --------------------------------------------------------------------------

    def _admit(self, site: SiteIn, restricted: bool) -> None:
        """The checks a new site meets before the database's constraints do."""
        check_timeout(site.interval_seconds, site.timeout_seconds)
        check_quorum(site.regions, site.quorum)
        if restricted:
            refuse_untrusted_target(self._policy, site.url)
            refuse_local_options(site.model_dump(include=set(site.model_fields_set)))
        if site.auth is not None:
            self._sealer("auth")

    @property
    def can_seal(self) -> bool:
        """Whether credentials can be set: they are sealed with WEBMON_SECRET_KEY."""
        return self._box is not None

    def _sealer(self, field: str) -> SecretBox:
        if self._box is None:
            raise Invalid(
                field, f"{KEY_VARIABLE} is not set: it seals credentials for the checkers"
            )
        return self._box

    async def add(self, actor: Actor, site: SiteIn, *, restricted: bool = False) -> int:
        """The new site's id. A site from anyone but the operator is restricted (checked
        under the target policy); the operator may ask for that too."""
        try:
            return (await self.add_many(actor, [site], restricted=restricted))[0]
        except Invalid as exc:
            raise Invalid(exc.field, exc.message, constraint=exc.constraint) from None

    async def add_many(
        self, actor: Actor, sites: Sequence[SiteIn], *, restricted: bool = False
    ) -> list[int]:
        """Every site or none, in one transaction and one COPY; the ids in order. A refusal
        is `Invalid` with `item` set to the refused site's position."""
        restricted = restricted or not actor.trusted
        for item, site in enumerate(sites):
            try:
                self._admit(site, restricted)
            except Invalid as exc:
                raise exc.at(item) from None
        async with self._db.connection() as conn, conn.transaction():
            cur = await conn.execute(QUERIES["reserve_site_ids"], {"count": len(sites)})
            ids = [int(r[0]) for r in await cur.fetchall()]
            try:
                with translated_errors():
                    await self._copy(conn, ids, sites, restricted)
            except DatabaseError as exc:
                if not exc.integrity and not (exc.sqlstate or "").startswith("22"):
                    raise
                raise invalid_from_database(exc, CONSTRAINTS, _bulk_item(exc)) from None
            auths = [
                self._auth_params(site_id, site.auth)
                for site_id, site in zip(ids, sites, strict=True)
                if site.auth is not None
            ]
            if auths:
                with translated_errors():
                    async with conn.cursor() as cur:
                        await cur.executemany(QUERIES["set_site_auth"], auths)
        for site_id, site in zip(ids, sites, strict=True):
            logger.info(
                "sites.added site_id=%d by=%s restricted=%s url=%s",
                site_id, actor, restricted, site.url,
            )  # fmt: skip
        return ids

    async def _copy(
        self, conn: AsyncConnection, ids: list[int], sites: Sequence[SiteIn], restricted: bool
    ) -> None:
        async with conn.cursor().copy(QUERIES["copy_sites"]) as copy:
            for site_id, site in zip(ids, sites, strict=True):
                values = {"id": site_id, "restricted": restricted, **site.model_dump()}
                await copy.write_row([_column(name, values[name]) for name in COPY_COLUMNS])

    def _auth_params(self, site_id: int, auth: Any) -> dict[str, Any]:
        """`set_site_auth`'s parameters: the secret sealed to this site, kind and user."""
        box = self._sealer("auth")
        if auth.kind == "basic":
            username: str | None = auth.username
            secret = auth.password.get_secret_value()
        else:
            username, secret = None, auth.token.get_secret_value()
        sealed = box.seal(site_id, auth.kind, username, secret)
        return {"site_id": site_id, "kind": auth.kind, "username": username, "sealed": sealed}

    # -- changing ------------------------------------------------------------------------

    async def change(self, actor: Actor, site_id: int, patch: SitePatch) -> None:
        """Apply the fields `patch` names. Anyone but the operator who changes what the
        check sends or reads puts the site under the target policy; only the operator, or
        an admin key saying `restricted: false`, takes it out."""
        given = set(patch.model_fields_set)
        for name in NOT_NULL_FIELDS:
            if name in given and getattr(patch, name) is None:
                raise Invalid(name, "may not be null")
        clearing = "restricted" in given and patch.restricted is False
        if clearing and not (actor.trusted or (actor.kind == "key" and actor.admin)):
            raise Forbidden("restricted: only the operator or an admin key may clear it")
        async with self._db.connection() as conn, conn.transaction():
            rows = await dict_rows(conn, QUERIES["site_for_change"], {"site_id": site_id})
            if not rows:
                raise NotFound(f"no site with id {site_id}")
            current = dict(rows[0])
            # A new URL meets the policy; the one the site has (a form posts it back) is
            # judged when it is checked, as any restricted site's is.
            if patch.url is not None and patch.url != current["url"] and not actor.trusted:
                refuse_untrusted_target(self._policy, patch.url)
            current["expected_status"] = [tuple(p) for p in current["expected_status"]]
            new = dict(current)
            for name in given - {"auth", "restricted"}:
                value = getattr(patch, name)
                new[name] = (
                    [tuple(p) for p in value] if name == "expected_status" and value else value
                )
            if new["tags"] is None:  # null clears the set: the column holds an empty one
                new["tags"] = []
            if "timeout_seconds" in given and patch.timeout_seconds is None:
                new["timeout_seconds"] = min(DEFAULT_TIMEOUT_S, new["interval_seconds"])
            if new["expected_status"] is None:
                new["expected_status"] = [(200, 400)]
            changed = {
                name for name in given - {"auth", "restricted"} if new[name] != current[name]
            }
            if "auth" in given:
                changed.add("auth")
            shaped = not actor.trusted and shapes_request(changed)
            if clearing:
                new["restricted"] = False
            elif patch.restricted or shaped:
                new["restricted"] = True
            if new["restricted"]:
                refuse_local_options(new)
            check_timeout(new["interval_seconds"], new["timeout_seconds"])
            check_quorum(new["regions"], new["quorum"])
            params = {name: _column(name, value) for name, value in new.items()}
            try:
                with translated_errors():
                    await conn.execute(QUERIES["update_site"], params)
                    if "auth" in given:
                        await self._write_auth(conn, site_id, patch.auth)
            except DatabaseError as exc:
                if not exc.integrity:
                    raise
                raise invalid_from_database(exc, CONSTRAINTS) from None
        logger.info(
            "sites.changed site_id=%d by=%s fields=%s restricted=%s",
            site_id, actor, ",".join(sorted(changed)) or "-", new["restricted"],
        )  # fmt: skip

    async def _write_auth(self, conn: AsyncConnection, site_id: int, auth: Any) -> None:
        if auth is None:
            await conn.execute(QUERIES["clear_site_auth"], {"site_id": site_id})
        else:
            await conn.execute(QUERIES["set_site_auth"], self._auth_params(site_id, auth))

    async def set_auth(self, actor: Actor, site_id: int, auth: AuthIn | None) -> None:
        """Set, replace or (None) remove a site's credentials: a change like any other."""
        await self.change(actor, site_id, SitePatch(auth=auth))

    async def set_enabled(self, actor: Actor, site_ids: Sequence[int], enabled: bool) -> list[Site]:
        """Pause or resume sites: not a change of what a check sends."""
        rows = await self._db.rows(
            QUERIES["set_enabled"], {"site_ids": list(site_ids), "enabled": enabled}
        )
        found = {int(r["id"]) for r in rows}
        missing = [site_id for site_id in site_ids if site_id not in found]
        if missing:
            raise NotFound(f"no site with id {missing[0]}")
        for site_id in site_ids:
            logger.info("sites.%s site_id=%d by=%s", "enabled" if enabled else "disabled",
                        site_id, actor)  # fmt: skip
        return [await self.get(site_id) for site_id in site_ids]

    async def set_public(self, actor: Actor, site_id: int, public: bool) -> None:
        if (
            await self._db.row(QUERIES["set_public"], {"site_id": site_id, "public": public})
            is None
        ):
            raise NotFound(f"no site with id {site_id}")
        logger.info("sites.public site_id=%d by=%s public=%s", site_id, actor, public)

    async def unrestrict(self, actor: Actor, site_id: int) -> None:
        """Check a site without the target policy again: the operator vouches for it."""
        await self.change(actor, site_id, SitePatch(restricted=False))

    async def set_thresholds(
        self,
        actor: Actor,
        site_id: int,
        *,
        failure: int | None = None,
        success: int | None = None,
        reminder: int | None = None,
        set_reminder: bool = False,
        tags: list[str] | None = None,
        cert_days: int | None = None,
    ) -> Thresholds:
        """`cert_days`: how many days before its TLS certificate expires the site warns."""
        if tags is not None:
            try:
                tags = normal_tags(tags)
            except ValueError as exc:
                raise Invalid("tags", str(exc)) from None
        params = {
            "site_id": site_id, "failure": failure, "success": success,
            "set_reminder": set_reminder, "reminder": reminder, "tags": tags,
            "cert_days": cert_days,
        }  # fmt: skip
        try:
            row = await self._db.row(QUERIES["set_thresholds"], params)
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise invalid_from_database(exc, CONSTRAINTS) from None
        if row is None:
            raise NotFound(f"no site with id {site_id}")
        logger.info("sites.thresholds site_id=%d by=%s", site_id, actor)
        return Thresholds.from_row(row)

    async def remove(self, actor: Actor, site_id: int) -> None:
        """Delete a site; its checks stay in the history."""
        if await self._db.row(QUERIES["delete_site"], {"site_id": site_id}) is None:
            raise NotFound(f"no site with id {site_id}")
        logger.info("sites.removed site_id=%d by=%s", site_id, actor)

    # -- reading -------------------------------------------------------------------------

    async def find(self, ref: str) -> Site:
        """The one site `ref` names: an id when it is all digits, else a URL. A URL that
        several sites share is refused: the caller must give an id."""
        params = {"site_id": int(ref) if ref.isdigit() else None, "url": ref}
        rows = await self._db.rows(QUERIES["find_sites"], params)
        if not rows:
            raise NotFound(f"no site with {'id' if ref.isdigit() else 'URL'} {ref}")
        if len(rows) > 1:
            ids = ", ".join(str(r["id"]) for r in rows)
            raise Invalid(None, f"{len(rows)} sites have the URL {ref} (ids {ids}); give an id")
        return await self.get(int(rows[0]["id"]))

    async def get(self, site_id: int) -> Site:
        found = await self.page(site_id=site_id, limit=1)
        if not found:
            raise NotFound(f"no site with id {site_id}")
        return found[0]

    async def page(
        self,
        *,
        after: int = 0,
        site_id: int | None = None,
        state: str | None = None,
        enabled: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        tag: str | None = None,
    ) -> list[Site]:
        """Sites after the id `after`, with their latest status: `state` up, down or
        unchecked, `q` a piece of the URL or the name, `tag` a tag or a tag's key."""
        params = _page(after, site_id, state, enabled, q, limit, tag)
        return [Site.from_row(r) for r in await self._db.rows(QUERIES["site_rows"], params)]

    async def every(
        self, *, enabled: bool | None = None, tag: str | None = None, batch: int = 1000
    ) -> list[Site]:
        """Every site (the CLI's lists), a page at a time."""
        found: list[Site] = []
        while True:
            after = found[-1].id if found else 0
            page = await self.page(after=after, enabled=enabled, tag=tag, limit=batch)
            found.extend(page)
            if len(page) < batch:
                return found

    async def page_json(
        self,
        *,
        after: int = 0,
        site_id: int | None = None,
        state: str | None = None,
        enabled: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        tag: str | None = None,
    ) -> tuple[bytes, int | None]:
        """A page as `page` reads it, as a JSON array of the API's site objects made by
        PostgreSQL on the read pool, and the id to page on from (None on the last page)."""
        params = _page(after, site_id, state, enabled, q, limit + 1, tag)
        rows = await self._reads.fetch(QUERIES["sites_json"], params)
        more = len(rows) > limit
        rows = rows[:limit]
        body = "[" + ",".join([row[1] for row in rows]) + "]"
        return body.encode(), int(rows[-1][0]) if more else None

    async def one_json(self, site_id: int) -> bytes:
        """One site as the API shows it, made as a page's are."""
        body, _ = await self.page_json(site_id=site_id, limit=1)
        if body == b"[]":
            raise NotFound(f"no site with id {site_id}")
        return body[1:-1]

    async def summary(self, *, q: str | None = None, tag: str | None = None) -> Summary:
        """Enabled sites up, down and not checked yet; disabled sites: of all, or of those
        a search picks (`q`, `tag` as in `page`). On the read pool, as down_now."""
        params = {"q": q, "tag": tag_filter(tag)}
        if q is None and params["tag"] is None:  # every site: two scans, no join
            row = await self._reads.row(QUERIES["status_summary_all"])
        else:
            row = await self._reads.row(QUERIES["status_summary"], params)
        return Summary(**row) if row else Summary(0, 0, 0, 0)

    async def down_now(self, *, q: str | None = None, tag: str | None = None) -> list[DownSite]:
        """The sites down now, longest first: of all, or of those a search picks. On the
        read pool: its generic plan starts from the few sites down (site_status_down_idx)
        and looks each up by id, ~6 ms at 100,000 sites; the custom plan PostgreSQL kept
        on the other pool hashed the whole sites table for them, ~25 ms."""
        params = {"q": q, "tag": tag_filter(tag)}
        return [DownSite(**r) for r in await self._reads.rows(QUERIES["down_now"], params)]

    async def public(self) -> list[PublicSite]:
        """The sites on the public status page."""
        return [PublicSite(**r) for r in await self._db.rows(QUERIES["public_sites"])]
