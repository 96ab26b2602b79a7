"""`infra diff --expected-changes FILE`: the prediction `deploy.sh plan --expect FILE`
compares each change set with (compiler/diff.py `expected_changes`)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from compiler.cli import EXIT_DIFFERENT, EXIT_SPEC, main
from compiler.diff import expected_changes
from tests.test_diff import (  # noqa: F401 (fixtures)
    LARGER_INSTANCES,
    MOVED_FIRST_REGION,
    cidr_diff,
    compiled,
    edited,
    instance_type_diff,
    project,
    write_spec,
)


def rows(text: str) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in text.splitlines() if not line.startswith("#")]


def test_a_changed_instance_type_is_one_modify_per_regional_stack(instance_type_diff):
    assert rows(expected_changes(instance_type_diff)) == [
        ("storefront-production-global", "-", "None"),
        ("storefront-production-us-east-1", "LaunchTemplate", "Modify"),
        ("storefront-production-us-west-2", "LaunchTemplate", "Modify"),
    ]  # no StackSet line: CloudFormation makes no change set for it


def test_replacements_are_named_replace(cidr_diff, compiled):
    found = rows(expected_changes(cidr_diff))
    template = json.loads((compiled / "regions/us-east-1.json").read_text())
    subnets = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"}
    east = {logical: action for stack, logical, action in found if stack.endswith("us-east-1")}
    assert {name: east[name] for name in subnets} == dict.fromkeys(subnets, "Replace")
    assert east["Vpc"] == "Replace"
    assert ("storefront-production-us-west-2", "-", "None") in found
    assert not any(stack.endswith("regional") for stack, _, _ in found)


def test_the_cli_writes_the_file_byte_identical_each_time(project, monkeypatch, tmp_path):
    monkeypatch.chdir(project)
    write_spec(project, edited(*LARGER_INSTANCES))
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    runner = CliRunner()
    result = runner.invoke(main, ["diff", "--expected-changes", str(first)])
    assert result.exit_code == EXIT_DIFFERENT, result.output
    assert "LaunchTemplate.LaunchTemplateData.InstanceType" in result.stdout  # the report too
    runner.invoke(main, ["diff", "--expected-changes", str(second)])
    assert first.read_bytes() == second.read_bytes()
    assert "storefront-production-us-east-1\tLaunchTemplate\tModify\n" in first.read_text()


def test_the_cli_will_not_overwrite_the_spec(project, monkeypatch):
    monkeypatch.chdir(project)
    spec = write_spec(project, edited(*MOVED_FIRST_REGION))
    before = spec.read_bytes()
    result = CliRunner().invoke(main, ["diff", "--expected-changes", str(spec)])
    assert result.exit_code == EXIT_SPEC
    assert "is the spec" in result.stderr
    assert spec.read_bytes() == before
