"""Status pages through the API and their public views: groups by id and by tag, the
banner, the days' uptime from raw rows, incidents with updates in Markdown that cannot
run a script, the Atom feed and the JSON, who may do what, and a fixed number of
statements whatever the number of sites."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from shared.netpolicy import TargetPolicy
from tests.support.api import Api, running_api
from tests.support.db import Conn, add_sites
from tests.support.statements import CountedStatements
from webmon.core import Core, opened
from webmon.core.status_pages import QUERIES as STATUS_QUERIES

pytestmark = pytest.mark.integration
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as api:
        yield api


def _state(db: Conn, site_id: int, up: bool) -> None:
    db.execute(
        "INSERT INTO site_status (site_id, url, scheduled_at, checked_at, status_code, up)"
        " SELECT id, url, now(), now(), %s, %s FROM sites WHERE id = %s"
        " ON CONFLICT (site_id) DO UPDATE SET up = EXCLUDED.up,"
        " status_code = EXCLUDED.status_code",
        (200 if up else 503, up, site_id),
    )


def _checks(db: Conn, site_id: int, up: int, down: int) -> None:
    """`up` up checks, then `down` down ones, a minute apart in the last hours."""
    db.execute(
        "INSERT INTO check_results (site_id, scheduled_at, checked_at, status_code, up,"
        " response_time_ms) SELECT %(site)s, t, t, CASE WHEN g <= %(up)s THEN 200 ELSE 503 END,"
        " g <= %(up)s, 10 FROM generate_series(1, %(n)s) g,"
        " LATERAL (SELECT date_trunc('day', now()) + g * interval '1 second' AS t) x",
        {"site": site_id, "up": up, "n": up + down},
    )


def _admin_post(api: Api, path: str, body: Any) -> Any:
    return api.client.post(path, json=body, headers=api.admin)


def test_a_page_shows_names_by_group_with_its_banner_and_two_decimals(api: Api, db: Conn) -> None:
    a, b, c = add_sites(db, 3)
    db.execute("UPDATE sites SET name = 'Checkout' WHERE id = %s", (a,))
    db.execute("UPDATE sites SET tags = '{team:web}' WHERE id IN (%s, %s)", (b, c))
    made = _admin_post(api, "/api/v1/status-pages", {
        "slug": "acme", "title": "Acme status",
        "groups": [{"name": "Shop", "site_ids": [a]}, {"name": "Web", "tag": "team:web"}],
    })  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["groups"][1] == {"name": "Web", "site_ids": [], "tag": "team:web"}
    for s in (a, b, c):
        _state(db, s, True)
    _checks(db, a, up=9999, down=1)

    view = api.client.get("/status/acme.json").json()
    assert view["banner"] == "operational"
    assert [g["name"] for g in view["groups"]] == ["Shop", "Web"]
    shop = view["groups"][0]["sites"][0]
    assert shop["name"] == "Checkout" and shop["url"] is None
    assert shop["uptime_pct"] == 99.99  # 9,999 of 10,000: rounded down, never 100.00
    assert view["days_shown"] == 90 and view["first_day"] < shop["days"][0]["day"]
    assert [(d["checks"], d["uptime_pct"]) for d in shop["days"]] == [(10000, 99.99)]
    assert {s["id"] for s in view["groups"][1]["sites"]} == {b, c}

    html = api.client.get("/status/acme")
    assert html.status_code == 200
    assert "public, max-age=" in html.headers["cache-control"]
    assert "Checkout" in html.text and "99.99 % uptime" in html.text
    assert "http://" not in html.text  # names (or a host where none), never URLs
    assert "All systems operational" in html.text

    _state(db, b, False)
    core_views = api.client.app.state.core.status_views  # type: ignore[attr-defined]
    core_views.forget("acme")  # the cache holds a view 15 s; a change of state is no event
    assert api.client.get("/status/acme.json").json()["banner"] == "partial_outage"
    for s in (a, c):
        _state(db, s, False)
    core_views.forget("acme")
    assert api.client.get("/status/acme.json").json()["banner"] == "major_outage"


def test_an_incident_with_updates_reaches_the_page_the_feed_and_the_json(
    api: Api, db: Conn
) -> None:
    (a,) = add_sites(db, 1)
    db.execute("UPDATE sites SET name = 'API' WHERE id = %s", (a,))
    _admin_post(
        api,
        "/api/v1/status-pages",
        {"slug": "ops", "title": "Ops", "groups": [{"name": "All", "site_ids": [a]}]},
    )
    told = api.post("/api/v1/status-pages/ops/incidents", {
        "title": "Slow logins", "status": "investigating",
        "body": "We see **slow** logins <script>alert('x')</script>", "site_ids": [a],
    })  # fmt: skip
    assert told.status_code == 201, told.text
    incident = told.json()
    assert incident["updates"][0]["body_html"].count("<script>") == 0
    assert "&lt;script&gt;" in incident["updates"][0]["body_html"]

    path = f"/api/v1/status-pages/ops/incidents/{incident['id']}"
    assert api.post(path + "/updates", {"status": "identified", "body": "A bad deploy"}
                    ).status_code == 201  # fmt: skip
    html = api.client.get("/status/ops").text
    assert "A bad deploy" in html and "<strong>slow</strong>" in html
    assert "<script>alert" not in html and "Partial outage" in html
    assert "Affects API" in html

    early = api.client.patch(path, json={"postmortem": "Too soon"}, headers=api.write)
    assert early.status_code == 422
    done = api.post(path + "/updates", {"status": "resolved", "body": "Rolled back"})
    assert done.json()["resolved_at"] is not None
    assert api.post(path + "/updates", {"status": "monitoring", "body": "x"}).status_code == 409
    pm = api.client.patch(path, json={"postmortem": "## What happened\nA deploy."},
                          headers=api.write)  # fmt: skip
    assert pm.status_code == 200 and "<h2>What happened</h2>" in pm.json()["postmortem_html"]

    feed = ET.fromstring(api.client.get("/status/ops/feed.atom").content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Slow logins (resolved)"]
    content = entries[0].findtext(f"{ATOM}content") or ""
    assert "Rolled back" in content and "A bad deploy" in content and "<script>" not in content
    past = api.client.get("/status/ops.json").json()["incidents"][0]
    assert [u["status"] for u in past["updates"]] == ["resolved", "identified", "investigating"]
    assert api.client.get("/status/ops.json").json()["banner"] == "operational"


def test_who_may_do_what_and_what_is_refused(api: Api, db: Conn) -> None:
    (a,) = add_sites(db, 1)
    page = {"slug": "p", "title": "P", "groups": [{"name": "G", "site_ids": [a]}]}
    assert api.post("/api/v1/status-pages", page).status_code == 403  # write: no pages
    assert _admin_post(api, "/api/v1/status-pages", page).status_code == 201
    again = _admin_post(api, "/api/v1/status-pages", page)
    assert again.status_code == 422 and "slug" in again.json()["detail"]
    bad = _admin_post(api, "/api/v1/status-pages", {**page, "slug": "Bad Slug"})
    assert bad.status_code == 422
    ghost = _admin_post(
        api,
        "/api/v1/status-pages",
        {**page, "slug": "q", "groups": [{"name": "G", "site_ids": [999999]}]},
    )
    assert ghost.status_code == 422 and "999999" in ghost.json()["detail"]
    (other,) = add_sites(db, 1)
    off = api.post(
        "/api/v1/status-pages/p/incidents",
        {"title": "t", "status": "investigating", "body": "b", "site_ids": [other]},
    )
    assert off.status_code == 422 and "not on status page" in off.json()["detail"]
    read = api.client.post("/api/v1/status-pages/p/incidents", headers=api.read,
                           json={"title": "t", "body": "b", "site_ids": []})  # fmt: skip
    assert read.status_code == 403
    changed = api.client.patch("/api/v1/status-pages/p", headers=api.admin,
                               json={"title": "New", "days_shown": 30})  # fmt: skip
    assert changed.json()["title"] == "New" and changed.json()["days_shown"] == 30
    assert api.client.get("/status/p.json").json()["days_shown"] == 30
    assert api.client.delete("/api/v1/status-pages/p", headers=api.admin).status_code == 204
    assert api.client.get("/status/p").status_code == 404
    assert api.client.get("/status/p.json").status_code == 404


def test_an_incident_told_from_a_detected_one_takes_its_site_and_cause(api: Api, db: Conn) -> None:
    (a,) = add_sites(db, 1)
    db.execute("UPDATE sites SET name = 'Billing' WHERE id = %s", (a,))
    found = db.execute(
        "INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at, cause)"
        " VALUES (%s, now(), now(), now(), 'HTTP 503') RETURNING id",
        (a,),
    ).fetchone()
    assert found is not None
    _admin_post(
        api,
        "/api/v1/status-pages",
        {"slug": "b", "title": "B", "groups": [{"name": "G", "site_ids": [a]}]},
    )
    told = api.post("/api/v1/status-pages/b/incidents", {"incident_id": found[0]})
    assert told.status_code == 201, told.text
    body = told.json()
    assert body["title"] == "Billing is unavailable" and body["site_ids"] == [a]
    assert "HTTP 503" in body["updates"][0]["body"]
    day = api.client.get("/status/b.json").json()["groups"][0]["sites"][0]["days"][-1]
    assert "Down: HTTP 503" in day["incidents"] and "Billing is unavailable" in day["incidents"]


# The statements a page's read may send: webmon.core.status_pages's.
OURS = frozenset(STATUS_QUERIES.values())


def test_a_page_takes_the_same_number_of_statements_for_3_sites_as_for_300(
    db_url: str, db: Conn
) -> None:
    few, many = add_sites(db, 3), add_sites(db, 300)
    db.execute("UPDATE sites SET tags = '{many}' WHERE id = ANY(%s)", (many,))
    for s in few + many:
        _state(db, s, True)

    async def read() -> list[int]:
        from webmon.core.status_pages import PageIn

        core = Core.for_url(db_url, policy=TargetPolicy.default())
        counts = []
        async with opened(core):
            for slug, groups in (("few", [{"name": "G", "site_ids": few}]),
                                 ("many", [{"name": "G", "tag": "many"}])):  # fmt: skip
                await core.status_pages.add(
                    _operator(), PageIn.model_validate({"slug": slug, "title": slug,
                                                        "groups": groups}))  # fmt: skip
                with CountedStatements(OURS) as counted:
                    view = await core.status_views.page(slug)
                assert sum(len(g.sites) for g in view.groups) == len(groups[0].get("site_ids")
                                                                     or many)  # fmt: skip
                counts.append(counted.count)
        return counts

    few_count, many_count = asyncio.run(read())
    assert few_count == many_count == 5  # the page, its sites, days, incidents, told


def _operator() -> Any:
    from webmon.core import OPERATOR

    return OPERATOR


def test_a_group_tag_follows_the_site_tag_rule(api: Api, db: Conn) -> None:
    """A group's tag is normalised and refused as a site's tag is, in the same words."""
    from webmon.core.site_labels import TAG_WORDS

    (a,) = add_sites(db, 1)
    db.execute("UPDATE sites SET tags = '{env:prod}' WHERE id = %s", (a,))
    page = {"slug": "t", "title": "T", "groups": [{"name": "G", "tag": " Env:prod "}]}
    made = _admin_post(api, "/api/v1/status-pages", page)
    assert made.status_code == 201, made.text
    assert made.json()["groups"][0]["tag"] == "env:prod"
    bad = {**page, "slug": "u", "groups": [{"name": "G", "tag": "bad key!"}]}
    refused = _admin_post(api, "/api/v1/status-pages", bad)
    assert refused.status_code == 422 and TAG_WORDS in refused.text
    assert "groups" in refused.text and "tag" in refused.text
