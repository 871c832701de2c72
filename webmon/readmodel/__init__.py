"""The read model: the SQL that the command line, the HTTP API and the dashboard share.

`sites.sql` registers, lists and changes sites and reads their latest status; `history.sql`
holds the documented queries over rollups, raw rows and state changes (the README quotes
them). Each is a file of named blocks, loaded once.
"""

from shared.queries import load_queries

SITES = load_queries("webmon.readmodel", "sites.sql")
HISTORY = load_queries("webmon.readmodel", "history.sql")
