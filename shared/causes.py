"""Why a check was down, in the words every surface uses: the dashboard's pages, the CLI,
the API's incident objects and the notifications all show this one text.

The writer stores it as an incident's `cause` when the incident opens; the dashboard and
the CLI compute it from a check's columns with the same function, so the reason reads the
same wherever a person looks.
"""

from __future__ import annotations

SEPARATOR = " · "


def why_down(status_code: int | None, error: str | None, regex_matched: bool | None = None) -> str:
    """The error class when the check failed ("timeout", "dns", "blocked", ...); else what
    the response showed: "regex did not match · HTTP 200", "HTTP 503"; "down" without
    either. A regex found on a down response is said too: for a site whose regex must be
    absent it is the reason, for any other it is what the page held."""
    if error:
        return error
    status = None if status_code is None else f"HTTP {status_code}"
    if regex_matched is False:
        return SEPARATOR.join(part for part in ("regex did not match", status) if part)
    if regex_matched is True:
        return SEPARATOR.join(part for part in (status, "regex found") if part)
    return status or "down"
