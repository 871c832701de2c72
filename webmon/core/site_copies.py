"""A copy of a site: every field of its request and its thresholds, as a new site added
the way any other is (`Sites.add`), so the copy meets the same rules and, made by anyone
but the operator, is checked under the target policy. Its credentials are not copied: they
are sealed to the original's id, and a copy should not carry a secret its maker never saw.
(Uptime Kuma's "Clone" opens the copy's form; here the copy starts paused, to be edited
and resumed, so that no unintended request is sent.)"""

from __future__ import annotations

from dataclasses import asdict

from webmon.core.actors import Actor
from webmon.core.site_labels import MAX_NAME
from webmon.core.site_rules import OPTION_COLUMNS, SiteIn
from webmon.core.site_views import Site
from webmon.core.sites import Sites

COPY = " (copy)"


def copy_of(site: Site) -> SiteIn:
    """A new site with the fields of `site`, named as its copy, paused."""
    values = asdict(site)
    fields = {name: values[name] for name in OPTION_COLUMNS if values[name] is not None}
    fields["expected_status"] = [list(pair) for pair in site.expected_status]
    fields["enabled"] = False
    name = (site.name or site.url)[: MAX_NAME - len(COPY)].rstrip() + COPY
    return SiteIn(
        url=site.url, name=name, tags=site.tags, interval_seconds=site.interval_seconds,
        timeout_seconds=site.timeout_seconds, cert_expiry_days=site.cert_expiry_days, **fields,
    )  # fmt: skip


async def clone(sites: Sites, actor: Actor, site_id: int) -> int:
    """The copy's id: the site's fields and thresholds, paused, without its credentials."""
    site = await sites.get(site_id)
    new_id = await sites.add(actor, copy_of(site), restricted=site.restricted)
    await sites.set_thresholds(
        actor, new_id, failure=site.failure_threshold, success=site.success_threshold,
        reminder=site.reminder_interval_seconds, set_reminder=True,
    )  # fmt: skip
    return new_id
