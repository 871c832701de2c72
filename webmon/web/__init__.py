"""The web dashboard: templates and static files (vendored scripts under static/vendor)."""
