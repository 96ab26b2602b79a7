"""`check.checkov`: finding the program, and reading its JSON report into results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.check.checkov import find_checkov, property_path, read_result
from compiler.errors import CheckToolError

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
