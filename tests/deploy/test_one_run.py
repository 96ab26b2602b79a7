"""Issue #14's "what it must show", on the local emulator, with deploy.sh exactly as it
ships and one run each time (no arguments, no DEPLOY_* or other variable of the product:
only the AWS CLI's endpoint and dummy credentials):

- from an empty emulator one `bash deploy.sh` deploys a three-region spec: each region's
  bootstrap stack, the global stack, every region, the writer region's replication pass
  and the health-check alarms (`TestOneRun`);
- run again it is a no-op: every stack up to date, no change set executed, nothing
  created or deleted;
- `deploy.sh plan` after a spec change (the instance type, recompiled) lists exactly
  that change;
- a resource that fails on create stops the run with that resource's logical ID and
  reason, before the stacks after it; the next run deletes the ROLLBACK_COMPLETE stack,
  creates it again and goes on (`test_a_failed_create_stops_the_run_and_the_next_recovers`).

The spec is the example infra.yaml with a third region and latency routing (failover
routing serves two regions). examples/latency-three-regions cannot run in one go on any
emulator: it has no certificate ARNs, so the global stack creates the hosted zone and the
run stops for DNS delegation by design until the public DNS answers with the zone's name
servers, which no local emulator can make it do.

The emulator is moto as tests/deploy/moto_launcher.py patches it in its own process
(stack outputs after a change set, unchanged deploys answered as CloudFormation does,
rollback of a failed create, termination protection); the templates are rewritten on a
copy by moto_shim as for the other deploy tests. No stand-in `aws` is on PATH: the `aws`
first there is this virtualenv's AWS CLI, started warm (warm_aws.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from compiler.builders.database import SECRET_ARN_OUTPUT

from .aws_cli import stack_resources
from .one_run import SEED, SEED_REASON, THIRD_REGION, Deployment, three_region_spec
from .test_deploy_script import assert_a_record_and_health_check_per_region, commands

pytestmark = pytest.mark.deploy


def snapshot(deployment: Deployment) -> dict[tuple[str, str], tuple]:
    """Per stack: its status, its events (IDs) and its resources' physical IDs. Any change
    set executed adds events; anything created or deleted changes the resources."""
    found = {}
    for stack, region in deployment.stacks():
        cloudformation = deployment.client("cloudformation", region)
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        found[(stack, region)] = (
            described["StackStatus"],
            sorted(e["EventId"] for e in events),
            {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources},
        )
    return found


@dataclass
class Runs:
    deployment: Deployment
    first: str
    before_second: dict
    second: str
    after_second: dict


@pytest.fixture(scope="module")
def runs(patched_server, launcher_aws, tmp_path_factory) -> Runs:
    """From an empty emulator: one run, then the same run again."""
    patched_server.reset()
    deployment = Deployment(launcher_aws, patched_server, tmp_path_factory.mktemp("one-run"))
    deployment.compile("v1", three_region_spec())
    first, _ = deployment.run_ok()
    before = snapshot(deployment)
    second, _ = deployment.run_ok()
    return Runs(deployment, first, before, second,
                snapshot(deployment))  # fmt: skip


def deploys(stdout: str) -> list[tuple[str, str]]:
    """(stack, region) of each `aws cloudformation deploy` the run traced, in order."""
    return [
        (c.split("--stack-name ")[1].split()[0], c.split("--region ")[1].split()[0])
        for c in commands(stdout)
        if c.startswith("aws cloudformation deploy ")
    ]


class TestOneRun:
    def test_one_run_deploys_bootstraps_global_every_region_and_the_alarms(self, runs: Runs):
        deployment = runs.deployment
        bootstrap = deployment.manifest["bootstrap"]["stack_name"]
        regions = deployment.entries("region")
        (global_entry,) = deployment.entries("global")
        (alarms,) = deployment.entries("health-alarms")
        assert [e["region"] for e in regions] == ["us-east-1", "us-west-2", THIRD_REGION]
        done = deploys(runs.first)
        # Each region's bootstrap stack (its template bucket) once, before the first stack
        # there whose template is over the inline limit.
        for entry in [global_entry, *regions]:
            if entry["bytes"] > 51_200:
                here = done.index((bootstrap, entry["region"]))
                assert here < done.index((entry["stack_name"], entry["region"]))
        assert sorted(r for s, r in done if s == bootstrap) == sorted(e["region"] for e in regions)
        assert [d for d in done if d[0] != bootstrap] == [
            (global_entry["stack_name"], global_entry["region"]),
            *[(e["stack_name"], e["region"]) for e in regions],
            (deployment.manifest["bucket_replication"]["stack"], "us-east-1"),  # replication on
            (alarms["stack_name"], alarms["region"]),
        ]
        for (stack, region), (status, _, _) in runs.before_second.items():
            assert status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), (stack, region, status)

    def test_every_region_answers_for_the_name(self, runs: Runs, launcher_aws):
        assert_a_record_and_health_check_per_region(launcher_aws, runs.deployment.spec)

    def test_values_passed_between_stacks_are_the_deployed_outputs(self, runs: Runs):
        """What deploy.sh read from the stacks' outputs, as the emulator now has them."""
        deployment = runs.deployment
        (global_entry,) = deployment.entries("global")
        cloudformation = deployment.client("cloudformation", global_entry["region"])
        (stack,) = cloudformation.describe_stacks(StackName=global_entry["stack_name"])["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        writer = None
        for entry in deployment.entries("region"):
            cloudformation = deployment.client("cloudformation", entry["region"])
            (stack,) = cloudformation.describe_stacks(StackName=entry["stack_name"])["Stacks"]
            parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
            assert parameters["HostedZoneId"] == outputs["HostedZoneId"]
            assert stack["RoleARN"] == outputs["ExecutionRoleArn"]
            regional = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            if writer is None:  # the writer region: its secret goes to the replica regions
                writer = regional[SECRET_ARN_OUTPUT]
                assert parameters["WriterDatabaseSecretArn"] == ""
            else:
                assert parameters["WriterDatabaseSecretArn"] == writer

    def test_a_second_run_is_a_no_op(self, runs: Runs):
        again = deploys(runs.second)
        assert again == deploys(runs.first)[:-2] + deploys(runs.first)[-1:]  # no second pass
        # Each stack reports it is up to date (the CLI's words for a change set without
        # changes, which it deletes instead of executing) ...
        for stack, _ in again:
            assert f"No changes to deploy. Stack {stack} is up to date" in runs.second, stack
        assert runs.second.count("is up to date") == len(again)
        assert "deleting it to create it again" not in runs.second
        # ... and no stack has a new event or a resource created, replaced or deleted.
        assert runs.after_second == runs.before_second

    # In the class, so that xdist's loadscope keeps it on the worker that made `runs`
    # (module-level tests beside a class go to another, which would deploy it all again).
    def test_plan_after_a_spec_change_lists_exactly_that_change(self, runs: Runs):
        """The instance type changed in the spec, recompiled: each regional stack's launch
        template is modified in place, and nothing else anywhere."""
        deployment = runs.deployment
        deployment.compile("v2", three_region_spec(instance_type="t3.medium"))
        report, _ = deployment.run_ok("plan")
        regions = deployment.entries("region")
        lines = report.splitlines()
        # One line per planned stack: MARK STACK (REGION): ...
        planned = {
            (match[2], match[3]): match[1]
            for match in map(re.compile(r"^([=~+!?-]) (\S+) \(([a-z0-9-]+)\): ").match, lines)
            if match
        }
        changed = {(e["stack_name"], e["region"]) for e in regions}
        assert planned == {stack: "~" if stack in changed else "=" for stack in deployment.stacks()}
        for entry in regions:
            assert (
                f"~ {entry['stack_name']} ({entry['region']}): 0 added, 1 modified (0 replaced), "
                "0 removed" in lines
            ), report
        marks = [line.strip() for line in lines if re.match(r"^    [+~!≠-] ", line)]
        assert marks == ["~ LaunchTemplate (AWS::EC2::LaunchTemplate)"] * len(regions), report
        assert f"{len(regions)} change set(s): 0 resources added, {len(regions)} modified" in report
        deployment.run_ok("plan", "--discard")


def test_a_failed_create_stops_the_run_and_the_next_recovers(
    patched_server, launcher_aws, tmp_path_factory
):
    """A bucket S3 refuses, seeded last into the bootstrap stack (the run's first stack):
    the run stops there, naming it and S3's reason, and deploys nothing after it; the
    rollback deletes the template bucket made before it (RetainExceptOnCreate). The next
    run, without the seed, deletes the ROLLBACK_COMPLETE stack, creates it again (the
    bucket's name is free) and goes on. That run is `deploy.sh global` (the bootstrap and
    global stacks of the global region): the recovery is the failed stack's, and what the
    whole run does after it is `TestOneRun`'s; all of it again here cost the suite about
    three minutes of emulator time."""
    patched_server.reset()
    deployment = Deployment(launcher_aws, patched_server, tmp_path_factory.mktemp("seeded"))
    deployment.compile("v1", three_region_spec(), seed=True)
    stack, region = deployment.manifest["bootstrap"]["stack_name"], "us-east-1"
    failed, _ = deployment.run()
    assert failed.returncode != 0
    reason = (
        f"deploy.sh: first failure in {stack} ({region}): {SEED} (AWS::S3::Bucket) "
        f'CREATE_FAILED: Resource handler returned message: "{SEED_REASON}"'
    )
    assert reason in failed.stderr.splitlines(), failed.stderr
    assert deploys(failed.stdout) == [(stack, region)]  # nothing after it
    cloudformation = deployment.client("cloudformation", region)
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    statuses = {(e["LogicalResourceId"], e["ResourceStatus"]) for e in events}
    assert {(SEED, "CREATE_FAILED"), ("TemplateBucket", "DELETE_COMPLETE")} <= statuses
    assert (stack, "ROLLBACK_COMPLETE") in statuses
    assert deployment.client("s3", region).list_buckets()["Buckets"] == []
    for name, where in deployment.stacks():
        if name != stack:
            listed = deployment.client("cloudformation", where).list_stacks()
            assert name not in {s["StackName"] for s in listed["StackSummaries"]}

    deployment.compile("v1-fixed", three_region_spec())
    recovered, _ = deployment.run_ok("global")
    assert f"deploy.sh: {stack} ({region}) is ROLLBACK_COMPLETE" in recovered
    assert "deleting it to create it again" in recovered
    assert f"+ aws cloudformation delete-stack --region {region} --stack-name {stack}" in (
        recovered
    )
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert SEED not in stack_resources(launcher_aws, stack, region)
    (global_stack,) = deployment.entries("global")
    assert deploys(recovered) == [(stack, region), (global_stack["stack_name"], region)]
    (described,) = cloudformation.describe_stacks(StackName=global_stack["stack_name"])["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
