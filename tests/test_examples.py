"""The example specs: each compiles to its committed golden output byte for byte, lints
clean, is listed in examples/README.md, and its task code works.

The goldens turn any change in what the compiler emits into a reviewed diff. When a
change is intended, regenerate them with one command (see `REGENERATE_COMMAND`) and
review the result before committing. The root `infra.yaml`'s golden output is the
committed `templates_out/` itself.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
import subprocess
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from compiler.lint import LintJob, lint_templates
from compiler.pipeline import compile_spec, lint_regions
from compiler.spec import InfraSpec
from tests.fixtures.examples import (
    EXAMPLES_DIR,
    GOLDEN_DIR,
    REGENERATE_COMMAND,
    REPO_ROOT,
    REVIEW_COMMAND,
    ROOT_EXAMPLE,
    Example,
    compile_example,
    example,
    examples,
    files_on_disk,
)

EXAMPLE_NAMES = [e.name for e in examples() if e.name != ROOT_EXAMPLE]
# Lines of text diff shown per changed file; the full diff is one regeneration away.
SHOWN_DIFF_LINES = 40


def golden_mismatches(chosen: Example) -> list[str]:
    """What differs between a fresh compile of `chosen` and its golden directory."""
    compiled_files = compile_example(chosen)
    compiled = {file.path: file.content for file in compiled_files}
    golden = files_on_disk(chosen.golden)
    problems = [
        f"missing from the golden output: {path}" for path in compiled if path not in golden
    ]
    problems += [
        f"in the golden output, not compiled: {path}" for path in golden if path not in compiled
    ]
    for path in sorted(set(compiled) & set(golden)):
        if compiled[path] != golden[path]:
            diff = difflib.unified_diff(
                golden[path].decode("utf-8", "replace").splitlines(),
                compiled[path].decode("utf-8", "replace").splitlines(),
                f"golden/{path}",
                f"compiled/{path}",
                lineterm="",
            )
            shown = list(diff)
            more = (
                f"\n... {len(shown) - SHOWN_DIFF_LINES} more diff lines"
                if len(shown) > SHOWN_DIFF_LINES
                else ""
            )
            problems.append(f"differs: {path}\n" + "\n".join(shown[:SHOWN_DIFF_LINES]) + more)
    for file in compiled_files:
        path = chosen.golden / file.path
        if path.is_file() and file.executable != bool(path.stat().st_mode & 0o111):
            problems.append(
                f"mode differs: {file.path} should {'' if file.executable else 'not '}be executable"
            )
    return problems


def fail_with(chosen: Example, problems: list[str]) -> None:
    pytest.fail(
        f"{chosen.spec.relative_to(REPO_ROOT)} no longer compiles to "
        f"{chosen.golden.relative_to(REPO_ROOT)}/:\n"
        + "\n".join(problems)
        + f"\n\nIf the change is intended, run `{REGENERATE_COMMAND}` and review "
        f"`{REVIEW_COMMAND}`.",
        pytrace=False,
    )


def test_templates_out_is_a_fresh_compile_of_infra_yaml():
    """The committed templates_out/ is exactly what `infra compile` makes of infra.yaml now."""
    root = example(ROOT_EXAMPLE)
    problems = golden_mismatches(root)
    if problems:
        fail_with(root, problems)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_compiles_to_its_golden_output(name: str):
    chosen = example(name)
    assert (chosen.golden / "manifest.json").is_file(), (
        f"no golden output for examples/{name}: run `{REGENERATE_COMMAND} {name}`"
    )
    problems = golden_mismatches(chosen)
    if problems:
        fail_with(chosen, problems)


def test_every_golden_directory_belongs_to_an_example():
    stale = sorted({p.name for p in GOLDEN_DIR.iterdir() if p.is_dir()} - set(EXAMPLE_NAMES))
    assert not stale, (
        f"golden outputs without an examples/<name>/infra.yaml: {stale}; run `{REGENERATE_COMMAND}`"
    )


def test_golden_comparison_notices_a_changed_byte(tmp_path: Path):
    """The comparison is byte for byte: a changed byte, an extra file, a lost executable
    bit are each reported."""
    chosen = example("minimal")
    copy = Example(chosen.name, chosen.spec, tmp_path / "golden")
    shutil.copytree(chosen.golden, copy.golden)
    assert golden_mismatches(copy) == []
    manifest = copy.golden / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"version": 1', b'"version": 2'))
    (copy.golden / "regions" / "stray.json").write_text("{}\n")
    (copy.golden / "deploy.sh").chmod(0o644)
    problems = golden_mismatches(copy)
    assert problems[0] == "in the golden output, not compiled: regions/stray.json"
    assert problems[1].startswith("differs: manifest.json\n")
    assert '+  "version": 1,' in problems[1]
    assert problems[2] == "mode differs: deploy.sh should be executable"
    assert len(problems) == 3


def test_readme_table_lists_every_example():
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| [")]
    listed = [row.split("]", 1)[0].removeprefix("| [") for row in rows]
    assert listed[0] == "infra.yaml"
    assert sorted(listed[1:]) == EXAMPLE_NAMES  # in the table's own order, each once
    assert REGENERATE_COMMAND in readme


def required_keys(model: type[BaseModel]) -> set[str]:
    return {name for name, field in model.model_fields.items() if field.is_required()}


def model_of(annotation) -> type[BaseModel] | None:
    """The spec model a field holds, directly or as the items of a list."""
    candidates = [annotation, *typing.get_args(annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def test_minimal_example_writes_only_required_keys():
    """examples/minimal stays minimal as the schema grows: exactly the required keys, at
    every level that is a spec model."""

    def check(data, model: type[BaseModel], where: str) -> None:
        assert set(data) == required_keys(model), where or "(top level)"
        for key, value in data.items():
            inner = model_of(model.model_fields[key].annotation)
            for item in value if isinstance(value, list) else [value]:
                if inner is not None:
                    check(item, inner, f"{where}.{key}".lstrip("."))

    check(yaml.safe_load(example("minimal").spec.read_text(encoding="utf-8")), InfraSpec, "")


# --- cfn-lint ------------------------------------------------------------------------


@pytest.mark.full  # cfn-lint of every example's templates: the full tier's
def test_every_example_lints_clean(tmp_path: Path, lint_cache: Path | None):
    """All templates of all examples in one parallel cfn-lint run. (The root infra.yaml's
    templates are linted by tests/test_lint.py.)"""
    jobs = []
    for name in EXAMPLE_NAMES:
        for environment in example(name).environments():
            out = tmp_path / name / (environment or "base")
            compiled = compile_spec(example(name).spec, out, environment=environment, lint=False)
            jobs += [
                LintJob(out / stack.path, tuple(lint_regions(compiled.spec, stack)))
                for stack in compiled.stacks
            ]
    assert len(jobs) >= 3 * len(EXAMPLE_NAMES)
    findings = lint_templates(jobs, cache_dir=lint_cache)
    assert findings == [], "\n".join(str(f) for f in findings)


# --- the scheduled tasks of examples/tasks-and-buckets ---------------------------------

TASKS_DIR = EXAMPLES_DIR / "tasks-and-buckets" / "tasks"


def load_task(file_name: str):
    # Loaded from its file, as Lambda loads index.py: tasks/ is not a package.
    spec = importlib.util.spec_from_file_location(
        file_name.removesuffix(".py"), TASKS_DIR / file_name
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def s3(monkeypatch):
    """An in-process moto S3 with two buckets, as the task's own boto3 client sees it."""
    from moto import mock_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-2")
        for bucket in ("ledger-uploads", "ledger-exports"):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-2"}
            )
        yield client


def test_inventory_task_totals_each_prefix(s3, monkeypatch, capsys):
    s3.put_object(Bucket="ledger-uploads", Key="2024/a.csv", Body=b"x" * 10)
    s3.put_object(Bucket="ledger-uploads", Key="2024/b.csv", Body=b"x" * 5)
    s3.put_object(Bucket="ledger-uploads", Key="readme.txt", Body=b"x" * 3)
    monkeypatch.setenv("TASK_BUCKETS", "ledger-uploads,ledger-exports")
    result = load_task("inventory.py").handler({}, None)
    assert result["lines"] == [
        {"bucket": "ledger-uploads", "prefix": "(root)", "objects": 1, "bytes": 3},
        {"bucket": "ledger-uploads", "prefix": "2024/", "objects": 2, "bytes": 15},
    ]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert logged == result["lines"]


def test_stale_exports_task_reports_only_old_files(s3, monkeypatch):
    s3.put_object(Bucket="ledger-exports", Key="old.csv", Body=b"1")
    s3.put_object(Bucket="ledger-exports", Key="new.csv", Body=b"2")
    task = load_task("stale_exports.py")
    monkeypatch.setenv("TASK_BUCKETS", "ledger-exports")
    monkeypatch.setenv("MAX_AGE_DAYS", "14")
    assert task.report({}, None) == {
        "buckets": [{"bucket": "ledger-exports", "stale": 0, "oldest": []}]
    }
    # Both objects were written just now; a cutoff in the future makes them "old".
    future = datetime.now(UTC) + timedelta(days=1)
    assert sorted(task.stale_objects(s3, "ledger-exports", future)) == ["new.csv", "old.csv"]


def test_heartbeat_task_logs_one_line():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed; the heartbeat task is JavaScript")
    script = (
        f"require({json.dumps(str(TASKS_DIR / 'heartbeat.js'))})"
        ".handler({time: '2024-01-01T00:00:00Z'}).then(r => console.error(JSON.stringify(r)))"
    )
    completed = subprocess.run(
        [node, "-e", script],
        env={"SERVICE_NAME": "ledger"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    logged = json.loads(completed.stdout)
    assert logged["service"] == "ledger"
    assert logged["scheduledAt"] == "2024-01-01T00:00:00Z"
    assert json.loads(completed.stderr) == logged  # the returned value is the logged line
