"""Forms: where to go after a login, a refusal beside its field, badges.

What a form's fields mean and which values they may hold are the core's
(`webmon.core.site_rules.fields_from_text` and the models); a page only places the core's
words beside the field they name.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from markupsafe import escape

from webmon.core.errors import Invalid

# Where a refusal that names no field of the form is shown.
FORM = "form"


def safe_next(target: str) -> str:
    """Where to go after logging in: only a path of this site (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def errors_of(exc: Invalid, fields: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """{field: the core's words}: beside the field when the form has it, else at the top
    (FORM), naming the field."""
    if exc.field is not None and exc.field in fields:
        return {exc.field: exc.message}
    where = f"{exc.field}: " if exc.field else ""
    return {FORM: f"{where}{exc.message}"}


def badge_svg(label: str, value: str, colour: str) -> str:
    """A shields-style badge: label on grey, value on its colour."""
    left = 6 * len(label) + 12
    right = 6 * len(value) + 12
    total = left + right
    label_e, value_e = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label_e}: {value_e}"><title>{label_e}: {value_e}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="6" y="14">{label_e}</text><text x="{left + 6}" y="14">{value_e}</text></g></svg>'
    )
