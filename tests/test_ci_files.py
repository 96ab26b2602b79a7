"""The CI integration files: the pre-commit hooks and the example workflow name real commands."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import click
import pytest
import yaml

from compiler.cli import main
from tests.builders.example import copy_example
from tests.conftest import REPO_ROOT
from tests.infra_command import INFRA, infra_in_process

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


def with_matrix(run: str, environment: str) -> str:
    """A workflow `run:` line as the job of one matrix entry runs it."""
    return " ".join(run.replace("${{ matrix.environment }}", environment).split())


def hooks() -> list[dict]:
    return yaml.safe_load(HOOKS.read_text(encoding="utf-8"))


def test_hooks_file_lists_validate_diff_and_check():
    assert [hook["id"] for hook in hooks()] == ["infra-validate", "infra-diff", "infra-check"]


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
    environments = job["strategy"]["matrix"]["environment"]
    assert "" in environments  # the base, which has no --env
    for run in infra_runs:
        for environment in [*environments, "--env staging"]:
            assert_is_a_real_command(with_matrix(run, environment))
    assert [run.split()[1] for run in infra_runs] == ["compile", "diff"]
    (compile_run,) = [run for run in infra_runs if run.split()[1] == "compile"]
    # Compiling over templates_out/ first would make the diff compare it with itself.
    assert "--output build/templates" in compile_run
    (lint,) = [run for run in runs if run.startswith("cfn-lint ")]
    assert "'templates_out/**/*.json'" in lint and "manifest.json" in lint


STAGING_OVERLAY = """
environments:
  staging:
    compute: {instance_type: t3.micro, min_size: 1, desired_capacity: 1, max_size: 2}
"""


@pytest.fixture
def project_with_environments(tmp_path):
    """A project as committed: a spec with an environment, each compiled where compile
    writes by default (templates_out/production/ and templates_out/staging/)."""
    copy_example(tmp_path)  # the spec with the files it names
    with (tmp_path / "infra.yaml").open("a", encoding="utf-8") as spec:
        spec.write(STAGING_OVERLAY)
    for env_args in ([], ["--env", "staging"]):  # set-up: in this process
        done = infra_in_process("compile", *env_args, "--no-lint", cwd=tmp_path)
        assert done.exit_code == 0, done.stderr
    assert {p.name for p in (tmp_path / "templates_out").iterdir()} == {"production", "staging"}
    return tmp_path


def run_shell(command_line: str, cwd) -> subprocess.CompletedProcess[str]:
    """A hook entry or workflow step as its shell runs it, `infra` on the PATH."""
    path = f"{INFRA.parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", command_line],
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
    )


def hook_runs(environments: list[str]) -> list[str]:
    """The diff hook's command line for the base and each environment (args appended)."""
    (diff_hook,) = [hook for hook in hooks() if hook["id"] == "infra-diff"]
    return [f"{diff_hook['entry']} {env_args}".strip() for env_args in environments]


def workflow_diff_runs(environments: list[str]) -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    (diff_run,) = [s["run"] for s in job["steps"] if s.get("run", "").startswith("infra diff")]
    return [with_matrix(diff_run, environment) for environment in environments]


@pytest.mark.parametrize("runs", [hook_runs, workflow_diff_runs], ids=["hook", "workflow"])
def test_diff_checks_compare_each_environments_directory(project_with_environments, runs):
    base, staging = runs(["", "--env staging"])
    for command_line in (base, staging):
        done = run_shell(command_line, project_with_environments)
        assert done.returncode == 0, (command_line, done.stdout, done.stderr)
    spec = project_with_environments / "infra.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "instance_type: t3.micro", "instance_type: t3.nano"
        ),
        encoding="utf-8",
    )
    stale = run_shell(staging, project_with_environments)
    assert stale.returncode == 1, stale.stdout
    assert 'InstanceType: "t3.micro" -> "t3.nano"' in stale.stdout
    assert "templates_out/staging" in stale.stdout
    assert run_shell(base, project_with_environments).returncode == 0


@pytest.mark.parametrize("runs", [hook_runs, workflow_diff_runs], ids=["hook", "workflow"])
def test_diff_checks_pass_on_this_repository(runs):
    """Without environments the default directory is templates_out/ itself."""
    (base,) = runs([""])
    done = run_shell(base, REPO_ROOT)
    assert done.returncode == 0, done.stdout
    assert "match templates_out\n" in done.stdout
