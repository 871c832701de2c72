"""The layout's rules: shared/ holds libraries only, no production code imports the
development stack, and every file a comment points at is in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ("scheduler", "checker", "webmon", "devstack", "migrations", "notifier", "bench")
PRODUCTION = ("scheduler", "checker", "shared", "webmon", "migrations", "notifier")
SOURCES = ("*.py", "*.sql", "*.toml", "*.html", "*.js", "*.css", "Makefile", "Dockerfile")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


def test_shared_imports_no_component_and_defines_no_main() -> None:
    for path in package_files("shared"):
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & set(PROGRAMS), (path, roots & set(PROGRAMS))
        tree = ast.parse(path.read_text())
        functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "main" not in functions, path
        assert "__main__" not in path.name, path


def test_no_production_module_imports_the_development_stack() -> None:
    for package in PRODUCTION:
        for path in package_files(package):
            roots = {name.split(".")[0] for name in imported_modules(path)}
            assert "devstack" not in roots and "tests" not in roots, path


def test_every_file_a_comment_points_at_exists() -> None:
    """References like `docs/design.md` or `checker/writer/store.py` in code, SQL and
    configuration name files of this repository."""
    reference = re.compile(
        r"\b((?:docs|shared|scheduler|checker|webmon|devstack|migrations|notifier|bench|tests)"
        r"/[\w./-]*\w\.(?:py|sql|md|json|yml|html|js|css))\b"
    )
    missing = []
    for pattern in SOURCES:
        for path in ROOT.rglob(pattern):
            if ".venv" in path.parts or ".git" in path.parts or "vendor" in path.parts:
                continue  # (vendored files are others' code)
            for ref in reference.findall(path.read_text(errors="replace")):
                if "NNN" not in ref and not (ROOT / ref).exists():  # not a name pattern
                    missing.append((str(path.relative_to(ROOT)), ref))
    assert not missing, missing
    for path in ROOT.rglob("*"):
        if path.suffix in (".py", ".sql", ".toml") and ".venv" not in path.parts:
            if path == Path(__file__).resolve():
                continue
            text = path.read_text(errors="replace")
            assert "DESIGN.md" not in text and "MEASUREMENTS.md" not in text, path
