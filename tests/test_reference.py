"""The spec reference (docs/spec-reference.md) must match the models it documents."""

from compiler.reference import BEGIN, END, reference_markdown
from tests.conftest import REPO_ROOT


def test_readme_reference_is_current():
    readme = (REPO_ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    committed = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert committed == reference_markdown(), "run `python -m compiler.reference` and review"


def test_every_section_and_key_is_documented():
    rows = [line for line in reference_markdown().splitlines() if line.startswith("| `")]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    undocumented = [key for key, _type, _default, meaning in cells if not meaning]
    assert not undocumented
    assert any(row.startswith("| `compute.ssh_cidrs`") for row in rows)
