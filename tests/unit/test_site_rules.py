"""The core's site rules as pure functions: which changes shape a check's request, how a
site's fields read as text, how a model's refusal is worded, how a CSV names its line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webmon.core.errors import UNKNOWN_FIELD, Invalid, invalid_from_validation
from webmon.core.site_import import parse_sites
from webmon.core.site_rules import (
    NOT_SHAPING,
    SiteIn,
    SitePatch,
    check_quorum,
    quorum_of,
    shapes_request,
)
from webmon.core.site_text import fields_as_text, fields_from_text


@pytest.mark.parametrize(
    "changed",
    [{"url"}, {"method"}, {"headers"}, {"body"}, {"auth"}, {"regex"}, {"tls_verify"},
     {"proxy"}, {"max_redirects"}, {"header_regex"}, {"ip_version"}, {"interval_seconds", "regex"},
     {"a_field_added_later"}],
)  # fmt: skip
def test_what_the_check_sends_or_reads_shapes_the_request(changed: set[str]) -> None:
    assert shapes_request(changed)


@pytest.mark.parametrize(
    "changed",
    [set(), {"interval_seconds"}, {"timeout_seconds"}, {"enabled"}, {"failure_threshold"},
     {"success_threshold"}, {"name"}, {"tags"}, {"public"}, {"channels"}, {"restricted"},
     {"regions"}, {"quorum"}],
)  # fmt: skip
def test_when_whether_and_where_the_news_goes_do_not(changed: set[str]) -> None:
    assert not shapes_request(changed)
    assert changed <= NOT_SHAPING


def test_every_field_of_a_site_is_named_one_way_or_the_other() -> None:
    fields = set(SiteIn.model_fields) | set(SitePatch.model_fields)
    assert {f for f in fields if not shapes_request({f})} == fields & NOT_SHAPING


def test_fields_from_text() -> None:
    text = {"url": " http://a.example/ ", "interval_seconds": "30", "timeout_seconds": "",
            "expected_status": "200-399, 404", "headers": "X-A: 1\nX-B: two words",
            "regex": ""}  # fmt: skip
    new = fields_from_text(text, new=True)
    assert new == {"url": "http://a.example/", "interval_seconds": "30",
                   "expected_status": [(200, 400), (404, 405)],
                   "headers": {"X-A": "1", "X-B": "two words"}}  # fmt: skip
    site = SiteIn.model_validate(new)
    assert (site.interval_seconds, site.timeout_seconds, site.regex) == (30, None, None)
    change = fields_from_text(text)
    assert change["timeout_seconds"] is None and change["regex"] is None  # cleared
    assert fields_from_text({"headers": '{"X-A": "1"}'}) == {"headers": {"X-A": "1"}}
    with pytest.raises(Invalid) as refused:
        fields_from_text({"expected_status": "2xx"})
    assert refused.value.field == "expected_status"
    with pytest.raises(Invalid) as refused:
        fields_from_text({"headers": "no colon"})
    assert refused.value.field == "headers"


def test_fields_as_text_reads_back() -> None:
    site = SiteIn(url="http://a.example/", expected_status=[(200, 300), (404, 405)],
                  headers={"X-A": "1"}, timeout_seconds=2.5)  # fmt: skip
    shown = fields_as_text(site.model_dump())
    assert shown["expected_status"] == "200-299, 404" and shown["headers"] == "X-A: 1"
    assert shown["timeout_seconds"] == "2.5" and shown["tls_verify"] == "true"
    again = SiteIn.model_validate(fields_from_text(shown, new=True))
    assert again.model_dump() == site.model_dump()


def test_a_models_refusal_in_the_cores_words() -> None:
    with pytest.raises(ValidationError) as caught:
        SiteIn.model_validate({"url": "http://a.example/", "frobnicate": 1})
    refused = invalid_from_validation(caught.value)
    assert (refused.field, refused.message, str(refused)) == (
        "frobnicate",
        UNKNOWN_FIELD,
        f"frobnicate: {UNKNOWN_FIELD}",
    )
    with pytest.raises(ValidationError) as caught:
        SiteIn.model_validate({"url": "http://a.example/", "regex": "("})
    refused = invalid_from_validation(caught.value)
    assert refused.field == "regex" and not refused.message.startswith("Value error")


def test_a_csv_names_the_line() -> None:
    parsed = parse_sites("url,interval_seconds\n\nhttp://a.example/,30\nhttp://b.example/,\n")
    assert parsed.lines == [3, 4]
    assert [s.interval_seconds for s in parsed.sites] == [30, 60]
    assert parse_sites("http://a.example/\nhttp://b.example/").lines == [1, 2]
    with pytest.raises(Invalid) as refused:
        parse_sites("url,every\nhttp://a.example/,30\n")
    assert (refused.value.line, refused.value.field) == (1, "every")
    with pytest.raises(Invalid) as refused:
        parse_sites("url,interval_seconds\nhttp://a.example/,30\nhttp://b.example/,zero\n")
    assert (refused.value.line, refused.value.field) == (3, "interval_seconds")
    stored = Invalid("url", "no", constraint="sites_url_form", item=1)
    assert parse_sites("http://a/\nhttp://b/").line_of(stored).line == 2


def test_regions_read_as_people_write_them_and_back() -> None:
    fields = fields_from_text({"url": "http://a.example/", "regions": "eu-west; us-east  ap_1",
                               "quorum": "2"}, new=True)  # fmt: skip
    site = SiteIn.model_validate(fields)
    assert (site.regions, site.quorum) == (["eu-west", "us-east", "ap_1"], 2)
    shown = fields_as_text(site.model_dump())
    assert (shown["regions"], shown["quorum"]) == ("eu-west, us-east, ap_1", "2")
    again = SiteIn.model_validate(fields_from_text(shown, new=True))
    assert (again.regions, again.quorum) == (site.regions, site.quorum)
    plain = SiteIn(url="http://a.example/")
    assert (plain.regions, plain.quorum) == (["default"], None)  # a majority of one


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"regions": []}, "regions"), ({"regions": ["a", "a"]}, "regions"),
     ({"regions": ["EU"]}, "regions"), ({"regions": ["-a"]}, "regions"),
     ({"regions": [f"r{i}" for i in range(17)]}, "regions"), ({"quorum": 0}, "quorum")],
)  # fmt: skip
def test_nonsense_regions_are_refused_naming_the_field(
    fields: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        SiteIn.model_validate({"url": "http://a.example/", **fields})
    assert invalid_from_validation(refused.value).field == field


def test_a_quorum_beyond_the_regions_is_refused_in_the_tables_words() -> None:
    check_quorum(["a", "b", "c"], 3)
    check_quorum(["a"], None)
    with pytest.raises(Invalid) as refused:
        check_quorum(["a", "b"], 3)
    assert (refused.value.field, refused.value.constraint) == ("quorum", "sites_quorum_range")
    assert [quorum_of(["x"] * n, None) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert quorum_of(["a", "b", "c"], 1) == 1


def test_an_ip_version_written_as_text_is_the_models_number() -> None:
    assert SitePatch.model_validate(fields_from_text({"ip_version": "4"})).ip_version == 4
    assert fields_from_text({"ip_version": ""}) == {"ip_version": None}


def test_a_forms_credentials_keep_replace_or_clear_the_sealed_ones() -> None:
    from webmon.core.site_text import KEEP_OR_RETYPE, auth_from_text

    assert auth_from_text({}) == {}  # a form without them
    assert auth_from_text({"auth_kind": ""}) == {}  # none before, none now
    assert auth_from_text({"auth_kind": ""}, kind_now="bearer") == {"auth": None}
    kept = {"auth_kind": "basic", "auth_username": "ada", "auth_secret": ""}
    assert auth_from_text(kept, kind_now="basic", username_now="ada") == {}
    assert auth_from_text({"auth_kind": "bearer", "auth_secret": ""}, kind_now="bearer") == {}
    for now in (None, "bearer"):
        with pytest.raises(Invalid) as refused:
            auth_from_text(kept, kind_now=now, username_now="ada")
        assert (refused.value.field, refused.value.message) == ("auth", KEEP_OR_RETYPE)
    new = auth_from_text({**kept, "auth_secret": "pw"}, kind_now="basic", username_now="ada")
    patch = SitePatch.model_validate(new)
    assert patch.auth is not None and patch.auth.kind == "basic"
    with pytest.raises(ValidationError):  # the model's rules: no ':' in a user name
        SitePatch.model_validate(
            auth_from_text({**kept, "auth_username": "a:b", "auth_secret": "x"})
        )
