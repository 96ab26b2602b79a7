"""`infra diff`: the example compiled to disk, the spec changed, and what diff reports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import EXIT_DIFFERENT, EXIT_OK, EXIT_SPEC, EXIT_STATEFUL, main
from compiler.diff import (
    ABSENT,
    ValueChange,
    condition_values,
    create_only_paths,
    diff_against,
    expected_changes,
    human_lines,
    replacement_causes,
    resolve_conditions,
    stacks_on_disk,
    stateful_replacements,
    to_json,
    value_changes,
)
from compiler.pipeline import compile_spec
from compiler.template_regions import present_resources
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.conftest import REPO_ROOT
from tests.infra_command import run_infra

EXAMPLE_TEXT = EXAMPLE_SPEC.read_text(encoding="utf-8")
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"


def edited(old: str, new: str) -> str:
    assert EXAMPLE_TEXT.count(old) == 1, old
    return EXAMPLE_TEXT.replace(old, new)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """The example compiled to disk, as a project commits it; tests must not change it."""
    project = tmp_path_factory.mktemp("compiled")
    spec = copy_example(project)
    compile_spec(spec, project / "templates_out", lint=False)
    return project / "templates_out"


@pytest.fixture
def project(tmp_path, compiled) -> Path:
    """A project directory: the example spec and a copy of its compiled templates."""
    copy_example(tmp_path)
    shutil.copytree(compiled, tmp_path / "templates_out")
    return tmp_path


def write_spec(project: Path, text: str) -> Path:
    path = project / "infra.yaml"
    path.write_text(text, encoding="utf-8")
    return path


LARGER_INSTANCES = ("  instance_type: t3.small\n", "  instance_type: t3.large\n")
MOVED_FIRST_REGION = ("    cidr: 10.10.0.0/16\n", "    cidr: 10.30.0.0/16\n")


def diff_of_edited_example(directory: Path, compiled: Path, edit: tuple[str, str]):
    return diff_against(copy_example(directory, edited(*edit)), compiled)


@pytest.fixture(scope="module")
def instance_type_diff(tmp_path_factory, compiled):
    return diff_of_edited_example(tmp_path_factory.mktemp("larger"), compiled, LARGER_INSTANCES)


@pytest.fixture(scope="module")
def cidr_diff(tmp_path_factory, compiled):
    return diff_of_edited_example(tmp_path_factory.mktemp("cidr"), compiled, MOVED_FIRST_REGION)


# --- the two behaviours the issue asks for --------------------------------------------


def test_unchanged_spec_has_no_differences(compiled):
    diff = diff_against(EXAMPLE_SPEC, compiled)
    assert not diff.different
    assert {s.status for s in diff.stacks} == {"unchanged"}
    assert "no differences" in human_lines(diff)[-1]


def test_one_instance_type_changes_exactly_the_launch_template(instance_type_diff):
    assert instance_type_diff.different
    for stack in instance_type_diff.stacks:
        if stack.path in ("global.json", "health-alarms.json"):  # neither has instances
            assert stack.status == "unchanged"
            continue
        assert stack.status == "changed", stack.path
        assert stack.entries == []  # no output, parameter or mapping moved
        (resource,) = stack.resources
        assert resource.resource_type == LAUNCH_TEMPLATE
        assert resource.status == "changed"
        assert resource.changes == (
            ValueChange("Properties", "LaunchTemplateData.InstanceType", "t3.small", "t3.large"),
        )
        assert not resource.replaces  # a new launch template version, in place


def test_a_region_cidr_change_replaces_the_subnets(cidr_diff, compiled):
    stacks = {s.path: s for s in cidr_diff.stacks}
    assert stacks["regions/us-west-2.json"].status == "unchanged"
    east = stacks["regions/us-east-1.json"]
    template = json.loads((compiled / "regions/us-east-1.json").read_text())
    subnets = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"}
    replaced = {r.logical_id: r.replaced_by for r in east.resources if r.replaces}
    assert subnets and subnets <= set(replaced)
    assert all(replaced[name] == ("CidrBlock",) for name in subnets)
    assert replaced.keys() - subnets == {"Vpc"}  # the VPC's own CIDR is create-only too


def test_the_stackset_flags_subnets_whose_mapped_cidr_changed(cidr_diff):
    stackset = next(s for s in cidr_diff.stacks if s.path == "stackset.json")
    replaced = {r.logical_id: r.replaced_by for r in stackset.resources if r.replaces}
    # The template text of the subnets is unchanged (Fn::FindInMap); their value is not.
    assert replaced and all(causes == ("CidrBlock (us-east-1)",) for causes in replaced.values())
    assert any(e.section == "Mappings" for e in stackset.entries)


def test_human_report_marks_changes_and_replacements(cidr_diff, instance_type_diff):
    lines = human_lines(instance_type_diff)
    assert '    ~ LaunchTemplate.LaunchTemplateData.InstanceType: "t3.small" -> "t3.large"' in lines
    assert lines[0] == "= global.json (storefront-production-global)"
    assert lines[1].startswith("~ regions/us-east-1.json (")
    lines = human_lines(cidr_diff)
    assert "    ! PublicSubnet1 (AWS::EC2::Subnet) is replaced: CidrBlock changed" in lines
    assert any(line.startswith("    ~ PublicSubnet1.CidrBlock: ") for line in lines)
    assert "= regions/us-west-2.json (storefront-production-us-west-2)" in lines
    assert lines[-1].startswith("2 of 5 templates differ")


# --- stacks that appear or disappear ------------------------------------------------


def test_a_region_swapped_for_another_is_one_stack_added_and_one_removed(project):
    moved = EXAMPLE_TEXT.replace("us-west-2", "eu-west-1")  # the region and its certificate
    diff = diff_against(write_spec(project, moved), project / "templates_out")
    statuses = {s.path: (s.status, s.note) for s in diff.stacks}
    assert statuses["regions/eu-west-1.json"] == ("added", "not on disk")
    assert statuses["regions/us-west-2.json"] == ("removed", "on disk, no longer compiled")
    # The writer region's stack changes only where it names the other region: its
    # buckets' replication destinations.
    (primary,) = [s for s in diff.stacks if s.path == "regions/us-east-1.json"]
    assert primary.status == "changed"
    changed = {c.path for r in primary.resources for c in r.changes}
    assert changed and all("Region" in path for path in changed), changed
    assert not [r for r in primary.resources if r.replaces]
    assert [s.path for s in diff.stacks][-1] == "regions/us-west-2.json"  # removed ones last
    assert any("us-west-2 is removed" in hazard for hazard in diff.hazards)
    added = json.loads((project / "templates_out/regions/us-west-2.json").read_text())
    # the same resources, in another replica region: those its conditions create there
    count = len(present_resources(added, "us-west-2"))
    lines = human_lines(diff)
    assert (
        f"+ regions/eu-west-1.json (storefront-production-eu-west-1): not on disk; "
        f"a new stack of {count} resources"
    ) in lines
    assert (
        "- regions/us-west-2.json (storefront-production-us-west-2): on disk, no longer "
        f"compiled; the stack goes with its {count} resources"
    ) in lines
    stackset = next(s for s in diff.stacks if s.path == "stackset.json")
    assert [(i.region, i.status, i.resources) for i in stackset.instances] == [
        ("eu-west-1", "added", count),
        ("us-west-2", "removed", count),
    ]
    assert not any(r.replaces for s in diff.stacks for r in s.resources)


def test_without_a_manifest_every_json_file_is_a_template(project):
    out = project / "templates_out"
    (out / "manifest.json").unlink()
    (out / "regions" / "old-region.json").write_text("{}\n")
    assert {s.path for s in stacks_on_disk(out)} == {
        "global.json",
        "regions/us-east-1.json",
        "regions/us-west-2.json",
        "regions/old-region.json",
        "stackset.json",
        "health-alarms.json",
    }
    diff = diff_against(project / "infra.yaml", out)
    assert [(s.path, s.status) for s in diff.stacks if s.different] == [
        ("regions/old-region.json", "removed")
    ]


def test_missing_output_directory_means_every_stack_is_new(project):
    diff = diff_against(project / "infra.yaml", project / "nowhere")
    assert {s.status for s in diff.stacks} == {"added"}


def test_formatting_only_difference_is_reported(project):
    path = project / "templates_out" / "stackset.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    diff = diff_against(project / "infra.yaml", project / "templates_out")
    (stack,) = [s for s in diff.stacks if s.different]
    assert stack.note == "same JSON, different formatting"
    assert stack.resources == [] and stack.entries == []


def test_unreadable_template_on_disk_is_reported(project):
    (project / "templates_out" / "stackset.json").write_text("{not json")
    diff = diff_against(project / "infra.yaml", project / "templates_out")
    (stack,) = [s for s in diff.stacks if s.different]
    assert stack.note.startswith("on disk is not JSON")


def test_hand_edited_output_and_resource_changes(project):
    path = project / "templates_out" / "regions" / "us-west-2.json"
    template = json.loads(path.read_text())
    template["Resources"]["Extra"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    removed_id = next(n for n, r in template["Resources"].items() if r["Type"] == LAUNCH_TEMPLATE)
    del template["Resources"][removed_id]
    template["Outputs"]["VpcId"]["Description"] = "edited by hand"
    path.write_text(json.dumps(template))
    diff = diff_against(project / "infra.yaml", project / "templates_out")
    (stack,) = [s for s in diff.stacks if s.different]
    statuses = {(r.logical_id, r.status) for r in stack.resources}
    # The spec has the launch template and no Extra: diff reads disk as old, spec as new.
    assert statuses == {(removed_id, "added"), ("Extra", "removed")}
    (entry,) = stack.entries
    assert (entry.section, entry.name, entry.status) == ("Outputs", "VpcId", "changed")
    assert entry.changes[0].path == "Description"
    assert entry.changes[0].old == "edited by hand"


# --- the pieces ----------------------------------------------------------------------


def test_value_changes_by_key_and_position():
    old = {"A": 1, "B": {"C": [1, 2, 3]}, "Gone": True}
    new = {"A": 1, "B": {"C": [1, 5]}, "New": None}
    assert value_changes(old, new, "Properties") == [
        ValueChange("Properties", "B.C[1]", 2, 5),
        ValueChange("Properties", "B.C[2]", 3, ABSENT),
        ValueChange("Properties", "New", ABSENT, None),
        ValueChange("Properties", "Gone", True, ABSENT),
    ]
    assert value_changes({"Ref": "X"}, "literal", "Properties") == [
        ValueChange("Properties", "", {"Ref": "X"}, "literal")
    ]
    assert value_changes(1, True, "Properties") != []  # equal in Python, not in JSON


def test_tags_compare_by_key_not_position():
    old = {"Tags": [{"Key": "Environment", "Value": "prod"}, {"Key": "Team", "Value": "a"}]}
    new = {"Tags": [{"Key": "Name", "Value": "x"}, *old["Tags"][:1], {"Key": "Team", "Value": "b"}]}
    assert value_changes(old, new, "Properties") == [
        ValueChange("Properties", "Tags[Name]", ABSENT, "x"),
        ValueChange("Properties", "Tags[Team]", "a", "b"),
    ]


def test_create_only_paths_come_from_the_provider_schemas():
    assert ("CidrBlock",) in create_only_paths("AWS::EC2::Subnet", "us-east-1")
    assert ("LaunchTemplateName",) in create_only_paths(LAUNCH_TEMPLATE, "us-east-1")
    assert create_only_paths("AWS::No::Such", "us-east-1") == ()


def test_replacement_causes():
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": "10.0.0.0/24", "Tags": []}}
    retagged = {**subnet, "Properties": {**subnet["Properties"], "Tags": [{"Key": "a"}]}}
    moved = {**subnet, "Properties": {**subnet["Properties"], "CidrBlock": "10.0.1.0/24"}}
    assert replacement_causes(subnet, retagged, "us-east-1") == ()
    assert replacement_causes(subnet, moved, "us-east-1") == ("CidrBlock",)
    assert replacement_causes(subnet, {**subnet, "Type": "AWS::EC2::VPC"}, "us-east-1") == ("Type",)


def test_json_report_leaves_out_absent_sides(project):
    path = project / "templates_out" / "regions" / "us-west-2.json"
    template = json.loads(path.read_text())
    template["Outputs"]["Old"] = {"Value": "x"}
    path.write_text(json.dumps(template))
    report = to_json(diff_against(project / "infra.yaml", project / "templates_out"))
    (stack,) = [s for s in report["stacks"] if s["status"] != "unchanged"]
    assert stack["entries"] == [
        {"section": "Outputs", "name": "Old", "status": "removed", "changes": []}
    ]
    assert report["different"] is True


def test_diff_reads_replacement_data_without_importing_cfn_lint(project):
    # cfn-lint's import takes a second; diff needs only its bundled schema files.
    write_spec(project, edited(*MOVED_FIRST_REGION))
    code = (
        "import sys; from pathlib import Path; from compiler.diff import diff_against;"
        "d = diff_against(Path('infra.yaml'), Path('templates_out'));"
        "print(sum(r.replaces for s in d.stacks for r in s.resources), 'cfnlint' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True
    )
    replaced, imported = completed.stdout.split()
    assert int(replaced) > 0 and imported == "False", completed.stderr


# --- the command ---------------------------------------------------------------------


def test_cli_exit_codes_and_json(project, monkeypatch):
    monkeypatch.chdir(project)
    runner = CliRunner()
    same = runner.invoke(main, ["diff"])
    assert same.exit_code == EXIT_OK, same.output
    write_spec(project, edited(*LARGER_INSTANCES))
    different = runner.invoke(main, ["diff", "infra.yaml", "--against", "templates_out", "--json"])
    assert different.exit_code == EXIT_DIFFERENT
    report = json.loads(different.stdout)
    changes = [
        change
        for stack in report["stacks"]
        for resource in stack["resources"]
        for change in resource["changes"]
    ]
    assert (
        changes
        == [
            {
                "attribute": "Properties",
                "path": "LaunchTemplateData.InstanceType",
                "old": "t3.small",
                "new": "t3.large",
            }
        ]
        * 3
    )


def test_stateful_replacements_name_the_vpc_a_cidr_change_replaces(cidr_diff):
    # The regional stack's, and the StackSet's (its us-east-1 instance: a mapped CIDR).
    assert stateful_replacements(cidr_diff) == [
        "storefront-production-us-east-1: Vpc (AWS::EC2::VPC) replaced",
        "storefront-production-regional: Vpc (AWS::EC2::VPC) replaced",
    ]


def test_an_instance_type_change_replaces_nothing_stateful(instance_type_diff):
    assert stateful_replacements(instance_type_diff) == []


def test_fail_on_replace_exits_4_only_for_stateful_replacements(project, monkeypatch):
    monkeypatch.chdir(project)
    runner = CliRunner()
    write_spec(project, edited(*LARGER_INSTANCES))
    harmless = runner.invoke(main, ["diff", "--fail-on-replace"])
    assert harmless.exit_code == EXIT_DIFFERENT, harmless.output
    write_spec(project, edited(*MOVED_FIRST_REGION))
    stateful = runner.invoke(main, ["diff", "--fail-on-replace"])
    assert stateful.exit_code == EXIT_STATEFUL
    assert "Vpc (AWS::EC2::VPC) replaced" in stateful.stderr
    without_flag = runner.invoke(main, ["diff"])
    assert without_flag.exit_code == EXIT_DIFFERENT


def test_cli_spec_error_exits_2(project):
    spec = write_spec(project, edited("  nat_gateways: per_az", "  nat_gateways: double"))
    result = CliRunner().invoke(
        main, ["diff", str(spec), "--against", str(project / "templates_out")]
    )
    assert result.exit_code == EXIT_SPEC
    assert "network.nat_gateways" in result.stderr
    assert result.stdout == ""


def test_diff_as_a_process(project):
    same = run_infra("diff", cwd=project)
    assert same.returncode == EXIT_OK, same.stderr
    assert "no differences: 5 templates match templates_out" in same.stdout
    write_spec(project, edited(*MOVED_FIRST_REGION))
    changed = run_infra("diff", "--against", "templates_out", cwd=project)
    assert changed.returncode == EXIT_DIFFERENT
    assert "! PublicSubnet1 (AWS::EC2::Subnet) is replaced: CidrBlock changed" in changed.stdout


def test_committed_templates_match_the_example():
    """The CI check the README recommends, on this repository's own templates_out/."""
    diff = diff_against(EXAMPLE_SPEC, REPO_ROOT / "templates_out")
    assert not diff.different, "\n".join(human_lines(diff))


# --- failover: region conditions resolved ---------------------------------------------

FAILED_OVER = (
    ("  - name: us-east-1\n    cidr: 10.10.0.0/16\n  - name: us-west-2\n    cidr: 10.20.0.0/16\n"),
    ("  - name: us-west-2\n    cidr: 10.20.0.0/16\n  - name: us-east-1\n    cidr: 10.10.0.0/16\n"),
)


def test_condition_values_and_their_branches():
    template = {
        "Conditions": {
            "IsWriter": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
            "IsReplica": {"Fn::Not": [{"Condition": "IsWriter"}]},
            "Switched": {
                "Fn::And": [{"Condition": "IsWriter"}, {"Fn::Equals": [{"Ref": "P"}, "true"]}]
            },
        }
    }
    assert condition_values(template, "us-east-1") == {"IsWriter": True, "IsReplica": False}
    # false in either case where the writer condition is: And needs every part
    assert condition_values(template, "us-west-2") == {
        "IsWriter": False,
        "IsReplica": True,
        "Switched": False,
    }
    node = {
        "A": {"Fn::If": ["IsWriter", 1, {"Ref": "AWS::NoValue"}]},
        "B": [{"Fn::If": ["Switched", 2, 3]}],
    }
    assert resolve_conditions(node, {"IsWriter": False}) == {"B": [{"Fn::If": ["Switched", 2, 3]}]}
    assert resolve_conditions(node, {"IsWriter": True})["A"] == 1


def test_failing_over_replaces_the_old_writer_not_the_promoted_one(project):
    """The runbook's spec change: the promoted region first, database.promoted set. In the
    promoted region the database changes in place; the old writer is re-created as a
    replica of it (and said so), which is what CloudFormation will do."""
    # What `deploy.sh promote` prints: the replica's identifier, as the template set it.
    replica = json.loads((project / "templates_out/regions/us-west-2.json").read_text())
    identifier = replica["Resources"]["Database"]["Properties"]["DBInstanceIdentifier"]
    promoted = identifier["Fn::If"][2]
    text = edited(*FAILED_OVER).replace(
        "\ndatabase:\n",
        f"\ndatabase:\n  promoted:\n    identifier: {promoted}\n    source_region: us-east-1\n",
        1,
    )
    diff = diff_against(write_spec(project, text), project / "templates_out")
    by_path = {stack.path: stack for stack in diff.stacks}
    database = {
        path: next(r for r in by_path[path].resources if r.logical_id == "Database")
        for path in ("regions/us-west-2.json", "regions/us-east-1.json")
    }
    assert not database["regions/us-west-2.json"].replaces
    assert database["regions/us-east-1.json"].replaces
    assert "MasterUsername" in database["regions/us-east-1.json"].replaced_by
    assert any(h.startswith("warning: database.promoted:") for h in diff.hazards)
    assert not any(h.startswith("error:") for h in diff.hazards)


def test_reordering_regions_without_a_promotion_is_reported_as_an_error(project):
    diff = diff_against(write_spec(project, edited(*FAILED_OVER)), project / "templates_out")
    errors = [h for h in diff.hazards if h.startswith("error: regions:")]
    assert errors and "deploy.sh promote us-west-2" in errors[0]
    assert f"! {errors[0]}" in human_lines(diff)
    assert to_json(diff)["hazards"] == diff.hazards


# --- --expected-changes: the prediction deploy.sh plan --expect compares with ------------


def rows(text: str) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in text.splitlines() if not line.startswith("#")]


def test_a_changed_instance_type_is_one_modify_per_regional_stack(instance_type_diff):
    assert rows(expected_changes(instance_type_diff)) == [
        ("storefront-production-global", "-", "None"),
        ("storefront-production-us-east-1", "LaunchTemplate", "Modify"),
        ("storefront-production-us-west-2", "LaunchTemplate", "Modify"),
        ("storefront-production-health-alarms", "-", "None"),  # us-west-2's check, unchanged
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
