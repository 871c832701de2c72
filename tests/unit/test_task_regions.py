"""Which regions an on-demand submission runs in (`webmon.core.tasks.chosen_regions`)."""

from __future__ import annotations

import pytest

from webmon.core.errors import Invalid
from webmon.core.tasks import chosen_regions

SITE = ["eu-west", "us-east", "ap-south"]


def test_a_site_runs_from_each_region_unless_one_is_named() -> None:
    assert chosen_regions(None, SITE, 3) == SITE
    assert chosen_regions("all", SITE, 3) == SITE
    assert chosen_regions("us-east", SITE, 3) == ["us-east"]
    assert chosen_regions(None, ["eu-west"], 3) == ["eu-west"]
    assert chosen_regions(None, ["default"], 3) == ["default"]


def test_a_url_runs_once_from_the_default_region_while_a_site_is_checked_from_it() -> None:
    assert chosen_regions(None, ["default", "eu-west"], None) == ["default"]
    assert chosen_regions(None, ["eu-west", "us-east"], None) == ["eu-west", "us-east"]
    assert chosen_regions("all", ["default", "eu-west"], None) == ["default", "eu-west"]
    assert chosen_regions("eu-west", ["default", "eu-west"], None) == ["eu-west"]


@pytest.mark.parametrize(
    ("choice", "site_id", "words"),
    [
        ("ap-east", 3, "site 3 is not checked from 'ap-east' (its regions: eu-west, us-east, "
                       "ap-south); name one of them, or all"),
        ("US East", 3, "site 3 is not checked from 'US East'"),
        ("default", 3, "site 3 is not checked from 'default'"),
        ("ap-east", None, "no site is checked from 'ap-east' (the regions: eu-west, us-east, "
                          "ap-south); name one of them, or all"),
    ],
)  # fmt: skip
def test_a_region_the_site_is_not_checked_from_is_refused_by_name(
    choice: str, site_id: int | None, words: str
) -> None:
    with pytest.raises(Invalid) as refused:
        chosen_regions(choice, SITE, site_id)
    assert refused.value.field == "region"
    assert str(refused.value).startswith(f"region: {words}")
