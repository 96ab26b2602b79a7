"""`check.checkov`: finding the program, and reading its JSON report into results."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.check import run_check
from compiler.check.checkov import find_checkov, property_path, read_result, run_checkov
from compiler.cli import EXIT_TOOL, main
from compiler.errors import CheckToolError
from tests.builders.example import copy_example
from tests.conftest import EXAMPLE_SPEC
from tests.spec.helpers import where

SKIPPED = {
    "check_id": "CKV_AWS_18",
    "check_name": "Ensure the S3 bucket has access logging enabled",
    "check_result": {"result": "SKIPPED", "suppress_comment": "It is the log bucket."},
    "file_path": "/regions/us-east-1.json",
    "file_line_range": [1578, 1640],
    "resource": "AWS::S3::Bucket.LogsBucket",
    "guideline": None,
}
FAILED = {
    "check_id": "CKV_AWS_157",
    "check_name": "Ensure that RDS instances have Multi-AZ enabled",
    "check_result": {"result": "FAILED", "evaluated_keys": ["Properties/MultiAZ"]},
    "file_path": "/stackset.json",
    "file_line_range": [3838, 3900],
    "resource": "AWS::RDS::DBInstance.Database",
    "guideline": "https://docs.example/ckv-aws-157",
}


def test_a_failed_check_names_the_resource_and_the_property_it_read():
    result = read_result(FAILED, Path("/tmp/scan"))
    assert (result.check_id, result.template, result.line, result.resource) == (
        "CKV_AWS_157", "stackset.json", 3838, "Database",
    )  # fmt: skip
    assert result.properties == ("MultiAZ",) and result.skipped_because is None
    assert result.guideline == "https://docs.example/ckv-aws-157"


def test_a_skipped_check_keeps_the_templates_reason():
    result = read_result(SKIPPED, Path("/tmp/scan"))
    assert result.skipped_because == "It is the log bucket."
    assert (result.template, result.resource, result.properties) == (
        "regions/us-east-1.json", "LogsBucket", (),
    )  # fmt: skip


def test_property_paths_keep_list_indexes_and_only_properties():
    assert property_path("Properties/Rules/[2]/Action") == ("Rules", 2, "Action")
    assert property_path("Metadata/checkov") == ()


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No checkov on the PATH and none in the working directory."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_checkov_anywhere_is_none(nowhere):
    assert find_checkov(None) is None


def test_checkov_on_the_path_before_the_projects(nowhere, monkeypatch):
    program = nowhere / "bin" / "checkov"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    project = nowhere / ".venv-checkov" / "bin" / "checkov"
    project.parent.mkdir(parents=True)
    project.write_text("#!/bin/sh\n")
    assert find_checkov(None) == Path(".venv-checkov/bin/checkov")
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_checkov(None) == program


def test_a_named_checkov_must_be_a_program(nowhere):
    with pytest.raises(CheckToolError, match="--checkov .*/nope: no such program"):
        find_checkov(nowhere / "nope")


FAKE_CHECKOV = Path(__file__).resolve().parents[1] / "fixtures" / "fake_checkov.py"
STAGING = """
environments:
  staging:
    database: {multi_az: false}
    checks:
      waivers:
        - {id: CKV_AWS_157, resource: Database, reason: Staging runs one instance.}
        - {id: CKV_AWS_18, reason: Never reported.}
"""


@pytest.fixture
def fake_checkov(tmp_path, monkeypatch):
    """checkov replaced by a program that prints a report we write (and cfn-lint by
    nothing: these tests are about checkov's report); returns the report's path."""
    monkeypatch.setattr("compiler.lint.lint_templates", lambda *args, **kwargs: [])
    report = tmp_path / "report.json"
    monkeypatch.setenv("FAKE_CHECKOV_REPORT", str(report))
    return report


def test_a_waiver_in_an_environment_is_located_in_its_overlay(tmp_path, fake_checkov):
    spec = copy_example(tmp_path / "project", EXAMPLE_SPEC.read_text(encoding="utf-8") + STAGING)
    text = spec.read_text(encoding="utf-8")
    fake_checkov.write_text(
        json.dumps({"check_type": "cloudformation", "results": {"failed_checks": [FAILED]}})
    )
    report = run_check(spec, "staging", checkov=FAKE_CHECKOV)
    (finding,) = report.findings
    assert finding.spec.path == ("environments", "staging", "database", "multi_az")
    assert (finding.spec.line, finding.spec.column) == where(text, "false}", after=STAGING[:30])
    assert finding.waiver is not None and finding.waiver.reason == "Staging runs one instance."
    assert finding.waiver.location.line == where(text, "{id: CKV_AWS_157")[0]
    assert report.tools["checkov"] == "3.3.30-fake"
    (warning,) = report.warnings
    line, column = where(text, "{id: CKV_AWS_18")
    assert str(warning) == (
        f"{spec}:{line}:{column}: environments.staging.checks.waivers[1]: warning: waives "
        "nothing: checkov reported no CKV_AWS_18 finding; remove the waiver"
    )


def test_a_checkov_crash_is_one_line_and_exit_3(tmp_path, fake_checkov, monkeypatch):
    monkeypatch.setenv("FAKE_CHECKOV_EXIT", "2")
    spec = copy_example(tmp_path)
    result = CliRunner().invoke(main, ["check", str(spec), "--checkov", str(FAKE_CHECKOV)])
    assert result.exit_code == EXIT_TOOL
    assert result.stderr == "infra check: checkov failed (exit 2): RuntimeError: fake crash\n"
    assert result.stdout == ""


def test_a_template_checkov_cannot_parse_is_an_error(tmp_path, fake_checkov):
    fake_checkov.write_text(
        json.dumps({"results": {"failed_checks": [], "parsing_errors": ["/global.json"]}})
    )
    with pytest.raises(CheckToolError, match=r"^checkov could not parse /global.json$"):
        run_checkov(FAKE_CHECKOV, tmp_path)


@pytest.mark.parametrize(
    ("printed", "message"),
    [
        # A report with nothing scanned (the bare summary) or no JSON object: a gate that
        # passed on it would check nothing.
        (b"5", r"^checkov's report has no results for the templates: 5$"),
        (b'{"passed": 0, "failed": 0}', r"no results for the templates: \{\"passed\""),
        (b'{"results": []}', "no results for the templates"),
        (b'[{"results": {}}, "x"]', "no results for the templates"),
        (b'{"results": {"failed_checks": {"a": 1}}}', r"^checkov's report: failed_checks is not"),
        (b'{"results": {"parsing_errors": [1, 2]}}', r"^checkov could not parse 1, 2$"),
        (b'{"results": {"failed_checks": [{}]}}', r"^checkov's report has a check infra cannot"),
        (b'{"results": {"failed_checks": [7]}}', r"cannot read: 7$"),
        (
            b'{"results": {"failed_checks": [{"check_id": "CKV_AWS_1", "check_result": [1]}]}}',
            "has a check infra cannot read",
        ),
        (
            b'{"results": {"skipped_checks": [{"check_id": "X", "file_line_range": ["x"]}]}}',
            "has a check infra cannot read",
        ),
        (b"\xff\xfe{}", r"^checkov printed no JSON report"),
    ],
)
def test_a_report_checkov_never_writes_is_one_error(tmp_path, fake_checkov, printed, message):
    fake_checkov.write_bytes(printed)
    with pytest.raises(CheckToolError, match=message):
        run_checkov(FAKE_CHECKOV, tmp_path)


def test_a_report_with_stray_bytes_is_still_read(tmp_path, fake_checkov):
    fake_checkov.write_bytes(
        json.dumps({"results": {"failed_checks": [{**FAILED, "check_name": "X"}]}})
        .replace('"X"', '"caf\xff"')
        .encode("latin-1")
    )
    (result,) = run_checkov(FAKE_CHECKOV, tmp_path)
    assert result.check_name == "caf\N{REPLACEMENT CHARACTER}"


def test_a_garbage_report_on_the_command_line_is_exit_3_and_no_file(tmp_path, fake_checkov):
    fake_checkov.write_bytes(b'{"results": {"failed_checks": null, "skipped_checks": [{}]}}')
    spec = copy_example(tmp_path)
    out = tmp_path / "report.sarif"
    out.write_text("old")
    result = CliRunner().invoke(
        main, ["check", str(spec), "--checkov", str(FAKE_CHECKOV), "-o", str(out)]
    )
    assert result.exit_code == EXIT_TOOL
    assert result.stderr.startswith("infra check: checkov's report has a check infra cannot")
    assert "Traceback" not in result.output and out.read_text() == "old"


def test_a_waiver_the_compiler_already_makes_is_told_so(tmp_path, fake_checkov):
    waiver = "\nchecks:\n  waivers:\n    - {id: CKV_AWS_18, resource: LogsBucket, reason: Logs.}\n"
    spec = copy_example(tmp_path / "project", EXAMPLE_SPEC.read_text(encoding="utf-8") + waiver)
    fake_checkov.write_text(json.dumps({"results": {"skipped_checks": [SKIPPED]}}))
    report = run_check(spec, checkov=FAKE_CHECKOV)
    (finding,) = report.findings
    assert finding.waiver is not None and finding.waiver.reason == "It is the log bucket."
    (warning,) = report.warnings
    assert str(warning).endswith(
        "checks.waivers[0]: warning: waives nothing: the compiler already waives CKV_AWS_18 "
        "on LogsBucket (built-in); remove the waiver"
    )


def ended(pid: int, *, within: float = 10.0) -> bool:
    """Gone, or a zombie nobody reaped yet (it runs no more), within `within` seconds.

    A SIGKILL is delivered asynchronously, and a killed process closes its files (which
    ends our read of its output) before the kernel marks it a zombie: on a busy machine
    it can still show as running for a moment after `run_checkov` returned. A process
    that was not killed (`sleep 300`) is still running when the wait is over."""
    deadline = time.monotonic() + within
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        except FileNotFoundError:
            return True
        if "\nState:\tZ" in status:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_a_checkov_that_hangs_is_ended_with_its_children(tmp_path, fake_checkov, monkeypatch):
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("FAKE_CHECKOV_HANG", str(pid_file))
    monkeypatch.setattr("compiler.check.checkov.TIMEOUT_SECONDS", 2)
    with pytest.raises(CheckToolError, match=r"^checkov did not finish in 2 s$"):
        run_checkov(FAKE_CHECKOV, tmp_path)
    assert ended(int(pid_file.read_text()))
