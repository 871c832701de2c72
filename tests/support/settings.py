"""Settings models built from a test's WEBMON_* variables."""

from __future__ import annotations

from typing import Any, TypeVar

from shared.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def settings_from_env(model: type[S], env: dict[str, str], **overrides: object) -> S:
    """Build a settings model from a test's WEBMON_* variables (no .env file, no os.environ)."""
    values: dict[str, Any] = {
        key.removeprefix("WEBMON_").lower(): value for key, value in env.items()
    }
    values.update(overrides)
    return model(_env_file=None, **values)  # type: ignore[call-arg]
