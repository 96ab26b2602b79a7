"""The generated deploy.sh, run as an operator would against moto_server: the global stack,
then every region (class `TestStacks`); or the global stack, then the StackSet with
`create-stack-instances` (class `TestStackSet`). Route 53 holds the records and health
checks of every region afterwards, and a re-run changes nothing it should not. Last in
`TestStacks`, on the stacks it deployed: `deploy.sh plan`, `apply` and `plan --discard`.

What is adapted for moto, on the test side only:
- the templates in a copy of the output directory go through `moto_shim` (the StackSet
  one also through `region_zone_lookups`, since it serves two regions at once);
- a stand-in `aws` first on PATH answers the global stack's outputs, which moto leaves
  empty after `deploy` (`aws_outputs_shim`); so deploy.sh runs twice, first `global`,
  then, outputs known, the whole order (the global stack again: a no-op, which is also
  the re-run check of `deploy --no-fail-on-empty-changeset`; the regional stacks are not
  deployed twice, since moto cannot update a stack with an SSM-typed parameter);
- `TestStackSet` runs on moto as moto_launcher.py patches it (see `deployed_stack_set`).
The script, its commands and its AWS_ENDPOINT_URL handling are exactly what ships.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto.cloudformation.parsing import get_model_map, resource_name_property_from_type

from compiler.builders.database import MASTER_SECRET_ID, SECRET_ARN_OUTPUT
from compiler.builders.health_alarms import HEALTH_CHECK_OUTPUT
from compiler.deploy_plan import TEMPLATE_BODY_LIMIT
from compiler.deploy_script import SCRIPT_PATH

from . import aws_outputs_shim
from .aws_cli import (
    AwsCli,
    availability_zones,
    find_executable,
    stack_resources,
    stack_status,
)
from .emulator import MotoServer
from .moto_shim import (
    acm_certificate_arns,
    create_parameter_group,
    parameter_groups,
    prepare_for_moto,
    request_certificate,
    rewrite_for_moto,
    secret_stand_in_arn,
)

if TYPE_CHECKING:
    from .conftest import CompiledSpec

pytestmark = pytest.mark.deploy

DEPLOY_TIMEOUT_S = 600
MOTO_ZONES = "MotoZones"


@dataclass
class OutputDir:
    """A copy of templates_out/ made deployable on moto, and how to run its deploy.sh."""

    path: Path
    manifest: dict
    env: dict[str, str]
    primary_region: str

    def entries(self, kind: str) -> list[dict]:
        return [entry for entry in self.manifest["stacks"] if entry["kind"] == kind]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.path / SCRIPT_PATH), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )

    def run_ok(self, *args: str, moto_server: MotoServer) -> str:
        result = self.run(*args)
        if result.returncode != 0:
            pytest.fail(
                f"deploy.sh {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}\n"
                f"moto_server's last traceback:\n{moto_server.last_traceback()}"
            )
        return result.stdout


PROTECTION = ("update-termination-protection", "set-stack-policy")


def commands(stdout: str) -> list[str]:
    """The commands deploy.sh traced (`+ aws ...`), without the `+ ` and without the
    protection it sets after each stack (`test_every_stack_ends_protected`)."""
    traced = [line[2:] for line in stdout.splitlines() if line.startswith("+ aws ")]
    return [line for line in traced if line.split(" ")[2] not in PROTECTION]


# --- making the output directory deployable on moto ---------------------------------


def region_zone_lookups(template: dict, zones: dict[str, list[str]]) -> dict:
    """`Fn::Select [i, Fn::GetAZs]` -> `Fn::FindInMap [MotoZones, AWS::Region, Az<i>]`.

    Moto gap (see moto_shim.literal_availability_zones): `Fn::GetAZs` answers with
    us-east-1's zones in every region. The StackSet template runs in several regions
    at once, so the zone goes through a mapping keyed by region instead of a literal.
    """
    used: set[int] = set()

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::Select"}:
                index, source = node["Fn::Select"]
                if isinstance(source, dict) and set(source) == {"Fn::GetAZs"}:
                    used.add(int(index))
                    return {"Fn::FindInMap": [MOTO_ZONES, {"Ref": "AWS::Region"}, f"Az{index}"]}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    result = rewrite(template)
    result.setdefault("Mappings", {})[MOTO_ZONES] = {
        region: {f"Az{i}": names[i] for i in sorted(used)} for region, names in zones.items()
    }
    return result


def outputs_moto_can_evaluate(template: dict) -> dict:
    """Drop each output that `Fn::GetAtt`s a resource of a type moto does not model.

    Moto gap: a stack instance is created with `create_stack`, which (unlike a change set)
    validates every output and fails with AttributeError (HTTP 500) on a `GetAtt` of a
    type moto only accepts, such as `AWS::WAFv2::WebACL`.
    """
    modelled = set(get_model_map())

    def attribute_targets(node: Any):
        if isinstance(node, dict):
            if set(node) == {"Fn::GetAtt"}:
                yield node["Fn::GetAtt"][0]
            for value in node.values():
                yield from attribute_targets(value)
        elif isinstance(node, list):
            for value in node:
                yield from attribute_targets(value)

    resources = template["Resources"]
    template["Outputs"] = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if all(resources[t]["Type"] in modelled for t in attribute_targets(output["Value"]))
    }
    return template


def names_for_stack_set_instances(template: dict) -> dict:
    """Give each resource that moto would name after its stack a name of its own:
    `ss<N>-<region>` (short, lower-case, unique per resource and region).

    Moto gap: moto names a StackSet instance's stack `StackSet:<set name>` (AWS:
    `StackSet-<set name>-<id>`) and derives unnamed resources' names from it; the colon
    then fails the name checks of ELB, RDS and others (ValidationError).
    """
    for index, resource in enumerate(template["Resources"].values()):
        name_property = resource_name_property_from_type(resource["Type"])
        properties = resource.setdefault("Properties", {})
        if name_property and name_property not in properties:
            properties[name_property] = {"Fn::Sub": f"ss{index}-${{AWS::Region}}"}
    return template


def prepare_stack_set_for_moto(
    aws: AwsCli, template: dict, *, stack_set_name: str, zones: dict[str, list[str]]
) -> dict:
    """As moto_shim.prepare_for_moto, for every region of the StackSet at once."""
    certificates = {
        arn: request_certificate(aws, arn_region)
        for arn, arn_region in acm_certificate_arns(template).items()
    }
    groups = {}
    for logical_id, properties in parameter_groups(template).items():
        name = f"{stack_set_name}-{logical_id}".lower()
        for region in zones:  # the same name in every region the template runs in
            create_parameter_group(aws, properties, name=name, region=region)
        groups[logical_id] = name
    rewritten = rewrite_for_moto(
        region_zone_lookups(template, zones),
        availability_zones=[],
        certificate_arns=certificates,
        parameter_group_names=groups,
    )
    return names_for_stack_set_instances(outputs_moto_can_evaluate(rewritten))


def prepare_output_dir(
    aws: AwsCli, compiled: CompiledSpec, destination: Path, *, stack_set: bool
) -> OutputDir:
    """Copy the compiled output, rewrite its templates for moto, create the buckets the
    non-primary regions need, and put the outputs stand-in on PATH."""
    shutil.copytree(compiled.out_dir, destination)
    manifest = json.loads((destination / "manifest.json").read_text(encoding="utf-8"))
    regions = [region.name for region in compiled.result.spec.regions]
    zones = {region: availability_zones(aws, region) for region in regions}
    for entry in manifest["stacks"]:
        if (entry["kind"] == "stackset") != stack_set and entry["kind"] != "global":
            continue
        if entry["kind"] == "health-alarms":
            continue  # alarms, a topic, a key: nothing moto needs rewritten
        path = destination / entry["template"]
        template = json.loads(path.read_text(encoding="utf-8"))
        if entry["kind"] == "global":
            template = rewrite_for_moto(
                template, availability_zones=[], certificate_arns={}, parameter_group_names={}
            )
        elif entry["kind"] == "region":
            template = prepare_for_moto(
                aws,
                template,
                region=entry["region"],
                stack_name=entry["stack_name"],
                zones=zones[entry["region"]],
            )
        else:
            template = prepare_stack_set_for_moto(
                aws, template, stack_set_name=entry["stack_name"], zones=zones
            )
        # Compact, so a template deploy.sh sends inline stays under the inline limit.
        path.write_text(json.dumps(template, separators=(",", ":")), encoding="utf-8")

    # No DEPLOY_BUCKET_*: deploy.sh bootstraps a template bucket in each region itself.
    env = aws.env(compiled.result.spec.primary_region)
    bin_dir = destination.parent / "bin"
    outputs = destination.parent / "outputs.json"
    # The real calls go on to the tests' `aws` (the warm one, see warm_aws.py).
    aws_outputs_shim.install(
        bin_dir, str(aws.bin_dir / "aws") if aws.bin_dir else find_executable("aws"), outputs
    )
    outputs.write_text(json.dumps(bootstrap_outputs(aws, manifest, regions)), encoding="utf-8")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return OutputDir(destination, manifest, env, compiled.result.spec.primary_region)


def bootstrap_outputs(aws: AwsCli, manifest: dict, regions: list[str]) -> dict:
    """`REGION/STACK` -> the bootstrap stack's outputs there, for the outputs stand-in:
    the bucket name its template fixes (`test_each_region_got_its_bootstrap_bucket`
    checks that moto made exactly that bucket)."""
    bootstrap = manifest["bootstrap"]
    account = aws.run_json("sts", "get-caller-identity", region=regions[0])["Account"]
    prefix = bootstrap["stack_name"].removesuffix("-bootstrap")
    return {
        f"{region}/{bootstrap['stack_name']}": {
            bootstrap["bucket_output"]: f"{prefix}-deploy-{account}-{region}"
        }
        for region in regions
    }


def global_outputs_used(manifest: dict) -> dict[str, list[str]]:
    """stack -> the outputs of it that the manifest says deploy.sh reads."""
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("from") == "stack_output":
                outputs = found.setdefault(node["stack"], [])
                if node["output"] not in outputs:
                    outputs.append(node["output"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(manifest["stacks"])
    return found


def deploy_global_and_record_outputs(output_dir: OutputDir, aws: AwsCli, moto_server) -> str:
    """`deploy.sh global`, then the outputs it made written where the stand-in reads them."""
    stdout = output_dir.run_ok("global", moto_server=moto_server)
    (global_entry,) = output_dir.entries("global")
    template = json.loads((output_dir.path / global_entry["template"]).read_text())
    values = aws_outputs_shim.global_outputs(
        aws,
        template,
        stack_name=global_entry["stack_name"],
        region=global_entry["region"],
        wanted=global_outputs_used(output_dir.manifest)[global_entry["stack_name"]],
    )
    outputs_file = output_dir.path.parent / "outputs.json"
    outputs = {
        **json.loads(outputs_file.read_text(encoding="utf-8")),
        global_entry["stack_name"]: values,
        **writer_secret_outputs(output_dir, aws),
    }
    outputs_file.write_text(json.dumps(outputs), encoding="utf-8")
    return stdout


def writer_secret_outputs(output_dir: OutputDir, aws: AwsCli) -> dict[str, dict[str, str]]:
    """The writer region stack's DatabaseSecretArn, which deploy.sh reads for the replica
    regions once that stack exists, and every regional stack's HealthCheckId: the ARN moto_shim gives the writer's secret. The
    StackSet's writer instance is found by its stack ID, which CloudFormation makes up."""
    region = output_dir.primary_region
    account = aws.run_json("sts", "get-caller-identity", region=region)["Account"]
    value = {SECRET_ARN_OUTPUT: secret_stand_in_arn(MASTER_SECRET_ID, region, account)}
    found = {}
    # Each region's health check, for the us-east-1 health-alarm stack: moto makes its ID
    # during the run, so the stand-in looks it up when deploy.sh asks.
    health = {HEALTH_CHECK_OUTPUT: {"resource": "HealthCheck"}}
    for entry in output_dir.manifest["stacks"]:
        if entry["kind"] == "region":
            found[entry["stack_name"]] = (
                {**value, **health} if entry["region"] == region else health
            )
        if entry["kind"] == "stackset":
            # AWS names an instance's stack StackSet-<set>-<uuid>; moto StackSet-<set>:<uuid>.
            # The stand-in finds no resource of an instance's stack by its ID on moto: a
            # health check ID of the right shape stands in (the alarms only name it).
            found[f"arn:aws:cloudformation:*:*:stack/StackSet-{entry['stack_name']}[-:]*"] = {
                **value,
                HEALTH_CHECK_OUTPUT: "00000000-0000-4000-8000-000000000000",
            }
    return found


# --- Route 53 as the tests read it ----------------------------------------------------


def record_sets(aws: AwsCli, zone_name: str, record_name: str) -> list[dict]:
    zones = aws.run_json("route53", "list-hosted-zones", region="us-east-1")["HostedZones"]
    matching = [z for z in zones if z["Name"].rstrip(".") == zone_name]
    assert len(matching) == 1, f"one hosted zone {zone_name} expected: {zones}"
    records = aws.run_json(
        "route53", "list-resource-record-sets", "--hosted-zone-id", matching[0]["Id"],
        region="us-east-1",
    )["ResourceRecordSets"]  # fmt: skip
    return [r for r in records if r["Name"].rstrip(".") == record_name and r["Type"] == "A"]


def health_checks(aws: AwsCli) -> list[dict]:
    return aws.run_json("route53", "list-health-checks", region="us-east-1")["HealthChecks"]


def assert_a_record_and_health_check_per_region(aws: AwsCli, spec) -> None:
    regions = [region.name for region in spec.regions]
    records = record_sets(aws, spec.dns.zone_name, spec.dns.record_name)
    assert sorted(r["SetIdentifier"] for r in records) == sorted(regions)
    if spec.dns.routing == "failover":
        roles = {r["SetIdentifier"]: r["Failover"] for r in records}
        assert roles == {regions[0]: "PRIMARY", regions[1]: "SECONDARY"}
    checks = health_checks(aws)
    assert len(checks) == len(regions)
    check_ids = {c["Id"] for c in checks}
    assert {r["HealthCheckId"] for r in records} == check_ids
    for check in checks:
        config = check["HealthCheckConfig"]
        assert config["Type"] == "HTTPS"
        assert config["ResourcePath"] == (
            spec.dns.health_check_path or spec.load_balancer.health_check_path
        )


# --- global, then each region -------------------------------------------------------


@dataclass
class Deployed:
    output_dir: OutputDir
    first_run: str  # stdout of `deploy.sh global`
    second_run: str  # stdout of `deploy.sh [stackset]`, outputs known
    moto_server: MotoServer | None = None


@pytest.fixture(scope="class")
def deployed_stacks(
    moto_server: MotoServer,
    aws: AwsCli,
    compiled: CompiledSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Deployed:
    moto_server.reset()
    output_dir = prepare_output_dir(
        aws, compiled, tmp_path_factory.mktemp("stacks") / "templates_out", stack_set=False
    )
    first = deploy_global_and_record_outputs(output_dir, aws, moto_server)
    second = output_dir.run_ok(moto_server=moto_server)
    return Deployed(output_dir, first, second, moto_server)


class TestStacks:
    @pytest.fixture
    def deployed(self, deployed_stacks: Deployed) -> Deployed:
        return deployed_stacks

    def test_global_then_every_region_in_order(self, deployed: Deployed, compiled):
        deploys = [c for c in commands(deployed.second_run) if "cloudformation deploy" in c]
        manifest = deployed.output_dir.manifest
        # Each region's bootstrap stack (its template bucket) just before its first stack
        # that needs a bucket: the global stack's too, once its template is over the limit.
        expected, bootstrapped = [], set()
        for entry in [e for e in manifest["stacks"] if e["kind"] in ("global", "region")]:
            needs_bucket = entry["bytes"] > TEMPLATE_BODY_LIMIT
            if needs_bucket and entry["region"] not in bootstrapped:
                expected.append(manifest["bootstrap"]["stack_name"])
                bootstrapped.add(entry["region"])
            expected.append(entry["stack_name"])
        # The writer region's stack once more: bucket replication switched on; last, the
        # health-check alarms in us-east-1, given each region's health check.
        expected.append(manifest["bucket_replication"]["stack"])
        (health,) = [e for e in manifest["stacks"] if e["kind"] == "health-alarms"]
        expected.append(health["stack_name"])
        assert [c.split("--stack-name ")[1].split()[0] for c in deploys] == expected
        assert "ReplicateBuckets=true" in deploys[-2]

    def test_one_run_ends_with_every_bucket_replicating(self, deployed, aws, compiled):
        """Moto does not apply a bucket's ReplicationConfiguration from CloudFormation (see
        moto_shim): the closest check is that the writer region's stack ends with the
        switch on and with the replication role it creates only then."""
        spec = compiled.result.spec
        stack_name = deployed.output_dir.manifest["bucket_replication"]["stack"]
        stack = aws.run_json(
            "cloudformation", "describe-stacks", "--stack-name", stack_name,
            region=spec.primary_region,
        )["Stacks"][0]  # fmt: skip
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert parameters["ReplicateBuckets"] == "true"
        role = stack_resources(aws, stack_name, spec.primary_region)["BucketReplicationRole"]
        assert role["ResourceType"] == "AWS::IAM::Role" and role["PhysicalResourceId"]

    def test_every_other_region_has_a_replica_of_the_writer(self, deployed, aws, compiled):
        spec = compiled.result.spec
        identifier = f"{spec.project}-{spec.environment}-db"
        (writer,) = aws.run_json(
            "rds", "describe-db-instances", "--db-instance-identifier", identifier,
            region=spec.primary_region,
        )["DBInstances"]  # fmt: skip
        for region in spec.regions[1:]:
            instances = aws.run_json("rds", "describe-db-instances", region=region.name)
            sources = [
                i.get("ReadReplicaSourceDBInstanceIdentifier") for i in instances["DBInstances"]
            ]
            assert writer["DBInstanceArn"] in sources or identifier in sources, sources

    def test_promote_makes_the_replica_a_standalone_writer(self, deployed, aws, compiled):
        """It changes the deployment: after it only the plan tests, which need no replica
        (they change the global stack). Emulator gaps: see moto_shim."""
        spec = compiled.result.spec
        region = spec.regions[1].name
        before = aws.run_json("rds", "describe-db-instances", region=region)["DBInstances"]
        (replica,) = [i for i in before if i.get("ReadReplicaSourceDBInstanceIdentifier")]
        stdout = deployed.output_dir.run_ok("promote", region, moto_server=deployed.moto_server)
        target = f"--db-instance-identifier {replica['DBInstanceIdentifier']}"
        assert f"+ aws rds promote-read-replica --region {region} {target}" in stdout
        assert "modify-db-instance" not in stdout  # the next deploy sets its password
        assert f"identifier: {replica['DBInstanceIdentifier']}" in stdout
        assert "source_region: " + spec.primary_region in stdout
        # Moto keeps ReadReplicaSourceDBInstanceIdentifier after a promotion (moto_shim);
        # a second promotion is still refused by RDS, not by the script: nothing more here.

    def test_every_stack_is_created(self, deployed: Deployed, aws: AwsCli):
        for entry in deployed.output_dir.manifest["stacks"]:
            if entry["kind"] != "stackset":
                status = stack_status(aws, entry["stack_name"], entry["region"])
                assert status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), entry["stack_name"]

    def test_regions_got_the_global_stacks_values(self, deployed: Deployed, aws: AwsCli):
        outputs = json.loads((deployed.output_dir.path.parent / "outputs.json").read_text())
        (global_entry,) = deployed.output_dir.entries("global")
        global_values = outputs[global_entry["stack_name"]]
        primary = deployed.output_dir.primary_region
        (writer_secret,) = {
            values[SECRET_ARN_OUTPUT]
            for values in writer_secret_outputs(deployed.output_dir, aws).values()
            if SECRET_ARN_OUTPUT in values
        }
        for entry in deployed.output_dir.entries("region"):
            stack = aws.run_json(
                "cloudformation", "describe-stacks", "--stack-name", entry["stack_name"],
                region=entry["region"],
            )["Stacks"][0]  # fmt: skip
            parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
            assert parameters["HostedZoneId"] == global_values["HostedZoneId"]
            assert stack["RoleARN"] == global_values["ExecutionRoleArn"]
            # A replica region was given the writer stack's secret; the writer, nothing.
            expected = "" if entry["region"] == primary else writer_secret
            assert parameters["WriterDatabaseSecretArn"] == expected

    def test_route53_has_a_record_and_health_check_per_region(self, deployed, aws, compiled):
        assert_a_record_and_health_check_per_region(aws, compiled.result.spec)

    def test_each_region_got_its_bootstrap_bucket(self, deployed: Deployed, aws: AwsCli):
        bootstrap = deployed.output_dir.manifest["bootstrap"]
        expected = json.loads((deployed.output_dir.path.parent / "outputs.json").read_text())
        for entry in deployed.output_dir.entries("region"):
            region, name = entry["region"], bootstrap["stack_name"]
            assert stack_status(aws, name, region) == "CREATE_COMPLETE"
            bucket = stack_resources(aws, name, region)["TemplateBucket"]["PhysicalResourceId"]
            assert bucket == expected[f"{region}/{name}"][bootstrap["bucket_output"]]
            encryption = aws.run_json("s3api", "get-bucket-encryption", "--bucket", bucket,
                                      region=region)  # fmt: skip
            (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
            assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            # Moto does not apply a bucket's PublicAccessBlockConfiguration from
            # CloudFormation: tests/test_deploy_script.py checks the template for it.
        # Each regional template was uploaded to its own region's bucket.
        uploads = [c for c in commands(deployed.second_run) if "--s3-bucket " in c]
        big_global = [
            e for e in deployed.output_dir.entries("global") if e["bytes"] > TEMPLATE_BODY_LIMIT
        ]
        # The writer region twice, and the global template once it is over the limit.
        assert len(uploads) == len(deployed.output_dir.entries("region")) + 1 + len(big_global)
        for command in uploads:
            region = command.split("--region ")[1].split()[0]
            bucket = command.split("--s3-bucket ")[1].split()[0]
            assert bucket == expected[f"{region}/{bootstrap['stack_name']}"]["TemplateBucketName"]

    def test_every_stack_ends_protected(self, deployed: Deployed, aws: AwsCli):
        """The stack policy as moto stored it (moto does not enforce it); termination
        protection is answered by the outputs stand-in, since moto lacks the call."""
        manifest = deployed.output_dir.manifest
        deployed_stacks = [e for e in manifest["stacks"] if e["kind"] != "stackset"]
        stacks = [(e["stack_name"], e["region"]) for e in deployed_stacks]
        stacks += [
            (manifest["bootstrap"]["stack_name"], e["region"])
            for e in manifest["stacks"]
            if e["kind"] == "region"
        ]
        for name, region in stacks:
            body = aws.run_json("cloudformation", "get-stack-policy", "--stack-name", name,
                                region=region)["StackPolicyBody"]  # fmt: skip
            allow, deny = json.loads(body)["Statement"]
            assert deny["Effect"] == "Deny", name
            assert sorted(deny["Action"]) == ["Update:Delete", "Update:Replace"]
            assert "AWS::RDS::DBInstance" in deny["Condition"]["StringEquals"]["ResourceType"]

    def test_re_running_an_unchanged_stack_changes_nothing(self, deployed: Deployed):
        # The second run deployed the global stack again, as it is: a no-op, not an error.
        (global_entry,) = deployed.output_dir.entries("global")
        assert f"Stack {global_entry['stack_name']} is up to date" in deployed.second_run

    # --- `deploy.sh plan`, `apply` and `plan --discard`, last: they change the stacks ----
    # (Here, not in a module of their own, which deployed the same stacks the same way
    # again.) moto makes, describes, executes and deletes change sets, and answers an
    # unchanged template with the FAILED "didn't contain changes" change set CloudFormation
    # gives. What moto does not give: `Replacement` (every Modify reads as in place) and
    # the change set's events (it executes at once); those paths are tested against the
    # stand-in `aws` in tests/test_deploy_changeset.py.

    def test_plan_lists_exactly_the_change_and_apply_executes_it(self, deployed, aws):
        output_dir, moto_server = deployed.output_dir, deployed.moto_server
        entry = global_entry(output_dir)
        stack, region = entry["stack_name"], entry["region"]
        bootstrap = output_dir.manifest["bootstrap"]["stack_name"]
        unchanged = output_dir.run_ok("plan", moto_server=moto_server)
        assert f"= {stack} ({region}): no changes" in unchanged
        assert f"= {bootstrap} ({region}): no changes" in unchanged
        (west,) = [e for e in output_dir.entries("region") if e["region"] != region]
        assert f"= {west['stack_name']} ({west['region']}): no changes" in unchanged
        assert plan_change_sets(aws, stack, region) == []  # a "no changes" one is deleted

        add_probe_topic(output_dir)
        expected = output_dir.path.parent / "expected.txt"
        expected.write_text(
            f"{stack}\t{PROBE}\tAdd\n{west['stack_name']}\tSomethingElse\tRemove\n",
            encoding="utf-8",
        )
        report = output_dir.run_ok("plan", "--expect", str(expected), moto_server=moto_server)
        assert f"~ {stack} ({region}): 1 added, 0 modified (0 replaced), 0 removed" in report
        assert f"    + {PROBE} (AWS::SNS::Topic)" in report
        assert "≠ SomethingElse: infra diff Remove, CloudFormation no change" in report
        assert "1 place(s) where CloudFormation and infra diff's prediction" in report
        assert len(plan_change_sets(aws, stack, region)) == 1
        assert PROBE not in stack_resources(aws, stack, region)  # nothing executed

        discard_parameter_only_change_sets(aws, output_dir)
        applied = output_dir.run_ok("apply", moto_server=moto_server)
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

    def test_apply_refuses_a_template_changed_since_the_plan(self, deployed, aws):
        output_dir, moto_server = deployed.output_dir, deployed.moto_server
        entry = global_entry(output_dir)
        stack, region = entry["stack_name"], entry["region"]
        add_probe_topic(output_dir, "PlanProbeTopicTwo")
        output_dir.run_ok("plan", moto_server=moto_server)
        add_probe_topic(output_dir, "PlanProbeTopicThree")
        result = output_dir.run("apply", "--no-preflight")
        assert result.returncode == 1
        assert f"the template or the values of {stack} ({region}) changed since the plan" in (
            result.stderr
        )
        assert "PlanProbeTopicTwo" not in stack_resources(aws, stack, region)
        assert len(plan_change_sets(aws, stack, region)) == 1
        output_dir.run_ok("plan", "--discard", moto_server=moto_server)
        for planned in [entry, *output_dir.entries("region")]:
            assert plan_change_sets(aws, planned["stack_name"], planned["region"]) == []


PLAN_PREFIX = "infra-plan-"  # the names deploy.sh gives its plan's change sets
PROBE = "PlanProbeTopic"


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
        if s["StackName"] == stack and s["ChangeSetName"].startswith(PLAN_PREFIX)
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
    update a stack with an SSM-typed parameter (see the module's docstring). Those change
    sets are deleted here, before apply, so that apply executes the global stack's alone."""
    for entry in output_dir.entries("region"):
        for change_set in plan_change_sets(aws, entry["stack_name"], entry["region"]):
            aws.run(
                "cloudformation", "delete-change-set", "--stack-name", entry["stack_name"],
                "--change-set-name", change_set, region=entry["region"],
            )  # fmt: skip


# --- global, then the StackSet -------------------------------------------------------


@pytest.fixture(scope="class")
def deployed_stack_set(
    patched_server: MotoServer,
    launcher_aws: AwsCli,
    compiled: CompiledSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Deployed:
    """On moto as moto_launcher.py patches it: the class's second run deploys the
    unchanged health-alarm stack again, whose change set plain moto refuses ("No updates
    are to be performed") where CloudFormation fails it as empty, which `deploy
    --no-fail-on-empty-changeset` accepts."""
    patched_server.reset()
    output_dir = prepare_output_dir(
        launcher_aws,
        compiled,
        tmp_path_factory.mktemp("stackset") / "templates_out",
        stack_set=True,
    )
    first = deploy_global_and_record_outputs(output_dir, launcher_aws, patched_server)
    second = output_dir.run_ok("stackset", moto_server=patched_server)
    return Deployed(output_dir, first, second, patched_server)


class TestStackSet:
    @pytest.fixture
    def deployed(self, deployed_stack_set: Deployed) -> Deployed:
        return deployed_stack_set

    def stack_set(self, deployed: Deployed) -> dict:
        (entry,) = deployed.output_dir.entries("stackset")
        return entry

    def test_stack_set_created_then_instances_in_every_region(self, deployed: Deployed):
        verbs = [c.split()[2] for c in commands(deployed.second_run)]
        # The writer region's instance alone, its secret set on the StackSet, the replica
        # regions' instances; then replication on, once every destination bucket exists;
        # last the health-check alarms in us-east-1.
        assert verbs == [
            "deploy", "deploy", "cp", "create-stack-set", "create-stack-instances", "update-stack-set",
            "create-stack-instances", "update-stack-set", "deploy",
        ]  # fmt: skip
        assert (
            "ParameterKey=ReplicateBuckets,ParameterValue=true" in commands(deployed.second_run)[-2]
        )
        assert (
            "--stack-name storefront-production-health-alarms " in commands(deployed.second_run)[-1]
        )
        writer, replicas = [
            c for c in commands(deployed.second_run) if "create-stack-instances" in c
        ]
        regions = self.stack_set(deployed)["instances"]["regions"]
        assert f"--regions {regions[0]} " in writer
        assert f"--regions {' '.join(regions[1:])} " in replicas

    def test_an_instance_per_region(self, deployed: Deployed, launcher_aws: AwsCli):
        entry = self.stack_set(deployed)
        summaries = launcher_aws.run_json(
            "cloudformation", "list-stack-instances", "--stack-set-name", entry["stack_name"],
            region=entry["region"],
        )["Summaries"]  # fmt: skip
        assert sorted(s["Region"] for s in summaries) == sorted(entry["instances"]["regions"])

    def test_the_stack_set_has_the_global_stacks_values(
        self, deployed: Deployed, launcher_aws: AwsCli
    ):
        entry = self.stack_set(deployed)
        outputs = json.loads((deployed.output_dir.path.parent / "outputs.json").read_text())
        (global_entry,) = deployed.output_dir.entries("global")
        global_values = outputs[global_entry["stack_name"]]
        stack_set = launcher_aws.run_json(
            "cloudformation", "describe-stack-set", "--stack-set-name", entry["stack_name"],
            region=entry["region"],
        )["StackSet"]  # fmt: skip
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}
        assert parameters["HostedZoneId"] == global_values["HostedZoneId"]
        assert stack_set["AdministrationRoleARN"] == global_values["StackSetAdministrationRoleArn"]
        assert stack_set["ExecutionRoleName"] == global_values["StackSetExecutionRoleName"]
        # The writer region instance's secret, for the replica instances (moto_shim's ARN).
        (writer_secret,) = {
            values[SECRET_ARN_OUTPUT]
            for values in writer_secret_outputs(deployed.output_dir, launcher_aws).values()
            if SECRET_ARN_OUTPUT in values
        }
        assert parameters["WriterDatabaseSecretArn"] == writer_secret

    def test_route53_has_a_record_and_health_check_per_region(
        self, deployed, launcher_aws, compiled
    ):
        assert_a_record_and_health_check_per_region(launcher_aws, compiled.result.spec)

    # In the class, so that xdist's loadscope keeps it on the worker that made the set
    # (beside the class, it went to a scope of its own, which deployed it all again); and
    # before the second run below, which changes the set.
    def test_stack_set_preview_after_a_deploy_has_nothing_to_change(self, deployed):
        """`stackset-plan`, read-only, against the StackSet the run deployed: the same
        template, and an instance in every region of the caller's account already."""
        stdout = deployed.output_dir.run_ok("stackset-plan", moto_server=deployed.moto_server)
        assert "  template: unchanged" in stdout.splitlines()
        assert any(line.endswith(": new instances in: none") for line in stdout.splitlines())
        assert "+ aws" not in stdout  # nothing changed, nothing traced

    def test_a_second_run_updates_the_set_and_adds_no_instance(self, deployed):
        """Last: it changes the set. (An xfail on plain moto: see `deployed_stack_set`.)"""
        stdout = deployed.output_dir.run_ok("stackset", moto_server=deployed.moto_server)
        verbs = [c.split()[2] for c in commands(stdout)]
        # The global stack and the primary region's bootstrap, both unchanged; the StackSet;
        # the health-check alarms, unchanged.
        assert verbs == ["deploy", "deploy", "cp", "update-stack-set", "deploy"]
