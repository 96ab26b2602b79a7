"""The example's whole lifecycle on the emulator, as an operator would drive it with the
AWS CLI: deploy, change a size in the spec, recompile, review the change set, execute
it, and tear every stack down.

Scope: the global stack and the primary region's stack. A second region would run the
same templates through the same builders, with only literals (CIDRs, zones) different,
and would double the runtime; test_regional_stack.py deploys every region already.

Where moto_server is not CloudFormation, the test asserts only what CloudFormation
guarantees too, and says so at each adaptation:
- moto does not roll back a failed create and keeps what it created: the emulator is
  reset before the lifecycle starts, so nothing from another test can be in the way.
- moto leaves stack outputs empty after `deploy` (it deploys through change sets): the
  hosted zone ID the regional stack needs is read from the global stack's resources.
- moto cannot take every valid template as it is: `moto_shim` rewrites a copy, with the
  same rewrites for the old and the new template, so the two differ exactly where the
  compiled templates do.
- moto lists in a change set the resources whose template entry changed; CloudFormation
  lists those too, and in addition those that reference a replaced resource. The size
  changed here (the Auto Scaling group's MaxSize) replaces nothing, so the lists agree.
- moto applies an Auto Scaling group update by deleting and recreating the group (AWS
  updates it in place): the group is looked up again after the update, never by the
  physical ID it had before.
- `--role-arn` (the execution role from the global stack) is not passed: moto assumes
  no roles, so it would change nothing there.
- The change set leaves the SSM-typed ImageId parameter at its default rather than
  `UsePreviousValue` (moto would look up the resolved AMI ID as a parameter name);
  on AWS the two resolve the same public parameter.
- moto cannot delete CloudFormation route tables nor detach managed policies, and then
  fails the whole `delete-stack`: `release_what_moto_cannot_delete` does that first
  through the API. The stacks' deletion itself is still CloudFormation's (moto's) work,
  and the assertions are CloudFormation's own: DELETE_COMPLETE, and no longer described.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from compiler.builders.database import WRITER_SECRET_PARAMETER
from compiler.diff import diff_template
from compiler.pipeline import CompileResult, compile_spec

from .aws_cli import (
    AwsCli,
    AwsCliError,
    availability_zones,
    create_bucket,
    deploy_stack,
    failed_events,
    stack_resources,
    stack_status,
)
from .conftest import EXAMPLE_SPEC
from .emulator import MotoServer
from .moto_shim import create_stand_ins, rewrite_for_moto

pytestmark = pytest.mark.deploy

# CloudFormation's change-set actions for the statuses of `compiler.diff`.
CHANGE_SET_ACTIONS = {"added": "Add", "removed": "Remove", "changed": "Modify"}
MAX_SIZE_INCREASE = 2


def changed_spec(spec_path: Path, directory: Path) -> Path:
    """A copy of the spec with `compute.max_size` raised, the files it names (task
    sources, user data) copied beside it."""
    data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    data["compute"]["max_size"] = data["compute"].get("max_size", 10) + MAX_SIZE_INCREASE
    copy = directory / "infra.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    named = [task["source"] for task in data.get("scheduled_tasks", [])]
    named += [data["compute"]["user_data"]] if data["compute"].get("user_data") else []
    for name in named:
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_path.parent / name, target)
    return copy


def expected_changes(old: dict, new: dict, region: str) -> set[tuple[str, str]]:
    """(logical ID, change-set action) of every resource whose template entry differs."""
    resources, _ = diff_template(old, new, region)
    return {(change.logical_id, CHANGE_SET_ACTIONS[change.status]) for change in resources}


@dataclass(frozen=True)
class Compiled:
    result: CompileResult
    out_dir: Path

    def template(self, kind: str, region: str | None = None) -> tuple[str, dict]:
        """(stack name, template) of the stack of this kind (and region)."""
        stack = next(
            s
            for s in self.result.stacks
            if s.kind == kind and (region is None or s.region == region)
        )
        return stack.stack_name, json.loads((self.out_dir / stack.path).read_text("utf-8"))


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory: pytest.TempPathFactory) -> tuple[Compiled, Compiled]:
    base = tmp_path_factory.mktemp("lifecycle")
    (base / "spec").mkdir()
    changed = changed_spec(EXAMPLE_SPEC, base / "spec")
    return (
        Compiled(compile_spec(EXAMPLE_SPEC, base / "before", lint=False), base / "before"),
        Compiled(compile_spec(changed, base / "after", lint=False), base / "after"),
    )


def test_the_spec_change_touches_only_the_auto_scaling_group(before_and_after):
    """The expectation the change set is held to, itself checked: raising max_size is a
    change of one property of one resource, in every regional template."""
    before, after = before_and_after
    assert after.result.spec.compute.max_size == (
        before.result.spec.compute.max_size + MAX_SIZE_INCREASE
    )
    for region in (r.name for r in before.result.spec.regions):
        _, old = before.template("region", region)
        _, new = after.template("region", region)
        assert expected_changes(old, new, region) == {("AutoScalingGroup", "Modify")}
        resources, _ = diff_template(old, new, region)
        assert [(c.path, c.old, c.new) for c in resources[0].changes] == [
            ("MaxSize", old["Resources"]["AutoScalingGroup"]["Properties"]["MaxSize"],
             new["Resources"]["AutoScalingGroup"]["Properties"]["MaxSize"]),
        ]  # fmt: skip
    _, old_global = before.template("global")
    _, new_global = after.template("global")
    assert old_global == new_global


class Emulator:
    """The lifecycle's calls to the emulator, each failing with the stack's failed events
    and moto's last traceback, so a failure says what went wrong where."""

    def __init__(self, aws: AwsCli, moto_server: MotoServer, work: Path):
        self.aws, self.moto_server, self.work = aws, moto_server, work

    def fail(self, step: str, error: AwsCliError, stack_name: str, region: str):
        try:
            failures = "\n".join(failed_events(self.aws, stack_name, region))
        except AwsCliError:
            failures = "(no stack events)"
        pytest.fail(
            f"{step} failed: {error}\nfailed resources:\n{failures}\n"
            f"moto_server's last traceback:\n{self.moto_server.last_traceback()}",
            pytrace=False,
        )

    def write(self, name: str, template: dict) -> Path:
        path = self.work / name
        path.write_text(json.dumps(template, indent=2), encoding="utf-8")
        return path

    def deploy(self, template: dict, stack_name: str, region: str, **options) -> None:
        try:
            deploy_stack(
                self.aws, self.write(f"{stack_name}.json", template),
                stack_name=stack_name, region=region, **options,
            )  # fmt: skip
        except AwsCliError as error:
            self.fail(f"deploying {stack_name}", error, stack_name, region)


def test_deploy_change_and_tear_down(
    before_and_after, aws: AwsCli, moto_server: MotoServer, tmp_path: Path
):
    before, after = before_and_after
    spec = before.result.spec
    region = spec.primary_region
    emulator = Emulator(aws, moto_server, tmp_path)
    moto_server.reset()  # moto keeps what earlier tests (and failed creates) left behind

    # --- deploy: the global stack, then the region's stack with the zone it created ----
    global_name, global_template = before.template("global")
    zones = availability_zones(aws, region)
    no_gaps = {"availability_zones": zones, "certificate_arns": {}, "parameter_group_names": {}}
    # Templates go through S3, as deploy.sh sends those over CloudFormation's body limit.
    bucket = f"lifecycle-templates-{region}"
    create_bucket(aws, bucket, region)
    emulator.deploy(
        rewrite_for_moto(global_template, **no_gaps),
        global_name,
        region,
        s3_bucket=bucket,
        capabilities=("CAPABILITY_NAMED_IAM",),
    )
    assert stack_status(aws, global_name, region) == "CREATE_COMPLETE"
    hosted_zone_id = stack_resources(aws, global_name, region)["HostedZone"]["PhysicalResourceId"]

    stack_name, old_template = before.template("region", region)
    _, new_template = after.template("region", region)
    # What the shim points at is made once and shared by both templates.
    gaps = {
        "availability_zones": zones,
        **create_stand_ins(aws, old_template, region=region, stack_name=stack_name),
    }
    # The writer region names its own database secret: given nothing, as deploy.sh does.
    takes_writer_secret = WRITER_SECRET_PARAMETER in old_template.get("Parameters", {})
    writer_secret = {WRITER_SECRET_PARAMETER: ""} if takes_writer_secret else {}
    emulator.deploy(
        rewrite_for_moto(old_template, **gaps),
        stack_name,
        region,
        s3_bucket=bucket,
        parameter_overrides={"HostedZoneId": hosted_zone_id, **writer_secret},
    )
    assert stack_status(aws, stack_name, region) == "CREATE_COMPLETE"
    group_name = stack_resources(aws, stack_name, region)["AutoScalingGroup"]["PhysicalResourceId"]
    assert auto_scaling_group(aws, group_name, region)["MaxSize"] == spec.compute.max_size

    # --- change: a change set from the recompiled template, reviewed, then executed ------
    key = "lifecycle/after.json"
    aws.run(
        "s3api", "put-object", "--bucket", bucket, "--key", key,
        "--body", str(emulator.write("after.json", rewrite_for_moto(new_template, **gaps))),
        region=region,
    )  # fmt: skip
    try:
        aws.run(
            "cloudformation", "create-change-set",
            "--stack-name", stack_name,
            "--change-set-name", "raise-max-size",
            "--change-set-type", "UPDATE",
            "--template-url", f"{aws.s3_endpoint_url}/{bucket}/{key}",
            # ImageId is left out, so its default (the SSM path) is resolved anew, as
            # `deploy` does. (moto gap: UsePreviousValue on an SSM-typed parameter gives
            # the resolved AMI ID, which moto then looks up as a parameter name.)
            "--parameters", "ParameterKey=HostedZoneId,UsePreviousValue=true",
            *[f"ParameterKey={name},UsePreviousValue=true" for name in writer_secret],
            "--capabilities", "CAPABILITY_IAM",
            region=region,
        )  # fmt: skip
        aws.run(
            "cloudformation", "wait", "change-set-create-complete",
            "--stack-name", stack_name, "--change-set-name", "raise-max-size",
            region=region,
        )  # fmt: skip
    except AwsCliError as error:
        emulator.fail("create-change-set", error, stack_name, region)
    change_set = aws.run_json(
        "cloudformation", "describe-change-set",
        "--stack-name", stack_name, "--change-set-name", "raise-max-size",
        region=region,
    )  # fmt: skip
    listed = {
        (c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Action"])
        for c in change_set["Changes"]
    }
    assert listed == expected_changes(old_template, new_template, region)
    assert stack_status(aws, stack_name, region) == "CREATE_COMPLETE"  # nothing applied yet

    try:
        aws.run(
            "cloudformation", "execute-change-set",
            "--stack-name", stack_name, "--change-set-name", "raise-max-size",
            region=region,
        )  # fmt: skip
        aws.run("cloudformation", "wait", "stack-update-complete", "--stack-name", stack_name,
                region=region)  # fmt: skip
    except AwsCliError as error:
        emulator.fail("execute-change-set", error, stack_name, region)
    assert stack_status(aws, stack_name, region) == "UPDATE_COMPLETE"
    group_name = stack_resources(aws, stack_name, region)["AutoScalingGroup"]["PhysicalResourceId"]
    assert (
        auto_scaling_group(aws, group_name, region)["MaxSize"] == after.result.spec.compute.max_size
    )

    # --- tear down: the region's stack, then the global stack it depends on -------------
    release_what_moto_cannot_delete(aws, stack_name, region)
    release_what_moto_cannot_delete(aws, global_name, region)
    for name in (stack_name, global_name):
        try:
            aws.run("cloudformation", "delete-stack", "--stack-name", name, region=region)
            aws.run("cloudformation", "wait", "stack-delete-complete", "--stack-name", name,
                    region=region)  # fmt: skip
        except AwsCliError as error:
            emulator.fail(f"deleting {name}", error, name, region)
        with pytest.raises(AwsCliError, match="does not exist"):
            aws.run("cloudformation", "describe-stacks", "--stack-name", name, region=region)
    deleted = aws.run_json(
        "cloudformation", "list-stacks", "--stack-status-filter", "DELETE_COMPLETE", region=region
    )["StackSummaries"]  # fmt: skip
    assert {stack_name, global_name} <= {s["StackName"] for s in deleted}
    alive = aws.run_json("cloudformation", "describe-stacks", region=region)["Stacks"]
    assert not {stack_name, global_name} & {s["StackName"] for s in alive}


def auto_scaling_group(aws: AwsCli, name: str, region: str) -> dict:
    groups = aws.run_json(
        "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name,
        region=region,
    )["AutoScalingGroups"]  # fmt: skip
    assert len(groups) == 1, f"expected one Auto Scaling group named {name}, got {len(groups)}"
    return groups[0]


# --- what moto cannot delete by itself ------------------------------------------------
# Released through the API before `delete-stack`, which CloudFormation would do itself.
# boto3 rather than the AWS CLI: these calls stand in for the emulator, not for the
# operator, and one CLI process per call would cost a second each.


def emulator_client(aws: AwsCli, service: str, region: str):
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


def release_what_moto_cannot_delete(aws: AwsCli, stack_name: str, region: str) -> None:
    """Moto gaps on delete, each of which fails the whole `delete-stack`:
    - `AWS::EC2::RouteTable` has no delete in moto, and a VPC with route tables left
      cannot be deleted (DependencyViolation): disassociate and delete them first.
    - `AWS::IAM::ManagedPolicy` is neither detached nor deleted by moto, and a role with
      a policy attached cannot be deleted (DeleteConflict): detach them first.
    """
    resources = stack_resources(aws, stack_name, region)
    by_type: dict[str, list[str]] = {}
    for resource in resources.values():
        if "PhysicalResourceId" not in resource:  # accepted by moto, never created
            continue
        by_type.setdefault(resource["ResourceType"], []).append(resource["PhysicalResourceId"])
    ec2 = emulator_client(aws, "ec2", region)
    route_tables = by_type.get("AWS::EC2::RouteTable", [])
    if route_tables:
        for table in ec2.describe_route_tables(RouteTableIds=route_tables)["RouteTables"]:
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    ec2.disassociate_route_table(
                        AssociationId=association["RouteTableAssociationId"]
                    )
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    iam = emulator_client(aws, "iam", region)
    for role in by_type.get("AWS::IAM::Role", []):
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        for policy in attached:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
