"""Each regional template of the example spec deploys with `aws cloudformation deploy`
to moto_server, and the network, web tier and database it describes then exist there.

One deploy per region (a module-scoped fixture); the tests below only read. The
template goes through `moto_shim` first: see there for what moto cannot take as is.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from compiler.builders.database import MASTER_SECRET_ID, WRITER_SECRET_PARAMETER
from compiler.spec import InfraSpec

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
from .emulator import MotoServer
from .moto_shim import prepare_for_moto, secret_stand_in_arn

if TYPE_CHECKING:
    from .conftest import CompiledSpec

pytestmark = pytest.mark.deploy

TIERS = ("Public", "Private", "Database")


@dataclass(frozen=True)
class DeployedStack:
    hosted_zone_id: str
    region: str
    stack_name: str
    spec: InfraSpec
    availability_zones: list[str]  # the region's zones, sorted, as Fn::GetAZs lists them
    resources: dict[str, dict]  # describe-stack-resources rows by logical ID

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id]["PhysicalResourceId"]

    def subnet_ids(self, tier: str) -> list[str]:
        count = self.spec.network.availability_zones
        return [self.physical_id(f"{tier}Subnet{az + 1}") for az in range(count)]


@pytest.fixture(scope="module")
def deployed(
    region: str,
    moto_server: MotoServer,
    aws: AwsCli,
    compiled: CompiledSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> DeployedStack:
    moto_server.reset()  # a clean account per region: moto keeps what a failed create left
    spec = compiled.result.spec
    writer_secret = ""  # the writer region names its own secret
    if region != spec.primary_region:
        # A replica region's database replicates the writer region's: that stack first,
        # and the replica region is given the writer's secret, as deploy.sh does.
        _deploy_region(spec.primary_region, moto_server, aws, compiled, tmp_path_factory, "")
        # Moto leaves a stack's Outputs empty after `deploy` (aws_outputs_shim): the ARN
        # the writer's output holds is the shim's stand-in for its secret.
        account = aws.run_json("sts", "get-caller-identity", region=spec.primary_region)["Account"]
        writer_secret = secret_stand_in_arn(MASTER_SECRET_ID, spec.primary_region, account)
    zone, zones = _deploy_region(
        region, moto_server, aws, compiled, tmp_path_factory, writer_secret
    )
    stack = compiled.stack(region)
    return DeployedStack(
        hosted_zone_id=zone,
        region=region,
        stack_name=stack.stack_name,
        spec=compiled.result.spec,
        availability_zones=zones,
        resources=stack_resources(aws, stack.stack_name, region),
    )


def _deploy_region(
    region: str,
    moto_server: MotoServer,
    aws: AwsCli,
    compiled: CompiledSpec,
    tmp_path_factory: pytest.TempPathFactory,
    writer_secret: str,
) -> tuple[str, list[str]]:
    """Deploy `region`'s regional stack; its hosted zone ID and AZ names. `writer_secret`:
    the writer database's secret ARN, for a template that takes it."""
    stack = compiled.stack(region)
    zones = availability_zones(aws, region)
    template = prepare_for_moto(
        aws, compiled.template(region), region=region, stack_name=stack.stack_name, zones=zones
    )
    template_file = tmp_path_factory.mktemp("deploy") / f"{region}.json"
    template_file.write_text(json.dumps(template, indent=2), encoding="utf-8")
    # Always through S3: the regional template is about to outgrow CloudFormation's
    # 51,200-byte TemplateBody limit, and this is the path a real deploy then takes.
    bucket = f"cfn-templates-{region}"
    create_bucket(aws, bucket, region)
    # The regional stack takes the hosted zone from the global stack's output; here the
    # zone is made directly, as the global stack would have.
    zone = aws.run_json(
        "route53", "create-hosted-zone",
        "--name", compiled.result.spec.dns.zone_name,
        "--caller-reference", f"deploy-test-{region}",
        region=region,
    )["HostedZone"]["Id"].split("/")[-1]  # fmt: skip
    overrides = {"HostedZoneId": zone}
    if WRITER_SECRET_PARAMETER in template.get("Parameters", {}):
        overrides[WRITER_SECRET_PARAMETER] = writer_secret
    try:
        deploy_stack(
            aws,
            template_file,
            stack_name=stack.stack_name,
            region=region,
            s3_bucket=bucket,
            parameter_overrides=overrides,
        )
    except AwsCliError as error:
        failures = "\n".join(_failed_events_or_none(aws, stack.stack_name, region))
        pytest.fail(
            f"deploy failed: {error}\nfailed resources:\n{failures}\n"
            f"moto_server's last traceback:\n{moto_server.last_traceback()}"
        )
    return zone, zones


def _failed_events_or_none(aws: AwsCli, stack_name: str, region: str) -> list[str]:
    try:
        return failed_events(aws, stack_name, region)
    except AwsCliError:
        return ["(no stack events: the stack was not created)"]


def expected_subnets(vpc_cidr: str, zones: list[str], az_count: int) -> dict[str, tuple[str, str]]:
    """Logical ID -> (CIDR, zone), worked out here independently of the compiler: the VPC
    in quarters, one per tier (public, private, database; the fourth spare), each quarter
    in eighths, one per AZ; subnet N of a tier in the N-th zone as Fn::GetAZs lists them."""
    quarters = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=2))
    return {
        f"{tier}Subnet{az + 1}": (
            str(list(quarters[index].subnets(prefixlen_diff=3))[az]),
            zones[az],
        )
        for index, tier in enumerate(TIERS)
        for az in range(az_count)
    }


def region_cidr(spec: InfraSpec, region: str) -> str:
    return next(r.cidr for r in spec.regions if r.name == region)


def test_stack_reaches_create_complete(deployed: DeployedStack, aws: AwsCli):
    assert stack_status(aws, deployed.stack_name, deployed.region) == "CREATE_COMPLETE"


def test_vpc_with_the_spec_cidr_exists_in_the_region(deployed: DeployedStack, aws: AwsCli):
    cidr = region_cidr(deployed.spec, deployed.region)
    vpcs = aws.run_json(
        "ec2", "describe-vpcs", "--filters", f"Name=cidr-block-association.cidr-block,Values={cidr}",
        region=deployed.region,
    )["Vpcs"]  # fmt: skip
    assert [v["VpcId"] for v in vpcs] == [deployed.physical_id("Vpc")]
    assert vpcs[0]["CidrBlock"] == cidr


def test_subnets_have_the_computed_cidrs_one_per_az(deployed: DeployedStack, aws: AwsCli):
    az_count = deployed.spec.network.availability_zones
    subnets = aws.run_json(
        "ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={deployed.physical_id('Vpc')}",
        region=deployed.region,
    )["Subnets"]  # fmt: skip
    assert len(subnets) == len(TIERS) * az_count
    by_id = {s["SubnetId"]: s for s in subnets}
    expected = expected_subnets(
        region_cidr(deployed.spec, deployed.region), deployed.availability_zones, az_count
    )
    actual = {}
    for logical_id in expected:
        subnet = by_id[deployed.physical_id(logical_id)]
        actual[logical_id] = (subnet["CidrBlock"], subnet["AvailabilityZone"])
    assert actual == expected
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)


def test_auto_scaling_group_spans_the_private_subnets(deployed: DeployedStack, aws: AwsCli):
    compute = deployed.spec.compute
    groups = aws.run_json(
        "autoscaling", "describe-auto-scaling-groups",
        "--auto-scaling-group-names", deployed.physical_id("AutoScalingGroup"),
        region=deployed.region,
    )["AutoScalingGroups"]  # fmt: skip
    assert len(groups) == 1
    group = groups[0]
    assert group["MinSize"] == compute.min_size
    assert group["MaxSize"] == compute.max_size
    assert group["DesiredCapacity"] == compute.desired_capacity
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(deployed.subnet_ids("Private"))
    assert group["TargetGroupARNs"] == [deployed.physical_id("AppTargetGroup")]
    assert group["HealthCheckType"] == "ELB"
    assert len(group["Instances"]) == compute.desired_capacity


def test_load_balancer_is_internet_facing_in_the_public_subnets(
    deployed: DeployedStack, aws: AwsCli
):
    arn = deployed.physical_id("LoadBalancer")
    balancers = aws.run_json(
        "elbv2", "describe-load-balancers", "--load-balancer-arns", arn, region=deployed.region
    )["LoadBalancers"]
    assert len(balancers) == 1
    balancer = balancers[0]
    assert balancer["Scheme"] == "internet-facing"
    assert balancer["Type"] == "application"
    assert balancer["VpcId"] == deployed.physical_id("Vpc")
    assert sorted(az["SubnetId"] for az in balancer["AvailabilityZones"]) == sorted(
        deployed.subnet_ids("Public")
    )
    listeners = aws.run_json(
        "elbv2", "describe-listeners", "--load-balancer-arn", arn, region=deployed.region
    )["Listeners"]
    by_port = {listener["Port"]: listener for listener in listeners}
    assert sorted(by_port) == [80, 443]
    assert by_port[80]["DefaultActions"][0]["Type"] == "redirect"
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["DefaultActions"][0]["TargetGroupArn"] == deployed.physical_id(
        "AppTargetGroup"
    )


def test_database_is_multi_az_postgres_in_the_database_subnets(
    deployed: DeployedStack, aws: AwsCli
):
    database = deployed.spec.database
    instances = aws.run_json(
        "rds", "describe-db-instances",
        "--db-instance-identifier", deployed.physical_id("Database"),
        region=deployed.region,
    )["DBInstances"]  # fmt: skip
    assert len(instances) == 1
    instance = instances[0]
    assert instance["Engine"] == "postgres"
    assert instance["EngineVersion"] == database.engine_version
    assert instance["MultiAZ"] is database.multi_az
    assert instance["DBInstanceClass"] == database.instance_class
    assert instance["StorageEncrypted"] is True
    if deployed.region == deployed.spec.primary_region:
        assert instance.get("ReadReplicaSourceDBInstanceIdentifier") is None
        subnets = [s["SubnetIdentifier"] for s in instance["DBSubnetGroup"]["Subnets"]]
        assert sorted(subnets) == sorted(deployed.subnet_ids("Database"))
    else:
        # A replica of the writer region's database (whose subnet group moto gives it:
        # see moto_shim.replica_subnet_group_from_source).
        source = instance["ReadReplicaSourceDBInstanceIdentifier"]
        writer = f"{deployed.spec.project}-{deployed.spec.environment}-db"
        assert source.endswith(f":db:{writer}") or source == writer


def test_route53_record_and_health_check_exist(deployed: DeployedStack, aws: AwsCli):
    dns = deployed.spec.dns
    records = aws.run_json(
        "route53", "list-resource-record-sets", "--hosted-zone-id", deployed.hosted_zone_id,
        region=deployed.region,
    )["ResourceRecordSets"]  # fmt: skip
    ours = [r for r in records if r["Name"].rstrip(".") == dns.record_name and r["Type"] == "A"]
    assert len(ours) == 1, records
    expected_role = "PRIMARY" if deployed.region == deployed.spec.primary_region else "SECONDARY"
    assert ours[0].get("Failover") == expected_role
    assert ours[0]["SetIdentifier"] == deployed.region
    checks = aws.run_json("route53", "list-health-checks", region=deployed.region)["HealthChecks"]
    https = [c for c in checks if c["HealthCheckConfig"].get("Type") == "HTTPS"]
    assert https, checks
    assert https[0]["HealthCheckConfig"]["Port"] == 443
