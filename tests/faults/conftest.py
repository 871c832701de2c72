"""The `fleet` fixture: the fault harness of tests/support/fleet.py, cleaned up after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet import Fleet
from tests.support.services import Services


@pytest.fixture
def fleet(env: dict[str, str], services: Services, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(env, services, tmp_path)
    yield f
    for p in f.processes:
        p.ensure_dead()
