"""Templates and what they format: times (UTC in the page, the viewer's zone once the
script runs, UTC on hover), durations, and the little uptime strips, drawn as SVG on the
server so that they need no script."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from shared.causes import why_down
from shared.version import version


def when(moment: datetime | None) -> Markup:
    if moment is None:
        return Markup("<span class=muted>—</span>")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{utc.isoformat()}" title="{text}">{text}</time>')


def duration(seconds: float | timedelta | None) -> str:
    if seconds is None:
        return "—"
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    if total < 60:
        return f"{total} s"
    minutes, s = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {m} min" if m else f"{hours} h"
    days, h = divmod(hours, 24)
    return f"{days} d {h} h" if h else f"{days} d"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return duration(datetime.now(UTC) - moment) + " ago"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def pct(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f} %"


# Tag colours: one of TAG_COLOURS classes, chosen by the key alone, so `env:prod` and
# `env:staging` share a colour, the same on every page and after every restart (CRC-32, not
# Python's salted hash). A palette of classes rather than a colour per tag: the pages'
# Content-Security-Policy refuses inline styles, and the stylesheet tunes each class for
# light and dark. The text of the tag is always shown: colour only groups.
TAG_COLOURS = 10


def tag_colour(tag: str) -> int:
    """The palette class (0 to TAG_COLOURS - 1) of a tag's key."""
    key = tag.partition(":")[0]
    return zlib.crc32(key.encode()) % TAG_COLOURS


def _level(share: float | None) -> str:
    if share is None:
        return "none"
    if share >= 0.999:
        return "up"
    return "partial" if share >= 0.9 else "down"


def strip(values: list[float | None], labels: list[str], height: int = 18) -> Markup:
    """A bar per value (a share of up checks): green all up, amber some down, red mostly
    down, grey no checks; each bar's title says which period and how much."""
    width, gap = 6, 2
    bars = []
    for i, (share, label) in enumerate(zip(values, labels, strict=True)):
        level = _level(share)
        title = f"{label}: {'no checks' if share is None else pct(share)}"
        bars.append(
            f'<rect x="{i * (width + gap)}" y="0" width="{width}" height="{height}" rx="1" '
            f'class="bar-{level}"><title>{escape(title)}</title></rect>'
        )
    total = len(values) * (width + gap) - gap
    summary = escape(f"uptime over {len(values)} periods")
    return Markup(
        f'<svg class="strip" width="{total}" height="{height}" viewBox="0 0 {total} {height}"'
        f' role="img" aria-label="{summary}">{"".join(bars)}</svg>'
    )


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("webmon.web", "templates"),
        undefined=StrictUndefined,  # a misspelt field fails the page's test, not silently
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, duration=duration, ago=ago, ms=ms, pct=pct, tag_colour=tag_colour)
    # `active` names the navigation entry of the page; a page outside the menu sets none.
    env.globals.update(strip=strip, why_down=why_down, version=version(), active="")
    return env


class Blank(dict[str, Any]):
    """A form's values or errors: a field the dict lacks reads as None, not as an error
    (the templates run with StrictUndefined, which catches misspelt names elsewhere)."""

    def __missing__(self, key: str) -> None:
        return None


class Pages:
    def __init__(self) -> None:
        self.env = environment()

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        for name in ("form", "errors"):
            if isinstance(context.get(name), dict):
                context[name] = Blank(context[name])
        html = self.env.get_template(template).render(request=request, status=status, **context)
        return HTMLResponse(html, status_code=status, headers=headers)
