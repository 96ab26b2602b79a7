"""Shared test fixtures: paths to the example spec and a loader for spec text; the fast
tier (`pytest --fast`, docs/testing.md); the property tests' tally, gathered from every
pytest-xdist worker."""

from __future__ import annotations

import ast
import json
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
    costliest_scopes_first(config, items)
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


# --- the order in which pytest-xdist hands out work ----------------------------------
# Under `--dist loadscope` a module (a class, for class-scoped fixtures) runs whole on one
# worker, and xdist hands them out in collection order (scripts/test.sh turns off its own
# reordering by number of tests, which put modules of a few slow tests last: one worker
# ran the last of them alone while the other idled). So the costliest scopes go first:
# a scope's cost is the sum of its collected tests' seconds in the last run of each on
# this machine (kept per test, so a run of a few tests, `-k` or `-x`, cannot understate
# a scope), and scopes with no test measured go by tier (emulator, pip, PostgreSQL,
# property tests before the rest). Only the order changes.

TEST_SECONDS = "test-seconds.json"
_SPENT: dict[str, float] = {}  # this run's seconds per test (set-up and tear-down included)


def _scope_of(nodeid: str) -> str:
    """The work unit `--dist loadscope` keeps on one worker (xdist's own split)."""
    return nodeid.rsplit("::", 1)[0]


def _test_seconds_file(config: pytest.Config) -> Path | None:
    directory = kept_between_runs(config, "scheduling")
    return directory / TEST_SECONDS if directory else None


def _read_test_seconds(config: pytest.Config) -> dict[str, float]:
    path = _test_seconds_file(config)
    try:
        seconds = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}  # none yet, or a broken file: the tier order alone
    return seconds if isinstance(seconds, dict) else {}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """The controller reads the file once for every worker: workers that read it
    themselves could see different versions (another clone's run writing it) and
    collect in different orders, which xdist refuses."""
    node.workerinput["test_seconds"] = _read_test_seconds(node.config)


def costliest_scopes_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return  # one process (or the controller, which takes the workers' order)
    seconds = workerinput.get("test_seconds", {})
    cost: dict[str, float] = {}
    measured: dict[str, bool] = {}
    full_tier: dict[str, bool] = {}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        scope = _scope_of(item.nodeid)
        first_seen.setdefault(scope, index)
        spent = seconds.get(item.nodeid)
        known = isinstance(spent, int | float)
        cost[scope] = cost.get(scope, 0.0) + (spent if known else 0.0)
        measured[scope] = measured.get(scope, False) or known
        marked = any(item.get_closest_marker(name) for name in FULL_TIER_ONLY)
        full_tier[scope] = full_tier.get(scope, False) or marked

    def order(item: pytest.Item) -> tuple[bool, float, bool, int]:
        scope = _scope_of(item.nodeid)
        if measured[scope]:
            return (False, -cost[scope], False, first_seen[scope])
        return (True, 0.0, not full_tier[scope], first_seen[scope])

    items.sort(key=order)  # stable: a scope's tests keep their order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # in the controller (and a single process): every worker's reports pass through it
    _SPENT[report.nodeid] = _SPENT.get(report.nodeid, 0.0) + report.duration


def _remember_test_seconds(config: pytest.Config) -> None:
    """Merge this run's seconds per test into the file (tests not run keep theirs)."""
    path = _test_seconds_file(config)
    if path is None or not _SPENT:
        return
    seconds = _read_test_seconds(config)
    seconds.update({test: round(spent, 2) for test, spent in _SPENT.items()})
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(seconds, sort_keys=True, indent=0), encoding="utf-8")
    os.replace(staging, path)  # atomic: a concurrent reader sees the old or the new file


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
    else:
        _remember_test_seconds(session.config)


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
