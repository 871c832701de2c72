"""The API's site models carry the HTTP options (migration 0013) and max_redirects: the
constraints answer 422 naming themselves, API sites (restricted) are refused a proxy and
checker-host files, and auth is write-only and sealed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from shared.sealing import SecretBox, new_key
from tests.api.test_api import problem
from tests.support.api import Api, running_api
from tests.support.db import Conn, count

pytestmark = pytest.mark.integration

KEY = new_key()
SECRET = "api-s3cret-never-shown"
OPTIONS = {
    "method": "POST",
    "body": '{"probe": true}',
    "body_content_type": "application/json",
    "regex": "maintenance",
    "regex_mode": "absent",
    "max_redirects": 3,
    "tls_verify": False,
    "tls_server_name": "internal.example",
    "ip_version": 6,
    "require_tls": True,
    "header_name": "X-State",
    "header_regex": "^degraded$",
    "header_mode": "not_match",
}


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db, secret_key=KEY) as a:
        yield a


def patch(api: Api, site_id: int, body: dict[str, Any]) -> Any:
    return api.client.patch(f"/api/v1/sites/{site_id}", json=body, headers=api.write)


def test_options_are_stored_and_returned(api: Api, db: Conn) -> None:
    created = api.post("/api/v1/sites", {"url": "https://a.example/health", **OPTIONS})
    assert created.status_code == 201, created.text
    site = created.json()
    assert {name: site[name] for name in OPTIONS} == OPTIONS
    assert (site["proxy"], site["tls_ca_file"], site["auth"]) == (None, None, None)
    changed = patch(
        api, site["id"], {"method": "GET", "body": None, "body_content_type": None,
                          "header_name": None, "header_regex": None, "max_redirects": None},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["method"], changed.json()["body"]) == ("GET", None)
    assert (changed.json()["header_name"], changed.json()["max_redirects"]) == (None, None)
    assert changed.json()["regex_mode"] == "absent"


@pytest.mark.parametrize(
    ("body", "constraint"),
    [
        ({"body": "x"}, "sites_body_needs_method"),
        ({"method": "HEAD", "body": "x"}, "sites_body_needs_method"),
        ({"body_content_type": "application/json"}, "sites_body_content_type"),
        ({"header_name": "X-State"}, "sites_header_check"),
        ({"regex_mode": "absent"}, "sites_regex_mode"),
        ({"method": "HEAD", "regex": "x"}, "sites_head_without_regex"),
        ({"max_redirects": 31}, None),  # the model's bound: 422 too
        ({"ip_version": 5}, None),
        ({"method": "DELETE"}, None),
    ],
)
def test_a_bad_option_is_a_422_naming_its_constraint(
    api: Api, db: Conn, body: dict[str, Any], constraint: str | None
) -> None:
    found = problem(api.post("/api/v1/sites", {"url": "https://a.example/", **body}), 422)
    if constraint is not None:
        assert found["constraint"] == constraint
        assert constraint in found["detail"]
    assert count(db, "SELECT count(*) FROM sites") == 0


@pytest.mark.parametrize(
    "option",
    [
        {"proxy": "http://127.0.0.1:3128"},
        {"tls_ca_file": "/etc/ssl/certs/ca-certificates.crt"},
        {"tls_cert_file": "/etc/webmon/client.pem", "tls_key_file": "/etc/webmon/client.key"},
    ],
)
def test_an_api_site_is_refused_a_proxy_and_checker_files(
    api: Api, db: Conn, option: dict[str, str]
) -> None:
    found = problem(api.post("/api/v1/sites", {"url": "https://a.example/", **option}), 422)
    assert next(iter(option)) in found["detail"] and "through the API" in found["detail"]
    items = [{"url": "https://b.example/"}, {"url": "https://a.example/", **option}]
    bulk = problem(api.post("/api/v1/sites/bulk", items), 422)
    assert "item 1" in bulk["detail"]
    assert count(db, "SELECT count(*) FROM sites") == 0
    created = api.post("/api/v1/sites", {"url": "https://a.example/"}).json()
    problem(patch(api, created["id"], option), 422)


def test_an_operator_site_with_a_proxy_cannot_be_moved_by_the_api(api: Api, db: Conn) -> None:
    row = db.execute(
        "INSERT INTO sites (url, proxy) VALUES ('http://a.example', 'http://127.0.0.1:3128')"
        " RETURNING id"
    ).fetchone()
    assert row is not None
    shown = api.get(f"/api/v1/sites/{row[0]}").json()
    assert (shown["proxy"], shown["restricted"]) == ("http://127.0.0.1:3128", False)
    # A URL set through the API makes the site restricted: its proxy must go first.
    found = problem(patch(api, row[0], {"url": "http://b.example"}), 422)
    assert found["constraint"] == "sites_restricted_options"
    moved = patch(api, row[0], {"url": "http://b.example", "proxy": None})
    assert moved.status_code == 200, moved.text


@pytest.mark.parametrize(
    ("auth", "shown"),
    [
        ({"kind": "basic", "username": "monitor", "password": SECRET},
         {"kind": "basic", "username": "monitor"}),
        ({"kind": "bearer", "token": SECRET}, {"kind": "bearer", "username": None}),
    ],
)  # fmt: skip
def test_auth_is_write_only_and_sealed(
    api: Api, db: Conn, auth: dict[str, str], shown: dict[str, Any]
) -> None:
    created = api.post("/api/v1/sites", {"url": "https://a.example/", "auth": auth})
    assert created.status_code == 201, created.text
    site_id = created.json()["id"]
    assert created.json()["auth"] == shown
    listed = api.get("/api/v1/sites")
    for text in (created.text, listed.text, api.get(f"/api/v1/sites/{site_id}").text):
        assert SECRET not in text and "sealed" not in text
    kind, username, sealed = db.execute(
        "SELECT kind, username, sealed FROM site_auth WHERE site_id = %s", (site_id,)
    ).fetchone() or (None, None, b"")
    assert SECRET.encode() not in bytes(sealed)
    assert SecretBox(KEY).open(site_id, kind, username, bytes(sealed)) == SECRET
    # Replaced, then cleared.
    replaced = patch(api, site_id, {"auth": {"kind": "bearer", "token": "other"}})
    assert replaced.json()["auth"] == {"kind": "bearer", "username": None}
    cleared = patch(api, site_id, {"auth": None})
    assert cleared.status_code == 200 and cleared.json()["auth"] is None
    assert count(db, "SELECT count(*) FROM site_auth") == 0


def test_bulk_sites_with_auth(api: Api, db: Conn) -> None:
    items = [
        {"url": "https://a.example/"},
        {"url": "https://b.example/", "auth": {"kind": "bearer", "token": SECRET}},
    ]
    stored = api.post("/api/v1/sites/bulk", items)
    assert stored.status_code == 201, stored.text
    ids = stored.json()["ids"]
    assert db.execute("SELECT site_id, kind FROM site_auth").fetchall() == [(ids[1], "bearer")]


def test_auth_without_a_key_is_refused(db_url: str, db: Conn) -> None:
    with running_api(db_url, db, secret_key=None) as api:
        body = {"url": "https://a.example/", "auth": {"kind": "bearer", "token": SECRET}}
        found = problem(api.post("/api/v1/sites", body), 422)
        assert "WEBMON_SECRET_KEY" in found["detail"] and SECRET not in found["detail"]
    assert count(db, "SELECT count(*) FROM sites") == 0


def test_a_bad_auth_is_refused_without_echoing_it(api: Api, db: Conn) -> None:
    body = {"url": "https://a.example/", "auth": {"kind": "basic", "username": "a:b",
                                                  "password": SECRET}}  # fmt: skip
    response = api.post("/api/v1/sites", body)
    problem(response, 422)
    assert SECRET not in response.text
    assert base64.b64encode(SECRET.encode()).decode() not in response.text


def test_a_bearer_token_with_a_control_character_is_refused(api: Api, db: Conn) -> None:
    body = {"url": "https://a.example/", "auth": {"kind": "bearer", "token": "a\r\nX: 1"}}
    problem(api.post("/api/v1/sites", body), 422)
    assert count(db, "SELECT count(*) FROM sites") == 0
