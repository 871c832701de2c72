"""Fixtures of the region tests: three regions and a target as network namespaces
(tests/support/netns.py), and the fault harness's fleet of real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import in_ci
from tests.support.fleet import Fleet
from tests.support.netns import NamespacesUnavailable, RegionNet
from tests.support.services import Services

REGIONS = ("eu-west", "us-east", "ap-south")


@pytest.fixture
def fleet(env: dict[str, str], services: Services, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(env, services, tmp_path)
    f.regions = list(REGIONS)
    yield f
    for p in f.processes:
        p.ensure_dead()


@pytest.fixture
def net(services: Services, tmp_path: Path) -> Iterator[RegionNet]:
    """The regions' namespaces, built for this test and removed after it, pass or fail.
    Without the privilege to make them, the tests fail in CI and are skipped elsewhere, as
    the browser tests are without a browser."""
    regions = RegionNet(REGIONS, services, tmp_path)
    try:
        regions.open()
    except NamespacesUnavailable as exc:
        if in_ci():
            pytest.fail(f"no network namespaces for the region tests: {exc}")
        pytest.skip(f"no network namespaces: {exc}")
    try:
        yield regions
    finally:
        regions.close()
