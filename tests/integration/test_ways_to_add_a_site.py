"""The four ways to add a site (the API, the dashboard's form, `webmon sites add` and a CSV
import) refuse the same bad input with the same words, naming the same field: the core's
(`webmon.core.site_rules`). They differ only in their envelope: a 422 problem, a message
beside the form's field, a line on stderr with exit status 2, a line number."""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api, running_api
from tests.support.browser import Dashboard
from tests.support.cli import webmon
from tests.support.db import Conn
from webmon.core.errors import UNKNOWN_FIELD
from webmon.core.site_labels import NAME_WORDS, TAG_WORDS, tags_from_text
from webmon.core.site_rules import CONSTRAINTS, URL_FORMS, regex_problem
from webmon.core.site_words import CERT_DAYS_WORDS
from webmon.core.targets import refusal

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Bad:
    """A site's fields (as text, as a form or a CSV row writes them) and what is wrong."""

    name: str
    fields: dict[str, str]
    field: str
    words: str
    constraint: str | None = None

    @property
    def said(self) -> str:
        """The refusal as the API and the CLI say it."""
        named = f" (constraint {self.constraint})" if self.constraint else ""
        return f"{self.field}: {self.words}{named}"

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, value in self.fields.items():
            if name == "tags":
                body[name] = tags_from_text(value)
                continue
            number = name in ("interval_seconds", "timeout_seconds", "cert_expiry_days") and value
            body[name] = float(value) if name == "timeout_seconds" else (
                int(value) if number else value
            )  # fmt: skip
        return body


OK = "http://127.0.0.1:9/ok"
BAD = [
    Bad("a bad URL", {"url": "ftp://example.com/"}, "url", URL_FORMS, "sites_url_form"),
    Bad("an invalid regex", {"url": OK, "regex": "(unclosed"}, "regex",
        regex_problem("(unclosed") or ""),
    Bad("a timeout longer than the interval",
        {"url": OK, "interval_seconds": "10", "timeout_seconds": "20"}, "timeout_seconds",
        CONSTRAINTS["sites_timeout_within_interval"][1], "sites_timeout_within_interval"),
    Bad("a blocked literal IP", {"url": "http://127.0.0.2/internal"}, "url",
        refusal("127.0.0.2")),
    Bad("an unknown option", {"url": OK, "frobnicate": "1"}, "frobnicate", UNKNOWN_FIELD),
    Bad("a name too long", {"url": OK, "name": "n" * 101}, "name", NAME_WORDS),
    Bad("a tag with a space", {"url": OK, "tags": "env:prod, bad tag"}, "tags",
        f"{TAG_WORDS} (got 'bad tag')"),
    Bad("a certificate warning a year and more ahead", {"url": OK, "cert_expiry_days": "400"},
        "cert_expiry_days", CERT_DAYS_WORDS),
]  # fmt: skip


@pytest.fixture
def cli_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name, value in {**env, "WEBMON_ALLOWED_NETWORKS": "127.0.0.1/32"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def api(db_url: str, db: Conn) -> Iterator[Api]:
    with running_api(db_url, db) as api:
        api.client.get(Dashboard("", db).login_link())  # the dashboard's session cookie
        yield api


def nothing_stored(db: Conn) -> bool:
    return db.execute("SELECT count(*) FROM sites").fetchone() == (0,)


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_the_api_refuses_it(api: Api, db: Conn, bad: Bad) -> None:
    answer = api.post("/api/v1/sites", bad.json())
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["detail"], problem["field"]) == (bad.said, bad.field)
    bulk = api.post("/api/v1/sites/bulk", [{"url": OK}, bad.json()])
    assert bulk.status_code == 422
    assert (bulk.json()["detail"], bulk.json()["item"]) == (f"item 1: {bad.said}", 1)
    assert nothing_stored(db)


def csrf(api: Api) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/sites/new").text)
    assert found
    return found[1]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_the_dashboards_form_refuses_it(api: Api, db: Conn, bad: Bad) -> None:
    page = api.client.post("/sites/new", data={**bad.fields, "csrf": csrf(api)})
    assert page.status_code == 422
    beside = re.search(rf'<p class="error" id="{bad.field}-error" role="alert">([^<]*)</p>',
                       page.text)  # fmt: skip
    if bad.field in ("url", "name", "tags", "regex", "timeout_seconds"):  # beside its field
        assert beside and html.unescape(beside[1]) == bad.words
    else:  # no such field on the form: at its top, naming it
        top = re.search(r'<p class="error" id="form-error" role="alert">([^<]*)</p>', page.text)
        assert top and html.unescape(top[1]) == f"{bad.field}: {bad.words}"
    assert nothing_stored(db)


def write_csv(path: Path, fields: dict[str, str]) -> None:
    columns = ["url", *sorted(set(fields) - {"url"})]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerow([OK] + [""] * (len(columns) - 1))
        writer.writerow([fields.get(c, "") for c in columns])


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_the_dashboards_import_refuses_it(api: Api, db: Conn, bad: Bad, tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    write_csv(path, bad.fields)
    page = api.client.post("/sites/import", data={"bulk": path.read_text(), "csrf": csrf(api)})
    assert page.status_code == 422
    line = 1 if bad.field == "frobnicate" else 3  # the header names it, or its row does
    expected = f"line {line}: {bad.said}; nothing was imported"
    shown = re.search(r'<p class="error" role="alert">([^<]*)</p>', page.text)
    assert shown and html.unescape(shown[1]) == expected
    assert nothing_stored(db)


def fields_as_flags(fields: dict[str, str]) -> list[str]:
    flags = {"interval_seconds": "--every", "timeout_seconds": "--timeout", "regex": "--regex",
             "name": "--name", "cert_expiry_days": "--cert-expiry-days"}  # fmt: skip
    argv = [fields["url"]]
    for name, value in fields.items():
        if name == "tags":
            for tag in tags_from_text(value):
                argv += ["--tag", tag]
        elif name in flags:
            argv += [flags[name], value]
        elif name != "url":
            argv += ["--option", f"{name}={value}"]
    return argv


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_the_cli_refuses_it(
    cli_env: None, db: Conn, bad: Bad, capsys: pytest.CaptureFixture[str]
) -> None:
    # The operator's own sites are not under the target policy; --restricted puts them there.
    argv = ["sites", "add", *fields_as_flags(bad.fields), "--restricted"]
    assert webmon(*argv) == (2, "")
    assert capsys.readouterr().err == f"webmon: {bad.said}\n"
    assert nothing_stored(db)


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_a_csv_import_refuses_it(
    cli_env: None, db: Conn, bad: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sites.csv"
    write_csv(path, bad.fields)
    assert webmon("sites", "import", str(path), "--restricted") == (2, "")
    line = 1 if bad.field == "frobnicate" else 3
    assert capsys.readouterr().err == f"webmon: line {line}: {bad.said}\n"
    assert nothing_stored(db)


def test_the_operators_own_site_may_name_an_internal_address(cli_env: None, db: Conn) -> None:
    code, out = webmon("sites", "add", "http://127.0.0.2/internal")
    assert code == 0 and out.startswith("added site 1: http://127.0.0.2/internal")
    assert db.execute("SELECT restricted FROM sites").fetchone() == (False,)


# -- names and tags: every way in sets them alike -------------------------------------------

NAME, TAGS_TYPED = "Shop checkout", "Env: prod, team:web, env:prod"
TAGS_KEPT = ["env:prod", "team:web"]


def labels(db: Conn) -> list[tuple[str, str | None, list[str]]]:
    rows = db.execute("SELECT url, name, tags FROM sites ORDER BY id").fetchall()
    return [(str(url), name, list(tags)) for url, name, tags in rows]


def test_every_way_in_sets_a_name_and_tags_alike(
    api: Api, db: Conn, cli_env: None, tmp_path: Path
) -> None:
    ways = [f"http://127.0.0.1:9/{way}" for way in ("api", "form", "import", "cli", "csv")]
    fields = {"name": NAME, "tags": TAGS_TYPED}
    body = {"url": ways[0], "name": NAME, "tags": tags_from_text(TAGS_TYPED)}
    answer = api.post("/api/v1/sites", body)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["name"], answer.json()["tags"]) == (NAME, TAGS_KEPT)
    form = {"url": ways[1], **fields, "csrf": csrf(api)}
    page = api.client.post("/sites/new", data=form, follow_redirects=False)
    assert page.status_code == 303, page.text

    def csv_of(url: str) -> Path:
        path = tmp_path / "sites.csv"
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([["url", "name", "tags"], [url, NAME, TAGS_TYPED]])
        return path

    form = {"bulk": csv_of(ways[2]).read_text(), "csrf": csrf(api)}
    page = api.client.post("/sites/import", data=form, follow_redirects=False)
    assert page.status_code == 303, page.text
    code, out = webmon("sites", "add", *fields_as_flags({"url": ways[3], **fields}))
    assert code == 0 and "name 'Shop checkout', tags env:prod,team:web" in out, out
    assert webmon("sites", "import", str(csv_of(ways[4])))[0] == 0
    db.execute(
        "INSERT INTO sites (url, name, tags) VALUES (%s, %s, %s)",
        ("http://127.0.0.1:9/sql", NAME, TAGS_KEPT),
    )
    assert labels(db) == [(url, NAME, TAGS_KEPT) for url in [*ways, "http://127.0.0.1:9/sql"]]


def test_sql_meets_the_same_rules(db: Conn) -> None:
    import psycopg
    from psycopg import sql

    insert = sql.SQL("INSERT INTO sites (url, {}) VALUES (%s, %s)")
    for column, value, constraint in (
        ("tags", ["Env:prod"], "sites_tags_valid"),
        ("tags", ["env:prod", "env:prod"], "sites_tags_valid"),
        ("tags", ["env:a,b"], "sites_tags_valid"),
        ("name", " padded", "sites_name_valid"),
        ("name", "", "sites_name_valid"),
    ):
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            db.execute(insert.format(sql.Identifier(column)), (OK, value))
    assert nothing_stored(db)


def test_a_change_sets_or_clears_them_in_every_surface(api: Api, db: Conn, cli_env: None) -> None:
    site = api.post("/api/v1/sites", {"url": OK}).json()["id"]
    changed = api.client.patch(f"/api/v1/sites/{site}", json={"name": "A", "tags": ["x:1"]},
                               headers=api.write)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert labels(db) == [(OK, "A", ["x:1"])]
    assert db.execute("SELECT restricted FROM sites").fetchone() == (True,)  # from the API
    assert webmon("sites", "edit", str(site), "--name", "B", "--tag", "y", "--tag", "z:2")[0] == 0
    assert labels(db) == [(OK, "B", ["y", "z:2"])]
    assert webmon("sites", "edit", str(site), "--name", "", "--no-tags")[0] == 0
    assert labels(db) == [(OK, None, [])]


def test_the_api_and_the_cli_filter_by_tag(api: Api, db: Conn, cli_env: None) -> None:
    for path, tags in (("a", ["env:prod", "db"]), ("b", ["env:staging"]), ("c", [])):
        db.execute("INSERT INTO sites (url, tags) VALUES (%s, %s)", (f"{OK}/{path}", tags))
    urls = {tag: [s["url"] for s in api.get(f"/api/v1/sites?tag={tag}").json()]
            for tag in ("env:prod", "env", "db", "nope", "Env%3Aprod")}  # fmt: skip
    assert urls == {"env:prod": [f"{OK}/a"], "env": [f"{OK}/a", f"{OK}/b"], "db": [f"{OK}/a"],
                    "nope": [], "Env%3Aprod": [f"{OK}/a"]}  # fmt: skip
    refused = api.get("/api/v1/sites?tag=bad%20tag")
    assert refused.status_code == 422 and refused.json()["field"] == "tag"
    code, out = webmon("sites", "list", "--tag", "env")
    assert code == 0 and f"{OK}/a" in out and f"{OK}/b" in out and f"{OK}/c" not in out


def test_every_way_sets_and_changes_the_certificate_warning_alike(
    api: Api, db: Conn, cli_env: None, tmp_path: Path
) -> None:
    def days() -> list[int]:
        return [int(r[0]) for r in db.execute("SELECT cert_expiry_days FROM sites ORDER BY id")]

    answer = api.post("/api/v1/sites", {"url": f"{OK}/api", "cert_expiry_days": 30})
    assert answer.status_code == 201 and answer.json()["cert_expiry_days"] == 30, answer.text
    code, out = webmon("sites", "add", f"{OK}/cli", "--cert-expiry-days", "45")
    assert code == 0 and "certificate warning 45 days ahead" in out, out
    path = tmp_path / "sites.csv"
    write_csv(path, {"url": f"{OK}/csv", "cert_expiry_days": "60"})
    assert webmon("sites", "import", str(path))[0] == 0
    assert api.post("/api/v1/sites", {"url": f"{OK}/default"}).json()["cert_expiry_days"] == 14
    assert days() == [30, 45, 14, 60, 14]  # the CSV's first row is blank but for its URL
    site = answer.json()["id"]
    changed = api.client.patch(f"/api/v1/sites/{site}", json={"cert_expiry_days": 7},
                               headers=api.write)  # fmt: skip
    assert changed.status_code == 200 and changed.json()["cert_expiry_days"] == 7, changed.text
    # Not a change of what the check sends: an API site stays as it was, an operator's too.
    assert webmon("sites", "edit", f"{OK}/cli", "--cert-expiry-days", "21")[0] == 0
    assert db.execute("SELECT restricted FROM sites WHERE url = %s", (f"{OK}/cli",)).fetchone() == (
        False,)  # fmt: skip
    null = api.client.patch(f"/api/v1/sites/{site}", json={"cert_expiry_days": None},
                            headers=api.write)  # fmt: skip
    assert null.status_code == 422 and null.json()["field"] == "cert_expiry_days"
    code, _ = webmon("thresholds", f"{OK}/cli", "--cert-days", "0")
    assert code == 2
    assert days() == [7, 21, 14, 60, 14]
    openapi = api.client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for model in ("SiteIn", "SitePatch"):
        field = openapi[model]["properties"]["cert_expiry_days"]
        field = field.get("anyOf", [field])[0]
        assert (field["minimum"], field["maximum"]) == (1, 365), model
    assert "cert_expiry_days" in openapi["SiteOut"]["required"]
