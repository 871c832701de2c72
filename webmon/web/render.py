"""Templates and what they format: times (UTC in the page, the viewer's zone once the
script runs, UTC on hover), durations, and the little uptime strips, drawn as SVG on the
server so that they need no script."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from shared.causes import why_down
from shared.durations import duration, ms, seconds
from shared.version import version
from webmon.core.status_views import two_decimals


def when(moment: datetime | None) -> Markup:
    if moment is None:
        return Markup("<span class=muted>—</span>")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{utc.isoformat()}" title="{text}">{text}</time>')


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return duration(datetime.now(UTC) - moment) + " ago"


# Where a URL may wrap: after these, so a long URL breaks between its parts, not mid-word.
_URL_BREAKS = "/?&=#"


def wrap_url(url: str) -> Markup:
    """A URL, escaped, with a line-break opportunity after each separator."""
    out = []
    for i, c in enumerate(url):
        out.append(str(escape(c)))
        if c in _URL_BREAKS and not url[i : i + 2] == "//" and not url[i - 1 : i + 1] == "//":
            out.append("<wbr>")
    return Markup("".join(out))


def task_outcome(task: Any) -> str:
    """One word for a task: QUEUED, CHECKING, then UP or DOWN (it was checked) or ERROR (it
    could not be: expired, blocked)."""
    name = task.status.name
    if name == "NEW":
        return "QUEUED"
    if name == "PROCESSING":
        return "CHECKING"
    if name == "ERROR" or not task.result:
        return "ERROR"
    return "UP" if task.result.get("up") else "DOWN"


def tasks_outcome(tasks: list[Any]) -> str:
    """The word of tasks submitted together (one per region): theirs when they agree,
    MIXED when they do not."""
    words = {task_outcome(t) for t in tasks}
    return words.pop() if len(words) == 1 else "MIXED"


def pct(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f} %"


def pct2(share: float | None) -> str:
    """An uptime share as the status pages print it: two decimals, rounded down."""
    return "—" if share is None else f"{two_decimals(share)} %"


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


def strip(
    values: list[float | None], labels: list[str], height: int = 18,
    titles: list[str] | None = None,
) -> Markup:  # fmt: skip
    """A bar per value (a share of up checks): green all up, amber some down, red mostly
    down, grey no checks; each bar's title says which period and how much (`titles`: each
    bar's whole title instead)."""
    width, gap = 6, 2
    bars = []
    for i, (share, label) in enumerate(zip(values, labels, strict=True)):
        level = _level(share)
        if titles is not None:
            title = titles[i]
        else:
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


def day_title(day: Any) -> str:
    """A day bar's tooltip (a webmon.core.history_records.Day): its uptime and checks; by
    quorum, its slots, and the regions whose own checks were not all up that day."""
    when = f"{day.day:%Y-%m-%d}"
    if not day.by_quorum:
        up = "no checks" if day.up_share is None else pct(day.up_share)
        return f"{when}: {day.checks or 0} checks: {up}"
    if day.unkept:
        return (f"{when}: not counted by quorum (its checks are no longer kept); "
                f"{day.region_checks} checks from every region")  # fmt: skip
    if day.up_share is None:
        text = f"{when}: no slot with a quorum's verdict"
    else:
        text = f"{when}: {pct(day.up_share)} by quorum, {day.checks} slots"
    if day.below:
        alone = ", ".join(f"{b.region} {pct(b.up_share)}" for b in day.below)
        text += f"; below on its own: {alone}"
    return text


# A tick's shape says its state without its colour: an up check a short bar, a down one a
# full-height bar, a missed slot a dot at the foot; a slot without a check yet a faint
# outline. (Uptime Kuma's heartbeat bar, with shapes so that colour is never alone.)
TICK_WIDTH, TICK_GAP, TICK_HEIGHT = 4, 2, 20
_TICK_SHAPES = {"up": (9, 11), "down": (0, 20), "missed": (16, 4), "empty": (9, 11)}


def tick_title(tick: Any) -> str:
    """A tick's tooltip: when (UTC), its state, and its status or why it was down."""
    # isoformat, not strftime: the same text at a third of the time, 2,500 times a page
    when_text = tick.checked_at.astimezone(UTC).isoformat(" ", "seconds")[:19] + " UTC"
    if tick.failed_regions is not None:  # a slot of a site checked from several regions
        return _slot_title(tick, when_text)
    if tick.state == "missed":
        return f"{when_text} · MISSED · no checker performed this slot in time"
    parts = [when_text, tick.state.upper()]
    if tick.status_code is not None:
        parts.append(f"HTTP {tick.status_code}")
    if tick.response_time_ms is not None:
        parts.append(ms(tick.response_time_ms))
    if tick.cause:
        parts.append(tick.cause + (f" ({tick.error_detail})" if tick.error_detail else ""))
    return " · ".join(parts)


def _slot_title(tick: Any, when_text: str) -> str:
    """A slot's tooltip: the quorum's verdict and the regions whose check failed."""
    if tick.state == "missed":
        verdict = "NO VERDICT · not enough regions checked this slot"
    else:
        verdict = f"{tick.state.upper()} by quorum"
    checked = len(tick.reported_regions or [])
    failed = tick.failed_regions
    told = f"failed in {', '.join(failed)}" if failed else "failed in no region"
    return f"{when_text} · {verdict} · {told} ({checked} region{'s' * (checked != 1)} checked)"


@lru_cache(maxsize=4096)
def _tick_head(i: int, state: str) -> str:
    """A tick's rect up to its title, the same for every site: made once per slot and state."""
    y, height = _TICK_SHAPES[state]
    x = i * (TICK_WIDTH + TICK_GAP)
    return (
        f'<rect x="{x}" y="{y}" width="{TICK_WIDTH}" height="{height}" rx="1" '
        f'class="tick tick-{state}" data-state="{state}"><title>'
    )


def ticks(checks: list[Any], slots: int = 50) -> Markup:
    """A bar of a site's latest checks, oldest on the left, one tick per check, each with
    its state (data-state) and a tooltip; free slots on the left while a site is new."""
    width = slots * (TICK_WIDTH + TICK_GAP) - TICK_GAP
    shown = checks[-slots:]
    free = slots - len(shown)
    drawn = [_free_ticks(free)]
    counts = {"up": 0, "down": 0, "missed": 0}
    for i, tick in enumerate(shown, free):
        state = tick.state
        counts[state] += 1
        drawn.append(f"{_tick_head(i, state)}{escape(tick_title(tick))}</title></rect>")
    noun = "slots by quorum" if shown and shown[0].failed_regions is not None else "checks"
    summary = f"last {len(shown)} {noun}: {counts['up']} up, {counts['down']} down" + (
        f", {counts['missed']} missed" if counts["missed"] else ""
    )
    return Markup(
        f'<svg class="ticks" width="{width}" height="{TICK_HEIGHT}" '
        f'viewBox="0 0 {width} {TICK_HEIGHT}" role="img" aria-label="{escape(summary)}">'
        f"<title>{escape(summary)}</title>{''.join(drawn)}</svg>"
    )


@lru_cache(maxsize=256)
def _free_ticks(count: int) -> str:
    """The `count` free slots on the left of a new site's bar."""
    return "".join(f"{_tick_head(i, 'empty')}no check yet</title></rect>" for i in range(count))


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("webmon.web", "templates"),
        undefined=StrictUndefined,  # a misspelt field fails the page's test, not silently
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when, duration=duration, ago=ago, ms=ms, pct=pct, pct2=pct2, tag_colour=tag_colour,
        seconds=seconds, wrap_url=wrap_url,
    )  # fmt: skip
    # `active` names the navigation entry of the page; a page outside the menu sets none.
    env.globals.update(
        strip=strip,
        ticks=ticks,
        task_outcome=task_outcome,
        tasks_outcome=tasks_outcome,
        why_down=why_down,
        version=version(),
        active="",
    )
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
