"""A site's name and tags: what people type, the one form the table keeps, and the words of
a refusal (webmon.core.site_labels), the same through the models every surface uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webmon.core.errors import invalid_from_validation
from webmon.core.site_labels import (
    NAME_WORDS,
    TAG_WORDS,
    normal_name,
    normal_tag,
    normal_tags,
    tags_as_text,
    tags_from_text,
)
from webmon.core.site_rules import SiteIn, SitePatch
from webmon.core.site_text import fields_as_text, fields_from_text
from webmon.web.render import TAG_COLOURS, tag_colour


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("env:prod", "env:prod"), (" Env : Prod ", "env:Prod"), ("db", "db"),
     ("team.web-1_a:Web shop", "team.web-1_a:Web shop"), ("k:v:w", "k:v:w")],
)  # fmt: skip
def test_a_tag_is_kept_in_one_form(typed: str, kept: str) -> None:
    assert normal_tag(typed) == kept


@pytest.mark.parametrize(
    "bad", ["", ":prod", "-env", "env prod", "Ümlaut", "e" * 41, "env:", "env:a,b",
            "env:a\tb", "env:" + "v" * 101],
)  # fmt: skip
def test_a_tag_that_breaks_the_syntax_is_refused_in_the_cores_words(bad: str) -> None:
    with pytest.raises(ValueError, match="a tag is key or key:value") as refused:
        normal_tag(bad)
    assert str(refused.value).startswith(TAG_WORDS)


def test_tags_are_kept_once_in_order_and_at_most_twenty() -> None:
    assert normal_tags(["b", "a", "B", "a:1"]) == ["b", "a", "a:1"]
    assert normal_tags(f"t{i}" for i in range(20)) == [f"t{i}" for i in range(20)]
    with pytest.raises(ValueError, match="at most 20 tags"):
        normal_tags(f"t{i}" for i in range(21))


def test_a_name_is_trimmed_and_refused_when_empty_long_or_with_control_characters() -> None:
    assert normal_name("  Shop checkout ") == "Shop checkout"
    for bad in ("", "   ", "x" * 101, "a\nb"):
        with pytest.raises(ValueError) as refused:
            normal_name(bad)
        assert str(refused.value) == NAME_WORDS


def test_the_models_hold_the_same_rules_and_words() -> None:
    site = SiteIn(url="http://a.example/", name=" A ", tags=["Env:prod", "env:prod", "db"])
    assert (site.name, site.tags) == ("A", ["env:prod", "db"])
    assert SiteIn(url="http://a.example/").tags == []
    for model, fields, field in (
        (SiteIn, {"url": "http://a.example/", "tags": ["bad tag"]}, "tags"),
        (SitePatch, {"tags": ["bad tag"]}, "tags"),
        (SiteIn, {"url": "http://a.example/", "name": ""}, "name"),
    ):
        with pytest.raises(ValidationError) as refused:
            model.model_validate(fields)
        invalid = invalid_from_validation(refused.value)
        assert invalid.field == field
        assert invalid.message.startswith(TAG_WORDS if field == "tags" else NAME_WORDS)


def test_tags_as_text_and_back() -> None:
    assert tags_from_text(" env:prod, db ,, ") == ["env:prod", "db"]
    assert tags_as_text(["env:prod", "db"]) == "env:prod, db"
    assert fields_from_text({"tags": "env:prod, db", "name": "A"}, new=True) == {
        "tags": ["env:prod", "db"], "name": "A"}  # fmt: skip
    assert fields_from_text({"tags": "", "name": ""}) == {"tags": None, "name": None}
    assert fields_as_text({"tags": ["a", "b:c"], "name": None})["tags"] == "a, b:c"


def test_a_tags_colour_is_its_keys_and_stable() -> None:
    assert tag_colour("env:prod") == tag_colour("env:staging") == tag_colour("env")
    assert 0 <= tag_colour("team:web") < TAG_COLOURS
    assert tag_colour("env") == 7  # CRC-32, not a salted hash: the same after a restart
