"""The compile summary: one row per stack, what changed since the last compile, what next."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compiler import lint as lint_module
from compiler.cli import EXIT_LINT, EXIT_OK, main
from compiler.lint import LintFinding
from compiler.pipeline import compile_spec
from compiler.render import RenderedFile
from compiler.summary import (
    StackRow,
    change_status,
    lint_status,
    next_step,
    previous_output,
    stack_rows,
    table_lines,
)
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.infra_command import run_infra

TEMPLATES = [
    "global.json",
    "regions/us-east-1.json",
    "regions/us-west-2.json",
    "stackset.json",
    "health-alarms.json",
]


@pytest.fixture
def fake_lint(monkeypatch):
    """cfn-lint replaced by a recorder that finds nothing, or what `findings` names:
    template file name -> rules, each `RULE` or `RULE@region` (a finding for one region)."""
    findings: dict[str, list[str]] = {}
    calls: list[Path] = []

    def lint_template(path: Path, regions: list[str]) -> list[LintFinding]:
        calls.append(path)
        return [
            LintFinding(str(path), 1, 1, rule, "error", "made up", region=region or None)
            for rule, _, region in (name.partition("@") for name in findings.get(path.name, []))
        ]

    monkeypatch.setattr(lint_module, "lint_template", lint_template)
    monkeypatch.setattr(lint_module, "parallel_workers", lambda count: 1)
    return findings, calls


def row(**overrides) -> StackRow:
    values = dict(
        stack_name="s", template="t.json", resources=1, size=10, lint="clean", since_last="new"
    )
    return StackRow(**{**values, **overrides})


def test_previous_output_reads_what_is_there(tmp_path):
    (tmp_path / "a.json").write_bytes(b"old")
    files = [RenderedFile("a.json", b"new"), RenderedFile("sub/b.json", b"new")]
    assert previous_output(tmp_path, files) == {"a.json": b"old", "sub/b.json": None}
    assert previous_output(tmp_path / "missing", files) == {"a.json": None, "sub/b.json": None}


def test_statuses():
    assert change_status(None, b"x") == "new"
    assert change_status(b"x", b"x") == "unchanged"
    assert change_status(b"x", b"y") == "changed"
    assert lint_status(0, linted=False, cached=False) == "skipped"
    assert lint_status(0, linted=True, cached=False) == "clean"
    assert lint_status(0, linted=True, cached=True) == "cached"
    assert lint_status(1, linted=True, cached=False) == "1 finding"
    assert lint_status(3, linted=True, cached=True) == "3 findings"


def test_rows_follow_the_output_directory_across_compiles(tmp_path, fake_lint):
    out = tmp_path / "out"
    first = compile_spec(EXAMPLE_SPEC, out)
    rows = stack_rows(first, out)
    assert [r.template for r in rows] == TEMPLATES
    assert {(r.since_last, r.lint) for r in rows} == {("new", "clean")}
    assert all(r.size == len((out / r.template).read_bytes()) for r in rows)
    regional = [r for r in rows if r.template not in ("global.json", "health-alarms.json")]
    assert all(r.resources > 50 for r in regional)

    second = stack_rows(compile_spec(EXAMPLE_SPEC, out), out)
    assert {(r.since_last, r.lint) for r in second} == {("unchanged", "cached")}

    # A second region's CIDR: its regional template and the StackSet change, not the first.
    spec = copy_example(
        tmp_path / "p",
        EXAMPLE_SPEC.read_text().replace("cidr: 10.20.0.0/16", "cidr: 10.40.0.0/16"),
    )
    third = stack_rows(compile_spec(spec, out, lint=False), out)
    assert [(r.template, r.since_last, r.lint) for r in third] == [
        ("global.json", "unchanged", "skipped"),
        ("regions/us-east-1.json", "unchanged", "skipped"),
        ("regions/us-west-2.json", "changed", "skipped"),
        ("stackset.json", "changed", "skipped"),
        ("health-alarms.json", "unchanged", "skipped"),
    ]


def test_findings_are_counted_per_template(tmp_path, fake_lint):
    findings, _ = fake_lint
    findings["stackset.json"] = ["E3012", "W1020"]
    out = tmp_path / "out"
    rows = stack_rows(compile_spec(EXAMPLE_SPEC, out), out)
    assert [r.lint for r in rows] == ["clean", "clean", "clean", "2 findings", "clean"]
    assert [r.lint_failed for r in rows] == [False, False, False, True, False]


def test_a_stackset_finding_for_one_region_is_counted_on_that_regions_template(tmp_path, fake_lint):
    """...after linting that region's own template, whose findings stand (the StackSet
    findings for us-east-1 are an artifact its template does not confirm)."""
    findings, calls = fake_lint
    findings["stackset.json"] = ["E3002@us-west-2", "E3012", "W1031@us-east-1"]
    findings["us-west-2.json"] = ["E3002"]
    out = tmp_path / "out"
    rows = stack_rows(compile_spec(EXAMPLE_SPEC, out), out)
    assert [(r.template, r.lint) for r in rows] == [
        ("global.json", "clean"),
        ("regions/us-east-1.json", "clean"),
        ("regions/us-west-2.json", "1 finding"),
        ("stackset.json", "1 finding"),
        ("health-alarms.json", "clean"),
    ]
    linted = [path.name for path in calls]
    assert linted == [
        "global.json",
        "stackset.json",
        "health-alarms.json",
        "bootstrap.json",  # deploy.sh's own stack, linted last of the jobs
        "us-east-1.json",
        "us-west-2.json",
    ]
    every = compile_spec(
        EXAMPLE_SPEC, tmp_path / "every", lint_cache=False, lint_every_template=True
    )
    rows = stack_rows(every, tmp_path / "every")
    assert [r.lint for r in rows] == ["clean", "clean", "1 finding", "1 finding", "clean"]


def test_table_columns_line_up_with_and_without_colour():
    rows = [
        row(stack_name="long-stack-name", resources=112, size=127_048, lint="2 findings"),
        row(template="regions/x.json", since_last="unchanged"),
    ]
    lines = table_lines(rows)
    header, first, second = (click.unstyle(line) for line in lines)
    assert header.split()[:5] == ["stack", "template", "resources", "bytes", "lint"]
    assert header.index("lint") == first.index("2 findings") == second.index("clean")
    assert header.index("since") == first.index("new") == second.index("unchanged")
    assert header.index("template") == first.index("t.json") == second.index("regions/x.json")
    assert first.index("127,048") + len("127,048") == header.index("bytes") + len("bytes")
    assert all(line == line.rstrip() for line in (header, first, second))
    assert "\x1b[31m" in lines[1]  # findings in red
    assert "\x1b[" not in lines[0]  # the header is plain


def test_next_step():
    files = [RenderedFile("manifest.json", b"")]
    out = Path("templates_out")
    assert "fix the cfn-lint findings" in next_step([row(lint="1 finding")], files, out)
    assert "nothing changed" in next_step([row(since_last="unchanged")], files, out)
    assert "templates_out/manifest.json order" in next_step([row()], files, out)
    with_script = [*files, RenderedFile("deploy.sh", b"")]
    assert next_step([row()], with_script, out).endswith("`bash templates_out/deploy.sh`")


def test_compile_prints_the_table_and_the_next_step(tmp_path, fake_lint):
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["compile", str(EXAMPLE_SPEC), "-o", str(out)])
    assert first.exit_code == EXIT_OK, first.output
    lines = first.stdout.splitlines()
    assert lines[0].split()[:3] == ["stack", "template", "resources"]
    for template in TEMPLATES:
        (line,) = [line for line in lines if f" {template} " in line]
        assert line.split()[-2:] == ["clean", "new"]
    assert lines[-1].startswith("next: ")
    assert "\x1b[" not in first.stdout  # not a terminal: no colours

    again = runner.invoke(main, ["compile", str(EXAMPLE_SPEC), "-o", str(out)], color=True)
    assert "\x1b[" in again.stdout  # a terminal: colours
    assert click.unstyle(again.stdout).count("cached  unchanged") == len(TEMPLATES)
    assert "nothing changed since the last compile" in again.stdout


def test_quiet_compile_prints_only_problems(tmp_path, fake_lint):
    findings, _ = fake_lint
    runner = CliRunner()
    clean = runner.invoke(main, ["compile", "-q", str(EXAMPLE_SPEC), "-o", str(tmp_path / "a")])
    assert clean.exit_code == EXIT_OK
    assert clean.stdout == "" and clean.stderr == ""

    # Found for us-west-2 in the StackSet template, confirmed by us-west-2's own template.
    findings["stackset.json"] = ["E3012@us-west-2"]
    findings["us-west-2.json"] = ["E3012"]
    noisy = runner.invoke(
        main, ["compile", "--quiet", "--no-cache", str(EXAMPLE_SPEC), "-o", str(tmp_path / "b")]
    )
    assert noisy.exit_code == EXIT_LINT
    assert noisy.stdout == ""
    assert "us-west-2.json:1:1: error E3012: made up" in noisy.stderr
    assert "cfn-lint: 1 finding(s)" in noisy.stderr


def test_compile_as_a_process_has_no_colours(tmp_path):
    copy_example(tmp_path)
    completed = run_infra("compile", "--no-lint", cwd=tmp_path)
    assert completed.returncode == EXIT_OK, completed.stderr
    assert "\x1b[" not in completed.stdout
    assert completed.stdout.count("skipped  new") == len(TEMPLATES)
    assert completed.stdout.splitlines()[-1].startswith(
        "next: review with `git diff -- templates_out`, then deploy"
    )
