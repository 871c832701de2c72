"""The read model: the SQL that the command line, the HTTP API and the dashboard share.

`sites.sql` registers, lists and changes sites and reads their latest status; `history.sql`
holds the queries over rollups, raw rows and state changes (the README quotes the
documented ones); `site_history.sql` one site's pages of history and chart series;
`keys.sql` the API keys; `tasks.sql` the on-demand check tasks; `dashboard.sql` the web
dashboard's users, sessions and overview extras; `alerting.sql` channels, routing,
thresholds, maintenance windows and incidents. Each is a
file of named blocks, loaded once.
"""

from shared.queries import load_queries

SITES = load_queries("webmon.readmodel", "sites.sql")
HISTORY = load_queries("webmon.readmodel", "history.sql")
SITE_HISTORY = load_queries("webmon.readmodel", "site_history.sql")
KEYS = load_queries("webmon.readmodel", "keys.sql")
TASKS = load_queries("webmon.readmodel", "tasks.sql")
DASHBOARD = load_queries("webmon.readmodel", "dashboard.sql")
ALERTING = load_queries("webmon.readmodel", "alerting.sql")
SITES["api_sites_json"] = SITES["api_sites_json"].replace("{api_sites}", SITES["api_sites"])
