"""The error reference in docs/errors.md (scripts/error_reference.py) shows what the compiler
prints today, and every example in it is a located spec error."""

from __future__ import annotations

import importlib.util
import re

import pytest

from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "error_reference", REPO_ROOT / "scripts" / "error_reference.py"
)
error_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(error_reference)


@pytest.fixture(scope="module")
def generated() -> str:
    return error_reference.reference_markdown()


def test_readme_error_reference_is_current(generated):
    readme = (REPO_ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    begin, end = error_reference.BEGIN, error_reference.END
    committed = readme[readme.index(begin) : readme.index(end) + len(end)]
    assert committed == generated, "run `.venv/bin/python scripts/error_reference.py` and review"


def test_every_example_is_one_located_problem(generated):
    rows = [
        line
        for line in generated.splitlines()
        if line.startswith("| ") and not line.startswith(("| where", "| ---"))
    ]
    assert len(rows) == len(error_reference.EXAMPLES)
    for row in rows:
        assert re.search(r"\| `+ ?infra\.yaml:\d+:\d+: \S.*: .+`+ \|$", row), row
