"""`infra diff` when regions come and go (the region part of diff's tests): stacks and
StackSet instances added or removed with their resources, no phantom replacements, and
resources judged by their conditions in each region. Through the installed command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from compiler.cli import EXIT_DIFFERENT
from compiler.pipeline import compile_spec
from compiler.template_regions import present_resources
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.conftest import REPO_ROOT
from tests.infra_command import run_infra

THREE_REGIONS = REPO_ROOT / "examples" / "latency-three-regions" / "infra.yaml"
THIRD_REGION = "  - name: ap-southeast-1\n    cidr: 10.32.0.0/16\n"
THREE_TEXT = THREE_REGIONS.read_text(encoding="utf-8")
assert THREE_TEXT.count(THIRD_REGION) == 1
TWO_TEXT = THREE_TEXT.replace(THIRD_REGION, "")


def compiled_project(directory: Path, text: str) -> Path:
    """A project whose templates_out/ holds `text` compiled; returns the spec."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / "infra.yaml"
    spec.write_text(text, encoding="utf-8")
    compile_spec(spec, directory / "templates_out", lint=False)
    return spec


@pytest.fixture(scope="module")
def both_compiled(tmp_path_factory) -> dict[str, Path]:
    """The example compiled with its three regions and with two, each once."""
    root = tmp_path_factory.mktemp("regions")
    return {
        "three": compiled_project(root / "three", THREE_TEXT).parent,
        "two": compiled_project(root / "two", TWO_TEXT).parent,
    }


def third_region_resources(three: Path) -> int:
    template = json.loads((three / "templates_out/regions/ap-southeast-1.json").read_text())
    # what the region creates: the resources whose condition holds there
    return len(present_resources(template, "ap-southeast-1"))


def project_with(tmp_path: Path, compiled: Path, text: str) -> Path:
    """`compiled`'s templates, with the spec replaced by `text`."""
    shutil.copytree(compiled / "templates_out", tmp_path / "templates_out")
    (tmp_path / "infra.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_region_added_is_a_new_stack_and_a_new_stack_instance(tmp_path, both_compiled):
    count = third_region_resources(both_compiled["three"])
    project = project_with(tmp_path, both_compiled["two"], THREE_TEXT)

    diff = run_infra("diff", cwd=project)

    assert diff.returncode == EXIT_DIFFERENT, diff.stderr
    assert "Traceback" not in diff.stderr
    lines = diff.stdout.splitlines()
    assert (
        "+ regions/ap-southeast-1.json (atlas-production-ap-southeast-1): not on disk; "
        f"a new stack of {count} resources"
    ) in lines
    assert f"    + ap-southeast-1: new stack instance, {count} resources" in lines
    assert "is replaced" not in diff.stdout
    # The existing regions' stacks change one thing: the writer's master secret is copied
    # to the new region too (a replica region's stack does not create that secret).
    at = lines.index("~ regions/us-east-1.json (atlas-production-us-east-1)")
    assert lines[at + 1].startswith(
        "    ~ DatabaseMasterSecret.ReplicaRegions.Fn::If[1][1]: (absent) -> "
        '{"Region": "ap-southeast-1"'
    )
    at = lines.index("~ regions/eu-central-1.json (atlas-production-eu-central-1)")
    assert lines[at + 1].startswith("    · DatabaseMasterSecret (AWS::SecretsManager::Secret): ")
    # us-east-1's health-alarms stack alarms on the new region's health check too.
    assert health_alarm_changes(project) == [("HealthCheckApSoutheast1Alarm", "added")]
    assert lines[-1] == (
        "6 of 6 templates differ from templates_out: 1 stack added, 1 StackSet instance "
        f"added; {2 * count + 1} resources added, 0 removed, "
        f"{count_changed(project)} changed (0 replaced)"
    )


def health_alarm_changes(project: Path) -> list[tuple[str, str]]:
    report = json.loads(run_infra("diff", "--json", cwd=project).stdout)
    (stack,) = [s for s in report["stacks"] if s["template"] == "health-alarms.json"]
    return [(r["logical_id"], r["status"]) for r in stack["resources"]]


def count_changed(project: Path) -> int:
    """Changed resources, from the JSON report: the global stack's deploy roles, which now
    name the new region, and the writer's master secret, copied there too."""
    report = json.loads(run_infra("diff", "--json", cwd=project).stdout)
    changed = [
        (stack["template"], resource["logical_id"])
        for stack in report["stacks"]
        for resource in stack["resources"]
        if resource["status"] == "changed"
    ]
    assert changed and {template for template, _ in changed} == {
        "global.json",
        "regions/us-east-1.json",
        "stackset.json",
    }
    assert [resource for template, resource in changed if template != "global.json"] == [
        "DatabaseMasterSecret",
        "DatabaseMasterSecret",
    ]
    return len(changed)


def test_a_region_removed_is_a_stack_and_a_stack_instance_deleted(tmp_path, both_compiled):
    count = third_region_resources(both_compiled["three"])
    project = project_with(tmp_path, both_compiled["three"], TWO_TEXT)

    diff = run_infra("diff", cwd=project)

    assert diff.returncode == EXIT_DIFFERENT, diff.stderr
    lines = diff.stdout.splitlines()
    assert (
        "- regions/ap-southeast-1.json (atlas-production-ap-southeast-1): on disk, no longer "
        f"compiled; the stack goes with its {count} resources"
    ) in lines
    assert f"    - ap-southeast-1: stack instance deleted, {count} resources" in lines
    assert "is replaced" not in diff.stdout
    assert "1 stack removed, 1 StackSet instance removed; 0 resources added, " in lines[-1]
    assert health_alarm_changes(project) == [("HealthCheckApSoutheast1Alarm", "removed")]
    assert f" {2 * count + 1} removed, " in lines[-1]
    assert lines[-1].endswith("(0 replaced)")

    report = json.loads(run_infra("diff", "--json", cwd=project).stdout)
    stacks = {stack["template"]: stack for stack in report["stacks"]}
    assert stacks["stackset.json"]["instances"] == [
        {"region": "ap-southeast-1", "status": "removed", "resources": count}
    ]
    # The kept regions see one change: the writer's secret is no longer copied there.
    changes = [(r["logical_id"], r["status"]) for r in stacks["stackset.json"]["resources"]]
    assert changes == [("DatabaseMasterSecret", "changed")]
    removed = stacks["regions/ap-southeast-1.json"]["resources"]
    assert len(removed) == count and {r["status"] for r in removed} == {"removed"}


# --- conditions ----------------------------------------------------------------------

FAILOVER = "  routing: failover "
EU_WEST = "  - name: eu-west-1\n    cidr: 10.30.0.0/16\n"


def with_a_third_region(text: str) -> str:
    """The root example with eu-west-1, which has no certificate ARN: its stack creates a
    certificate, behind a condition that is false in the two regions that have one."""
    assert text.count(FAILOVER) == 1  # failover routing takes two regions; latency any
    text = text.replace(FAILOVER, "  routing: latency  ")
    second = "    cidr: 10.20.0.0/16\n"
    assert text.count(second) == 1
    return text.replace(second, second + EU_WEST)


def test_a_resource_behind_a_false_condition_is_not_added(tmp_path):
    spec = copy_example(tmp_path)
    compile_spec(spec, tmp_path / "templates_out", lint=False)
    spec.write_text(with_a_third_region(EXAMPLE_SPEC.read_text(encoding="utf-8")))

    diff = run_infra("diff", "--json", cwd=tmp_path)

    assert diff.returncode == EXIT_DIFFERENT, diff.stderr
    stacks = {stack["template"]: stack for stack in json.loads(diff.stdout)["stacks"]}
    for path, regions in [
        ("regions/us-east-1.json", ["us-east-1"]),
        ("regions/us-west-2.json", ["us-west-2"]),
        ("stackset.json", ["us-east-1", "us-west-2"]),  # the instances it had
    ]:
        certificate = next(r for r in stacks[path]["resources"] if r["logical_id"] == "Certificate")
        assert certificate["status"] == "inactive", path
        assert certificate["condition"] == "CreateCertificate"
        assert certificate["inactive_in"] == regions
        assert not any(r["status"] == "added" for r in stacks[path]["resources"]), path
    # In the new region the condition holds: its certificate is one of its resources.
    new_stack = stacks["regions/eu-west-1.json"]["resources"]
    assert {"logical_id": "Certificate", "status": "added"}.items() <= next(
        r for r in new_stack if r["logical_id"] == "Certificate"
    ).items()
    (instance,) = stacks["stackset.json"]["instances"]
    assert instance == {"region": "eu-west-1", "status": "added", "resources": len(new_stack)}

    human = run_infra("diff", cwd=tmp_path)
    assert (
        "    · Certificate (AWS::CertificateManager::Certificate): in the template, not "
        "created: condition CreateCertificate is false in us-east-1"
    ) in human.stdout.splitlines()
    # and us-east-1's health-alarms stack one alarm on the new region's health check
    assert stacks["health-alarms.json"]["resources"] == [
        {**stacks["health-alarms.json"]["resources"][0], "logical_id": "HealthCheckEuWest1Alarm"}
    ]
    assert f"; {2 * len(new_stack) + 1} resources added, 0 removed, " in human.stdout
