"""Every shell command, curl call and SQL statement the docs show runs, against a running
webmon, and says what the page says it does (tests/support/docs_examples.py has the rules).

A page that drifts from the code fails here: a missing `Content-Type` on a curl call, a
renamed flag, a column that is gone, an output that changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sybil import Example

from tests.support.docs_examples import DocsStack, evaluate, parse_page, xfail_reason

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _examples() -> list[tuple[list[Example], Example]]:
    return [pair for page in PAGES for pair in parse_page(page).examples]


EXAMPLES = _examples()


def _name(pair: tuple[list[Example], Example]) -> str:
    example = pair[1]
    return f"{Path(example.path).relative_to(ROOT)}:{example.line}"


@pytest.mark.parametrize("pair", EXAMPLES, ids=[_name(p) for p in EXAMPLES])
def test_the_example_runs_as_shown(
    docs_stack: DocsStack, pair: tuple[list[Example], Example], request: pytest.FixtureRequest
) -> None:
    __tracebackhide__ = True
    directives, example = pair
    reason = xfail_reason(directives)
    if reason is not None:  # strict (pyproject's xfail_strict): passing fails too
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    evaluate(docs_stack, directives, example)
