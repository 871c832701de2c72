"""webmon's version, from the installed package's metadata (pyproject.toml's)."""

from __future__ import annotations

import importlib.metadata


def version() -> str:
    try:
        return importlib.metadata.version("webmon")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"
