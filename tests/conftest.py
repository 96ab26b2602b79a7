"""Shared test fixtures: paths to the example spec and a loader for spec text; the fast
tier (`pytest --fast`, docs/testing.md); the property tests' tally, gathered from every
pytest-xdist worker."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from tests.property.tally import COUNTS, NOTES

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = REPO_ROOT / "infra.yaml"

# Markers of tests the fast tier leaves out: what needs the AWS emulator, PostgreSQL,
# checkov or a pip install, and the property tests, which generate hundreds of specs.
FULL_TIER_ONLY = ("deploy", "slow", "full")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the fast tier: leave out tests marked " + ", ".join(FULL_TIER_ONLY),
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--fast"):
        return
    kept, left_out = [], []
    for item in items:
        full_only = any(item.get_closest_marker(name) for name in FULL_TIER_ONLY)
        (left_out if full_only else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under --fast, a module whose `pytestmark` puts all its tests in the full tier is
    not imported at all: collecting it only to deselect every test cost each worker
    seconds (moto, hypothesis, PostgreSQL helpers). None: pytest decides as usual."""
    if config.getoption("--fast") and collection_path.suffix == ".py":
        if collection_path.name.startswith("test_") and _whole_module_full_only(collection_path):
            return True
    return None


def _whole_module_full_only(path: Path) -> bool:
    """Whether the module assigns `pytestmark` at its top level with one of the
    FULL_TIER_ONLY markers (alone or in a list): read from its source, not imported."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False  # pytest collects it and reports the error
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            continue
        marks = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
        return any(_marker_name(mark) in FULL_TIER_ONLY for mark in marks)
    return False


def _marker_name(node: ast.expr) -> str | None:
    """`pytest.mark.NAME` (or `pytest.mark.NAME(...)`) -> NAME."""
    if isinstance(node, ast.Call):
        node = node.func
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "pytest"
    ):
        return node.attr
    return None


@pytest.fixture
def example_text() -> str:
    return EXAMPLE_SPEC.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def isolated_lint_cache(tmp_path_factory, monkeypatch):
    """Each test gets an empty lint cache, never the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def lint_cache(pytestconfig: pytest.Config) -> Path | None:
    """cfn-lint's clean markers for the tests that lint whole sets of templates (every
    example, every region, generated specs: `lint_templates(jobs, cache_dir=lint_cache)`),
    kept between runs. A marker vouches only for the exact template bytes, regions,
    cfn-lint version and rule configuration (`compiler.lint.clean_marker`), so only
    templates that changed since a clean run are linted again (seconds each). Kept in
    $INFRA_TEST_CACHE (set by scripts/test.sh) beside the dependencies, so every clone on
    the machine reuses them, a fresh one too; else in pytest's cache directory; None (lint
    everything) under `-p no:cacheprovider` without $INFRA_TEST_CACHE. Tests that check
    linting itself use their own empty cache (`isolated_lint_cache`)."""
    return kept_between_runs(pytestconfig, "cfn-lint-clean")


@pytest.fixture(scope="session")
def checkov_cache(pytestconfig: pytest.Config) -> Path | None:
    """checkov's merged reports, kept between runs like `lint_cache`'s markers (in
    $INFRA_TEST_CACHE, else pytest's cache directory): see
    `tests.security.test_checkov.checkov_scan` for what a report is keyed by."""
    return kept_between_runs(pytestconfig, "checkov-reports")


def kept_between_runs(pytestconfig: pytest.Config, name: str) -> Path | None:
    """The directory `name` in $INFRA_TEST_CACHE, else in pytest's cache directory; None
    without either (`-p no:cacheprovider`)."""
    shared = os.environ.get("INFRA_TEST_CACHE")
    if shared:
        directory = Path(shared) / name
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    cache = getattr(pytestconfig, "cache", None)
    return cache.mkdir(name) if cache else None


# --- the property tests' tally ------------------------------------------------------
# Under pytest-xdist the tests run in worker processes: each sends its counts to the
# controller when it finishes, and the controller prints the sum.


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["tally"] = {"counts": dict(COUNTS), "notes": list(NOTES)}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    tally = getattr(node, "workeroutput", {}).get("tally")
    if tally:
        COUNTS.update(tally["counts"])
        NOTES.extend(tally["notes"])


def pytest_terminal_summary(terminalreporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section("generated inputs")
    for what, count in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{count:>6}  {what}")
    for note in NOTES:
        terminalreporter.write_line(note)
