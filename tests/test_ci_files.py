"""The CI integration files: the pre-commit hooks and the example workflow name real commands."""

from __future__ import annotations

import re
import shlex

import click
import pytest
import yaml

from compiler.cli import main
from tests.conftest import REPO_ROOT

HOOKS = REPO_ROOT / ".pre-commit-hooks.yaml"
WORKFLOW = REPO_ROOT / "docs" / "github-actions-example.yml"


def assert_is_a_real_command(command_line: str) -> None:
    """`infra <command> [options]`: the command exists and takes every option given."""
    program, command_name, *rest = shlex.split(command_line)
    assert program == "infra", command_line
    assert command_name in main.commands, command_line
    command = main.commands[command_name]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    options = [word for word in rest if word.startswith("-")]
    assert set(options) <= known, (command_line, sorted(known))
    with click.Context(command) as ctx:  # parses: no unknown option, no missing value
        command.parse_args(ctx, list(rest))


def hooks() -> list[dict]:
    return yaml.safe_load(HOOKS.read_text(encoding="utf-8"))


def test_hooks_file_lists_validate_and_diff():
    assert [hook["id"] for hook in hooks()] == ["infra-validate", "infra-diff"]


@pytest.mark.parametrize("hook", hooks(), ids=lambda hook: hook["id"])
def test_each_hook_runs_an_infra_command(hook):
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    assert hook["pass_filenames"] is False  # the commands read the spec, not staged files
    assert_is_a_real_command(hook["entry"])
    assert re.search(hook["files"], "infra.yaml")
    assert re.search(hook["files"], "deploy/infra.yml")
    assert not re.search(hook["files"], "compiler/cli.py")


def test_diff_hook_also_runs_when_templates_change():
    (diff_hook,) = [hook for hook in hooks() if hook["id"] == "infra-diff"]
    assert re.search(diff_hook["files"], "templates_out/regions/us-east-1.json")


def test_the_installed_script_is_called_infra():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'infra = "compiler.entry:main"' in pyproject


def test_example_workflow_compiles_diffs_and_lints():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert uses[0].startswith("actions/checkout@")
    (cache,) = [step for step in steps if step.get("uses", "").startswith("actions/cache@")]
    assert cache["with"]["path"] == "~/.cache/infra-compiler"  # compiler.caches.cache_root
    # A new key per commit, restored from the newest earlier one: the cache keeps growing
    # with what linted clean instead of freezing at the first run's contents.
    assert "${{ github.sha }}" in cache["with"]["key"]
    assert cache["with"]["key"].startswith(cache["with"]["restore-keys"])
    (python,) = [step for step in steps if step.get("uses", "").startswith("actions/setup-python@")]
    assert python["with"]["python-version"] == "3.11"
    runs = [step["run"] for step in steps if "run" in step]
    infra_runs = [run for run in runs if run.startswith("infra ")]
    for run in infra_runs:
        assert_is_a_real_command(run)
    assert [run.split()[1] for run in infra_runs] == ["compile", "diff"]
    (compile_run,) = [run for run in infra_runs if run.split()[1] == "compile"]
    # Compiling over templates_out/ first would make the diff compare it with itself.
    assert "--output build/templates" in compile_run
    assert "infra diff --against templates_out" in infra_runs
    (lint,) = [run for run in runs if run.startswith("cfn-lint ")]
    assert "'templates_out/**/*.json'" in lint and "manifest.json" in lint
