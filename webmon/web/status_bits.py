"""What the public status pages are drawn with: a site's bar of days, the page's JSON, its
Atom feed (RFC 4287) and its Content-Security-Policy.

The bar is one SVG with a rect per day, each with a `<title>` (a browser's tooltip, no
JavaScript): the day's uptime with two decimals and that day's incidents. Days in a row at
100.00 % with nothing told, or without checks, share one rect and one title, so a page of
1,000 quiet sites stays small. The JSON lists each site's days with checks or incidents
only (the others had neither).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from markupsafe import Markup, escape

from webmon.api.headers import CONTENT_SECURITY_POLICY
from webmon.core.status_views import DayView, PageView, SiteView, two_decimals

BAR_HEIGHT = 28
DAY_WIDTH, DAY_GAP = 4, 1


def _run_key(day: DayView) -> str | None:
    """Days that may share a rect: quiet ones, at 100.00 % with nothing told."""
    if day.incidents or day.uptime is None:
        return None
    return "up" if two_decimals(day.uptime) == "100.00" else None


def _segments(site: SiteView, first: date, count: int) -> list[tuple[int, int, DayView | None]]:
    """(first index, last index, the day or None for days without checks), with days in a
    row without checks, or quiet at 100.00 %, merged."""
    out: list[tuple[int, int, DayView | None]] = []
    keys: list[str | None] = []
    pos = 0

    def add(a: int, b: int, day: DayView | None, key: str | None) -> None:
        if out and key is not None and keys[-1] == key:
            out[-1] = (out[-1][0], b, out[-1][2])
        else:
            out.append((a, b, day))
            keys.append(key)

    for day in site.days:
        index = (day.day - first).days
        if index > pos:
            add(pos, index - 1, None, "none")
        add(index, index, day, _run_key(day))
        pos = index + 1
    if pos < count:
        add(pos, count - 1, None, "none")
    return out


class DayBars:
    """Draws the bars of one page's sites: the days' dates and the rects shared by many
    sites (stretches without checks, quiet stretches at 100.00 %) are made once a page."""

    def __init__(self, first: date, count: int) -> None:
        self.first, self.count = first, count
        self._dates = [(first + timedelta(days=k)).isoformat() for k in range(count)]
        self._shared: dict[tuple[int, int, str], str] = {}
        self._total = count * (DAY_WIDTH + DAY_GAP) - DAY_GAP

    def _rect(self, a: int, b: int, level: str, title: str) -> str:
        x, width = a * (DAY_WIDTH + DAY_GAP), (b - a + 1) * (DAY_WIDTH + DAY_GAP) - DAY_GAP
        return (f'<rect x="{x}" width="{width}" height="{BAR_HEIGHT}" rx="1" '
                f'class="bar-{level}"><title>{escape(title)}</title></rect>')  # fmt: skip

    def _stretch(self, a: int, b: int, level: str) -> str:
        found = self._shared.get((a, b, level))
        if found is None:
            what = "no checks" if level == "none" else "100.00 % up each day"
            span = self._dates[a] if a == b else f"{self._dates[a]} to {self._dates[b]}"
            found = self._shared[(a, b, level)] = self._rect(a, b, level, f"{span}: {what}")
        return found

    def __call__(self, site: SiteView) -> Markup:
        parts = []
        for a, b, day in _segments(site, self.first, self.count):
            if day is None:
                parts.append(self._stretch(a, b, "none"))
            elif a == b:
                parts.append(self._rect(a, b, day.level, day.label))
            else:
                parts.append(self._stretch(a, b, "up"))
        label = escape(f"{site.name}: uptime per day over {self.count} days")
        return Markup(
            f'<svg class="days" viewBox="0 0 {self._total} {BAR_HEIGHT}" '
            f'preserveAspectRatio="none" role="img" aria-label="{label}">{"".join(parts)}</svg>'
        )

    def sites(self, sites: list[SiteView]) -> Markup:
        """A group's list items, each site's name, uptime, state and bar: drawn here in
        one pass rather than by the template site by site (a page of 1,000 sites spent
        ~10 ms in the template's per-site lookups and calls)."""
        ends = (f'<div class="row muted small bar-ends"><span>{self.count} days ago</span>'
                "<span>today</span></div>")  # fmt: skip
        return Markup("".join([
            f'<li class="status-site" data-site="{s.id}" data-state="{s.state}">\n'
            f'<div class="row"><span><strong class="site-name">{escape(s.name)}</strong>'
            + (f' <span class="muted small url">{escape(s.url)}</span>' if s.url else "")
            + f'</span>\n<span><span class="muted small uptime">{_pct2(s.uptime)} uptime</span> '
            f"{_STATE[s.up]}</span></div>\n{self(s)}\n{ends}\n</li>\n"
            for s in sites
        ]))  # fmt: skip


_STATE = {
    None: '<span class="state state-none">NO DATA</span>',
    True: '<span class="state state-up">UP</span>',
    False: '<span class="state state-down">DOWN</span>',
}


def _pct2(share: float | None) -> str:
    """The template's pct2: two decimals, rounded down, or a dash."""
    return "—" if share is None else f"{two_decimals(share)} %"


def csp_for(view: PageView) -> str:
    """The dashboard's policy, with the page's logo's origin allowed as an image."""
    if not view.logo_url:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(view.logo_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


def _incident(v: Any) -> dict[str, Any]:
    i = v.incident
    return {
        "id": i.id, "title": i.title, "status": i.status, "affected": v.affected,
        "opened_at": i.opened_at, "resolved_at": i.resolved_at, "updated_at": i.updated_at,
        "postmortem": i.postmortem, "postmortem_html": i.postmortem_html,
        "updates": [{"status": u.status, "body": u.body, "body_html": u.body_html,
                     "posted_at": u.posted_at} for u in i.updates],
    }  # fmt: skip


def page_json(view: PageView) -> dict[str, Any]:
    """The page for automation: the banner, each site's state and days, the incidents."""
    return {
        "slug": view.slug, "title": view.title, "description": view.description,
        "banner": view.banner, "banner_text": view.banner_text, "days_shown": view.days_shown,
        "first_day": view.first_day,
        "generated_at": view.generated_at,
        "groups": [{"name": g.name, "sites": [{
            "id": s.id, "name": s.name, "url": s.url, "state": s.state, "checked_at": s.checked_at,
            "uptime_pct": None if s.uptime is None else float(two_decimals(s.uptime)),
            "days": [{"day": d.day, "checks": d.checks,
                      "uptime_pct": None if d.uptime is None else float(two_decimals(d.uptime)),
                      "incidents": d.incidents} for d in s.days],
        } for s in g.sites]} for g in view.groups],
        "incidents": [_incident(v) for v in view.incidents],
    }  # fmt: skip


ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(view: PageView, base: str) -> bytes:
    """The page's incidents as an Atom feed: an entry per incident, updated with its last
    update, its content every update newest first (HTML, escaped by the feed's XML)."""
    page_url = f"{base}/status/{view.slug}"
    feed = ET.Element("feed", xmlns=ATOM)
    ET.SubElement(feed, "id").text = page_url
    ET.SubElement(feed, "title").text = f"{view.title}: incidents"
    ET.SubElement(feed, "updated").text = view.updated_at.isoformat()
    ET.SubElement(feed, "link", rel="alternate", href=page_url)
    ET.SubElement(feed, "link", rel="self", href=f"{page_url}/feed.atom")
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = view.title
    for v in view.incidents:
        i = v.incident
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = f"{page_url}#incident-{i.id}"
        ET.SubElement(entry, "title").text = f"{i.title} ({i.status})"
        ET.SubElement(entry, "published").text = i.opened_at.isoformat()
        ET.SubElement(entry, "updated").text = i.updated_at.isoformat()
        ET.SubElement(entry, "link", rel="alternate", href=f"{page_url}#incident-{i.id}")
        html = "".join(
            f"<p><strong>{escape(u.status.capitalize())}</strong> "
            f"({u.posted_at:%Y-%m-%d %H:%M} UTC)</p>{u.body_html}"
            for u in i.updates
        )
        if i.postmortem_html:
            html += f"<h3>Post-mortem</h3>{i.postmortem_html}"
        if v.affected:
            html += f"<p>Affected: {escape(', '.join(v.affected))}</p>"
        ET.SubElement(entry, "content", type="html").text = html
    body: bytes = ET.tostring(feed, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
