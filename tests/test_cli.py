"""`infra` through click's runner: exit codes, messages, and what lands on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler import lint as lint_module
from compiler.cli import EXIT_LINT, EXIT_OK, EXIT_SPEC, main
from compiler.lint import LintFinding
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.infra_command import run_infra
from tests.test_lint import lint_once


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def bad_spec(tmp_path: Path) -> tuple[Path, int, int]:
    """A copy of the example with an invalid NAT mode, and the line and column of it."""
    lines = EXAMPLE_SPEC.read_text(encoding="utf-8").splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.startswith("  nat_gateways: per_az")]
    lines[index] = "  nat_gateways: double\n"
    path = copy_example(tmp_path / "project", "".join(lines))
    return path, index + 1, lines[index].index("double") + 1


def written(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


NOT_SPEC_STACKS = ("manifest.json", "bootstrap.json")


def test_compile_the_example(runner, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["compile", "--no-lint", str(EXAMPLE_SPEC), "-o", str(out)])
    assert result.exit_code == EXIT_OK, result.output
    files = written(out)
    assert "manifest.json" in files
    assert "regions/us-east-1.json" in files and "regions/us-west-2.json" in files
    # One summary row per stack (tests/test_summary.py has more); bootstrap.json is
    # deploy.sh's own stack, not one of the spec's.
    templates = [f for f in files if f.endswith(".json") and f not in NOT_SPEC_STACKS]
    assert "bootstrap.json" in files
    for template in templates:
        assert f" {template} " in result.stdout
    assert "cfn-lint" not in result.output
    assert result.stderr == ""


@pytest.mark.full  # cfn-lint of all the example's templates: the full tier's
def test_compile_and_lint_the_example(runner, tmp_path, monkeypatch):
    # Real cfn-lint on the files the CLI wrote; results are shared with test_lint, since
    # linting the example takes most of a minute.
    linted = []

    def recorded(path: Path, regions: list[str], **kwargs) -> list[LintFinding]:
        linted.append((path.name, tuple(regions)))
        return lint_once(path, regions)

    monkeypatch.setattr(lint_module, "lint_template", recorded)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)  # records in-process
    out = tmp_path / "out"
    result = runner.invoke(main, ["compile", str(EXAMPLE_SPEC), "--output", str(out)])
    assert result.exit_code == EXIT_OK, result.output
    templates = [f for f in written(out) if f.endswith(".json") and f not in NOT_SPEC_STACKS]
    assert f"cfn-lint: {len(templates)} templates, no findings" in result.stdout
    # deploy.sh's bootstrap template is linted too, in the regions it is deployed to.
    assert ("bootstrap.json", ("us-east-1", "us-west-2")) in linted


def test_compile_writes_templates_out_in_the_working_directory(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_example(tmp_path)
    result = runner.invoke(main, ["compile", "--no-lint"])
    assert result.exit_code == EXIT_OK, result.output
    assert (tmp_path / "templates_out" / "manifest.json").is_file()


def test_bad_spec_exits_2_with_the_located_problem(runner, tmp_path, bad_spec):
    path, line, column = bad_spec
    out = tmp_path / "out"
    result = runner.invoke(main, ["compile", "--no-lint", str(path), "-o", str(out)])
    assert result.exit_code == EXIT_SPEC
    assert f"{path}:{line}:{column}: network.nat_gateways: " in result.stderr
    assert "'double'" in result.stderr
    assert "1 problem in the spec; nothing was written." in result.stderr
    assert result.stdout == ""
    assert not out.exists()


def test_every_problem_is_reported_at_once(runner, tmp_path, bad_spec):
    path, _, _ = bad_spec
    text = path.read_text(encoding="utf-8").replace("min_size: 2", "min_size: 0", 1)
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["compile", "--no-lint", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == EXIT_SPEC
    assert "network.nat_gateways" in result.stderr
    assert "compute.min_size" in result.stderr
    assert "2 problems in the spec; nothing was written." in result.stderr


def test_bad_spec_leaves_existing_output_alone(runner, tmp_path, bad_spec):
    path, _, _ = bad_spec
    out = tmp_path / "out"
    assert (
        runner.invoke(main, ["compile", "--no-lint", str(EXAMPLE_SPEC), "-o", str(out)]).exit_code
        == 0
    )
    before = {f: (out / f).read_bytes() for f in written(out)}
    result = runner.invoke(main, ["compile", "--no-lint", str(path), "-o", str(out)])
    assert result.exit_code == EXIT_SPEC
    assert {f: (out / f).read_bytes() for f in written(out)} == before


def test_missing_spec_exits_2(runner, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(main, ["compile", "--no-lint", str(missing), "-o", str(tmp_path / "o")])
    assert result.exit_code == EXIT_SPEC
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.output


def test_lint_findings_exit_1(runner, tmp_path, monkeypatch):
    calls = []

    def fake_lint(path: Path, regions: list[str]) -> list[LintFinding]:
        calls.append((path, regions))
        return [LintFinding(str(path), 12, 5, "E3012", "error", "Property is wrong")]

    monkeypatch.setattr(lint_module, "lint_template", fake_lint)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)  # fakes record in-process
    out = tmp_path / "out"
    result = runner.invoke(main, ["compile", str(EXAMPLE_SPEC), "-o", str(out)])
    assert result.exit_code == EXIT_LINT
    assert calls and all(path.is_file() for path, _ in calls)
    first = calls[0][0]
    assert f"{first}:12:5: error E3012: Property is wrong" in result.stderr
    assert f"cfn-lint: {len(calls)} finding(s)" in result.stderr
    assert "no findings" not in result.output


def test_validate_reads_infra_yaml_by_default(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_example(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.strip() == "infra.yaml: valid (2 regions)"
    assert sorted(tmp_path.rglob("*")) == before  # writes nothing


def test_validate_reports_problems(runner, bad_spec):
    path, line, column = bad_spec
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == EXIT_SPEC
    assert f"{path}:{line}:{column}: network.nat_gateways: " in result.stderr


def test_validate_without_a_spec_exits_2(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == EXIT_SPEC
    assert "infra.yaml" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(runner, flag):
    result = runner.invoke(main, [flag])
    assert result.exit_code == EXIT_OK
    assert "Compile infra.yaml into AWS CloudFormation templates." in result.stdout
    assert "compile" in result.stdout and "validate" in result.stdout


def test_compile_help_documents_its_options(runner):
    result = runner.invoke(main, ["compile", "--help"])
    assert result.exit_code == EXIT_OK
    assert "--no-lint" in result.stdout
    assert "templates_out" in result.stdout


def test_unknown_option_is_a_usage_error(runner):
    result = runner.invoke(main, ["compile", "--frobnicate"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_warnings_are_printed_located_and_exit_0_for_validate_and_every_compile(tmp_path):

    text = EXAMPLE_SPEC.read_text(encoding="utf-8").replace(
        "cidr: 10.20.0.0/16", "cidr: 172.17.0.0/16"
    )
    copy_example(tmp_path, text)
    line = text[: text.index("172.17.0.0/16")].count("\n") + 1
    warning = f"infra.yaml:{line}:11: regions[1].cidr: warning: 172.17.0.0/16 overlaps"
    checked = run_infra("validate", cwd=tmp_path)
    assert checked.returncode == EXIT_OK, checked.stderr
    assert checked.stderr.startswith(warning) and checked.stderr.count("\n") == 1
    assert checked.stdout == "infra.yaml: valid (2 regions)\n"
    assert "Traceback" not in checked.stderr
    # an unchanged second compile prints it again: a spec with warnings is not remembered
    for _ in range(2):
        compiled = run_infra("compile", "--no-lint", "-q", cwd=tmp_path)
        assert compiled.returncode == EXIT_OK, compiled.stderr
        assert compiled.stderr.startswith(warning), compiled.stderr


def test_a_ctrl_c_dropped_in_a_finalizer_is_one_line_and_exit_130():
    """A KeyboardInterrupt raised while Python runs a `__del__` cannot propagate: Python
    hands it to `sys.unraisablehook`, whose default prints "Exception ignored in ..." and
    a traceback. The command reports it as any Ctrl-C: one line, exit 130."""
    import click

    from compiler.cli import EXIT_INTERRUPTED, _Commands

    class InterruptedOnCollection:
        def __del__(self):
            raise KeyboardInterrupt

    @click.group(cls=_Commands)
    def group() -> None:
        pass

    @group.command()
    def work() -> None:
        InterruptedOnCollection()  # collected at once, its KeyboardInterrupt dropped
        click.echo("finished")

    result = CliRunner().invoke(group, ["work"])
    assert (result.exit_code, result.stderr) == (EXIT_INTERRUPTED, "infra: interrupted\n")
    assert "Exception ignored" not in result.output
