"""The probe's fidelity settings: defaults and bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from checker.settings import CheckerSettings


def settings(**values: object) -> CheckerSettings:
    return CheckerSettings(
        database_url="postgresql://nobody@127.0.0.1:9/none",
        kafka_bootstrap_servers="127.0.0.1:9",
        _env_file=None,  # type: ignore[call-arg]
        **values,  # type: ignore[arg-type]
    )


def test_defaults() -> None:
    s = settings()
    # A field may take the whole head, as in Chrome (it was 64 KiB before).
    assert (s.max_redirects, s.max_header_field_bytes, s.max_header_bytes) == (
        10,
        256 * 1024,
        256 * 1024,
    )
    # Read and searched as it streams: a check holds a window of it, not all of it.
    assert s.max_body_bytes == 8 * 1_048_576


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBMON_MAX_REDIRECTS", "20")
    monkeypatch.setenv("WEBMON_MAX_HEADER_FIELD_BYTES", "131072")
    monkeypatch.setenv("WEBMON_MAX_HEADER_BYTES", "524288")
    s = settings()
    assert (s.max_redirects, s.max_header_field_bytes, s.max_header_bytes) == (20, 131072, 524288)


@pytest.mark.parametrize(
    "values",
    [
        {"max_redirects": 31},
        {"max_redirects": -1},
        {"max_header_field_bytes": 100},
        {"max_header_field_bytes": 2 * 1_048_576},
        {"max_header_bytes": 100},
        {"max_header_bytes": 8 * 1_048_576},
    ],
)
def test_bounds(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)
