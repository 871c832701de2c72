"""The domain core: one module per aggregate, each owning its SQL file and its rules.

    sites (+ site_rules, site_views)   register, change, remove, read sites
    tasks                              on-demand checks
    channels, windows, incidents       alerting: where news goes, when it is held, what it was
    keys, users                        who may use the API and the dashboard
    history                            a site's checks, uptime, series and state changes
    site_regions                       a site's regions beside its quorum: advisories, summaries
    status_pages (+ status_views,      public status pages, their groups, the incidents told
      status_page_text, markdown_text)   on them; a page's public view
    certificates                       TLS certificates by when they expire
    results                            checks imported from elsewhere (a CSV file)
    doctor                             whether a configuration can work

The API (`webmon.api`), the dashboard (`webmon.web`) and the CLI (`webmon.cli`) parse their
input, call the core through `Core`, and render what it returns: typed rows, or the core's
refusals (`webmon.core.errors`). They hold no SQL and no domain rule of their own.
"""

from webmon.core.actors import OPERATOR, Actor, Scope
from webmon.core.domain import Core, opened

__all__ = ["OPERATOR", "Actor", "Core", "Scope", "opened"]
