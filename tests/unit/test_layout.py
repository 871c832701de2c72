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
            if {".venv", ".git", "vendor", "site"} & set(path.parts):
                continue  # (vendored files are others' code; site/ is the built docs)
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


# The surfaces over the core: they parse, call `webmon.core`, render. No SQL of their own.
SURFACES = ("webmon/api", "webmon/web", "webmon/cli")
DRIVERS = ("psycopg", "psycopg_pool", "shared.db", "shared.queries")
SQL_WORDS = re.compile(r"\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|COPY \w+)\b")


def test_the_surfaces_run_no_sql_of_their_own() -> None:
    """The API, the dashboard and the CLI import no driver and no SQL file, and hold no
    statement: only the core (and the components' own store modules) run SQL."""
    for surface in SURFACES:
        paths = sorted((ROOT / surface).rglob("*.py"))
        assert paths, surface
        assert not list((ROOT / surface).rglob("*.sql")), surface
        for path in paths:
            text = path.read_text()
            for name in imported_modules(path):
                assert not name.startswith(DRIVERS), (path, name)
            assert not re.search(r"\.sql\b", text), path
            assert not SQL_WORDS.search(text), (path, SQL_WORDS.search(text))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Each module of `packages` and the modules of `packages` it imports (`from a import
    b` counts as importing the module `a.b` when there is one, else `a`)."""
    modules = {module_name(p): p for package in packages for p in package_files(package)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    found.add(child if child in modules else node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_anywhere() -> None:
    graph = import_graph((*PRODUCTION, "devstack", "bench"))
    assert len(graph) > 100
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_is_imported_by_the_surfaces_not_the_other_way() -> None:
    graph = import_graph(PRODUCTION)
    core = {m for m in graph if m.startswith("webmon.core")}
    assert core
    for module in core:
        assert not any(
            m.startswith(("webmon.api", "webmon.web", "webmon.cli")) for m in graph[module]
        ), module
