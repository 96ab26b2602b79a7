"""The VPC: tiers of subnets per AZ, routes that keep the database tier offline, flow logs."""

from __future__ import annotations

import ipaddress
from itertools import combinations

import pytest

from compiler.builders.network import build_network
from compiler.context import RegionContext

from .example import (
    KEY,
    get_att,
    make_spec,
    only,
    props,
    ref,
    regional_template,
    resources,
    route_tables_of,
    routes_of,
    tier_subnets,
)

TIERS = ("Public", "Private", "Database")


@pytest.fixture(scope="module")
def spec():
    return make_spec()


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


def test_vpc_has_the_region_cidr_and_dns(spec, template):
    _, vpc = only(template, "AWS::EC2::VPC")
    assert vpc["CidrBlock"] == spec.regions[0].cidr
    assert vpc["EnableDnsSupport"] is True
    assert vpc["EnableDnsHostnames"] is True


@pytest.mark.parametrize(
    "azs, cidrs",
    [
        (2, ("10.10.0.0/16", "10.20.0.0/16")),
        (3, ("10.10.0.0/16", "10.20.0.0/16")),
        (4, ("10.10.0.0/16", "10.20.0.0/16")),
        (3, ("10.10.0.0/22", "10.10.4.0/22")),
        (4, ("172.16.0.0/22", "192.168.0.0/22")),
    ],
)
def test_one_subnet_per_tier_and_az_inside_the_region_cidr_and_disjoint(azs, cidrs):
    spec = make_spec(
        network={"availability_zones": azs},
        regions=[
            {"name": "us-east-1", "cidr": cidrs[0]},
            {"name": "us-west-2", "cidr": cidrs[1]},
        ],
    )
    for region in spec.regions:
        template = regional_template(spec, region.name)
        subnets = resources(template, "AWS::EC2::Subnet")
        assert len(subnets) == len(TIERS) * azs
        vpc = ipaddress.ip_network(region.cidr)
        networks = {
            n: ipaddress.ip_network(s["Properties"]["CidrBlock"]) for n, s in subnets.items()
        }
        for name, network in networks.items():
            assert network.subnet_of(vpc), f"{name} {network} is outside {vpc}"
            assert network.prefixlen <= 27, f"{name} {network} is too small for an ALB"
        for (a, net_a), (b, net_b) in combinations(networks.items(), 2):
            assert not net_a.overlaps(net_b), f"{a} {net_a} overlaps {b} {net_b}"
        for tier in TIERS:
            names = tier_subnets(template, tier)
            assert [subnets[n]["Properties"]["AvailabilityZone"] for n in names] == [
                {"Fn::Select": [az, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]} for az in range(azs)
            ]
            for name in names:
                assert subnets[name]["Properties"]["VpcId"] == ref("Vpc")


def test_no_subnet_gives_instances_public_addresses(template):
    for name, subnet in resources(template, "AWS::EC2::Subnet").items():
        assert subnet["Properties"].get("MapPublicIpOnLaunch") is not True, name


def test_every_subnet_has_exactly_one_route_table(template):
    for name in resources(template, "AWS::EC2::Subnet"):
        assert len(route_tables_of(template, name)) == 1, name


def test_public_subnets_route_to_the_internet_gateway(template):
    igw, _ = only(template, "AWS::EC2::InternetGateway")
    for subnet in tier_subnets(template, "Public"):
        (table,) = route_tables_of(template, subnet)
        (route,) = routes_of(template, table)
        assert route["DestinationCidrBlock"] == "0.0.0.0/0"
        assert route["GatewayId"] == ref(igw)


@pytest.mark.parametrize("mode, expected", [("per_az", 3), ("single", 1)])
def test_nat_gateways_per_az_or_single(mode, expected):
    spec = make_spec(network={"nat_gateways": mode, "availability_zones": 3})
    built = build_network(spec, RegionContext.literal(spec, "us-east-1"), KEY)
    assert len(built.handle.nat_gateway_ids) == expected

    template = regional_template(spec)
    nats = resources(template, "AWS::EC2::NatGateway")
    assert len(nats) == expected
    public = tier_subnets(template, "Public")
    nat_subnets = [n["Properties"]["SubnetId"]["Ref"] for n in nats.values()]
    assert len(set(nat_subnets)) == expected
    assert set(nat_subnets) <= set(public)
    for nat in nats.values():
        eip = nat["Properties"]["AllocationId"]["Fn::GetAtt"][0]
        assert template["Resources"][eip]["Type"] == "AWS::EC2::EIP"


@pytest.mark.parametrize("mode", ["per_az", "single"])
def test_private_subnets_route_out_only_through_a_nat_gateway(mode):
    spec = make_spec(network={"nat_gateways": mode})
    template = regional_template(spec)
    nats = resources(template, "AWS::EC2::NatGateway")
    used = set()
    for subnet in tier_subnets(template, "Private"):
        (table,) = route_tables_of(template, subnet)
        (route,) = routes_of(template, table)
        assert route["DestinationCidrBlock"] == "0.0.0.0/0"
        assert set(route) == {"RouteTableId", "DestinationCidrBlock", "NatGatewayId"}
        nat = route["NatGatewayId"]["Ref"]
        assert nat in nats
        used.add(nat)
        if mode == "per_az":  # an AZ outage takes only that AZ's egress with it
            nat_subnet = nats[nat]["Properties"]["SubnetId"]["Ref"]
            assert (
                props(template, nat_subnet)["AvailabilityZone"]
                == props(template, subnet)["AvailabilityZone"]
            )
    assert used == set(nats)


def test_database_subnets_have_no_route_to_the_internet(template):
    tables = set()
    for subnet in tier_subnets(template, "Database"):
        (table,) = route_tables_of(template, subnet)
        tables.add(table)
        for route in routes_of(template, table):
            assert route.get("DestinationCidrBlock") != "0.0.0.0/0", route
            assert not {"GatewayId", "NatGatewayId", "EgressOnlyInternetGatewayId"} & set(route)
    others = {
        t for tier in ("Public", "Private") for s in tier_subnets(template, tier)
        for t in route_tables_of(template, s)
    }  # fmt: skip
    assert not tables & others


def test_flow_log_records_all_vpc_traffic_to_an_encrypted_log_group(spec, template):
    _, flow_log = only(template, "AWS::EC2::FlowLog")
    assert flow_log["ResourceId"] == ref("Vpc")
    assert flow_log["ResourceType"] == "VPC"
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    group = template["Resources"][flow_log["LogGroupName"]["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == spec.network.flow_logs_retention_days
    key, _ = only(template, "AWS::KMS::Key")
    assert group["Properties"]["KmsKeyId"] == get_att(key, "Arn")


def test_flow_log_retention_follows_the_spec():
    template = regional_template(make_spec(network={"flow_logs_retention_days": 365}))
    _, flow_log = only(template, "AWS::EC2::FlowLog")
    assert props(template, flow_log["LogGroupName"]["Ref"])["RetentionInDays"] == 365


def test_flow_log_role_writes_only_to_its_log_group(template):
    _, flow_log = only(template, "AWS::EC2::FlowLog")
    role_id = flow_log["DeliverLogsPermissionArn"]["Fn::GetAtt"][0]
    group_id = flow_log["LogGroupName"]["Ref"]
    role = props(template, role_id)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert not role.get("ManagedPolicyArns")
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == get_att(group_id, "Arn")
        assert set(statement["Action"]) <= {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
        }
