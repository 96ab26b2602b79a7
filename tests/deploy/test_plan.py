"""`deploy.sh plan`, `apply` and `plan --discard` against moto_server, on stacks the
deploy tests' own way deployed (`test_deploy_script.prepare_output_dir`, the same moto
adaptations, all on the test side): moto makes, describes, executes and deletes change
sets, and answers an unchanged template with the FAILED "didn't contain changes" change
set CloudFormation gives. What moto does not give: `Replacement` (every Modify reads as
in place) and the change set's events (it executes at once); those paths are tested
against the stand-in `aws` in tests/test_deploy_changeset.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from .aws_cli import AwsCli, stack_resources
from .emulator import MotoServer
from .test_deploy_script import (
    OutputDir,
    deploy_global_and_record_outputs,
    prepare_output_dir,
)

if TYPE_CHECKING:
    from .conftest import CompiledSpec

pytestmark = pytest.mark.deploy

PREFIX = "infra-plan-"
PROBE = "PlanProbeTopic"


@pytest.fixture(scope="module")
def deployed(
    moto_server: MotoServer,
    aws: AwsCli,
    compiled: CompiledSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> OutputDir:
    moto_server.reset()
    output_dir = prepare_output_dir(
        aws, compiled, tmp_path_factory.mktemp("plan") / "templates_out", stack_set=False
    )
    deploy_global_and_record_outputs(output_dir, aws, moto_server)
    output_dir.run_ok(moto_server=moto_server)
    return output_dir


def global_entry(output_dir: OutputDir) -> dict:
    (entry,) = output_dir.entries("global")
    return entry


def plan_change_sets(aws: AwsCli, stack: str, region: str) -> list[str]:
    summaries = aws.run_json(
        "cloudformation", "list-change-sets", "--stack-name", stack, region=region
    )["Summaries"]
    return [
        s["ChangeSetName"]
        for s in summaries
        if s["StackName"] == stack and s["ChangeSetName"].startswith(PREFIX)
    ]


def add_probe_topic(output_dir: OutputDir, name: str = PROBE) -> None:
    """A spec change, as the global template sees it: one SNS topic more."""
    path = output_dir.path / global_entry(output_dir)["template"]
    template = json.loads(path.read_text(encoding="utf-8"))
    template["Resources"][name] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    path.write_text(json.dumps(template, separators=(",", ":")), encoding="utf-8")


def discard_parameter_only_change_sets(aws: AwsCli, output_dir: OutputDir) -> None:
    """Moto gap: the regional stacks were deployed with `deploy`, which passes ImageId as
    UsePreviousValue, and moto compares a change set's parameters with the stack's as given,
    so it answers a change set without ImageId (the template default) with a change set of
    no resource changes where CloudFormation says "didn't contain changes"; and it cannot
    update a stack with an SSM-typed parameter (see test_deploy_script). Those change sets
    are deleted here, before apply, so that apply executes the global stack's alone."""
    for entry in output_dir.entries("region"):
        for change_set in plan_change_sets(aws, entry["stack_name"], entry["region"]):
            aws.run(
                "cloudformation", "delete-change-set", "--stack-name", entry["stack_name"],
                "--change-set-name", change_set, region=entry["region"],
            )  # fmt: skip


def test_plan_lists_exactly_the_change_and_apply_executes_it(deployed, aws, moto_server):
    entry = global_entry(deployed)
    stack, region = entry["stack_name"], entry["region"]
    bootstrap = deployed.manifest["bootstrap"]["stack_name"]
    unchanged = deployed.run_ok("plan", moto_server=moto_server)
    assert f"= {stack} ({region}): no changes" in unchanged
    assert f"= {bootstrap} ({region}): no changes" in unchanged
    (west,) = [e for e in deployed.entries("region") if e["region"] != region]
    assert f"= {west['stack_name']} ({west['region']}): no changes" in unchanged
    assert plan_change_sets(aws, stack, region) == []  # a "no changes" one is deleted

    add_probe_topic(deployed)
    expected = deployed.path.parent / "expected.txt"
    expected.write_text(
        f"{stack}\t{PROBE}\tAdd\n{west['stack_name']}\tSomethingElse\tRemove\n",
        encoding="utf-8",
    )
    report = deployed.run_ok("plan", "--expect", str(expected), moto_server=moto_server)
    assert f"~ {stack} ({region}): 1 added, 0 modified (0 replaced), 0 removed" in report
    assert f"    + {PROBE} (AWS::SNS::Topic)" in report
    assert "≠ SomethingElse: infra diff Remove, CloudFormation no change" in report
    assert "1 place(s) where CloudFormation and infra diff's prediction" in report
    assert len(plan_change_sets(aws, stack, region)) == 1
    assert PROBE not in stack_resources(aws, stack, region)  # nothing executed

    discard_parameter_only_change_sets(aws, deployed)
    applied = deployed.run_ok("apply", moto_server=moto_server)
    assert f"aws cloudformation execute-change-set --region {region}" in applied
    assert f"aws cloudformation update-termination-protection --region {region}" in applied
    assert f"{west['stack_name']} ({west['region']}): no planned change set" in applied
    assert PROBE in stack_resources(aws, stack, region)
    # CloudFormation removes a stack's change sets once it is updated; moto keeps the
    # executed one, marked as such (and the next plan deletes it before making its own).
    (executed,) = plan_change_sets(aws, stack, region)
    described = aws.run_json(
        "cloudformation", "describe-change-set", "--stack-name", stack,
        "--change-set-name", executed, region=region,
    )  # fmt: skip
    assert described["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_apply_refuses_a_template_changed_since_the_plan(deployed, aws, moto_server):
    entry = global_entry(deployed)
    stack, region = entry["stack_name"], entry["region"]
    add_probe_topic(deployed, "PlanProbeTopicTwo")
    deployed.run_ok("plan", moto_server=moto_server)
    add_probe_topic(deployed, "PlanProbeTopicThree")
    result = deployed.run("apply", "--no-preflight")
    assert result.returncode == 1
    assert f"the template or the values of {stack} ({region}) changed since the plan" in (
        result.stderr
    )
    assert "PlanProbeTopicTwo" not in stack_resources(aws, stack, region)
    assert len(plan_change_sets(aws, stack, region)) == 1
    deployed.run_ok("plan", "--discard", moto_server=moto_server)
    for planned in [entry, *deployed.entries("region")]:
        assert plan_change_sets(aws, planned["stack_name"], planned["region"]) == []
