"""Security groups: internet -> ALB (80/443) -> app -> database (5432), and nothing else."""

from __future__ import annotations

import pytest

from compiler.builders.network import build_network
from compiler.builders.security_groups import build_security_groups
from compiler.context import RegionContext

from .example import KEY, get_att, group_id, make_spec, regional_template, resources

ANYWHERE = ("0.0.0.0/0", "::/0")
# AWS adds allow-all egress to a group with no egress rule; a rule matching nothing
# (ICMP to the broadcast address) is the idiom that keeps a group without egress.
NO_EGRESS = "255.255.255.255/32"
ALB, APP, DB = "LoadBalancerSecurityGroup", "AppSecurityGroup", "DatabaseSecurityGroup"


def ingress_rules(template: dict) -> list[tuple[str, dict]]:
    """(group, rule) for every ingress rule, whether inline or a resource of its own."""
    rules = []
    for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
        rules += [(name, rule) for rule in group["Properties"].get("SecurityGroupIngress", [])]
    for rule in resources(template, "AWS::EC2::SecurityGroupIngress").values():
        rule = rule["Properties"]
        rules.append((group_id(rule["GroupId"]), rule))
    return rules


def egress_rules(template: dict) -> list[tuple[str, dict]]:
    rules = []
    for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
        rules += [(name, rule) for rule in group["Properties"].get("SecurityGroupEgress", [])]
    for rule in resources(template, "AWS::EC2::SecurityGroupEgress").values():
        rule = rule["Properties"]
        rules.append((group_id(rule["GroupId"]), rule))
    return rules


def source(rule: dict) -> str:
    """A rule's peer: a CIDR, or the logical ID of a security group."""
    for key in ("CidrIp", "CidrIpv6", "SourcePrefixListId", "DestinationPrefixListId"):
        if key in rule:
            return rule[key]
    peer = rule.get("SourceSecurityGroupId") or rule.get("DestinationSecurityGroupId")
    return group_id(peer)


def summary(rules: list[tuple[str, dict]], group: str) -> set[tuple[str, int, int, str]]:
    return {
        (r["IpProtocol"], r["FromPort"], r["ToPort"], source(r)) for g, r in rules if g == group
    }


@pytest.fixture(scope="module")
def template():
    return regional_template(make_spec())


def test_builder_hands_out_the_three_group_ids():
    spec = make_spec()
    ctx = RegionContext.literal(spec, "us-east-1")
    network = build_network(spec, ctx, KEY).handle
    handle = build_security_groups(spec, ctx, network).handle
    assert handle.load_balancer.to_dict() == get_att(ALB, "GroupId")
    assert handle.app.to_dict() == get_att(APP, "GroupId")
    assert handle.database.to_dict() == get_att(DB, "GroupId")


def test_load_balancer_takes_only_http_and_https_from_anywhere(template):
    assert summary(ingress_rules(template), ALB) == {
        ("tcp", 80, 80, "0.0.0.0/0"),
        ("tcp", 443, 443, "0.0.0.0/0"),
    }


def test_load_balancer_sends_only_to_the_app_group(template):
    peers = {source(rule) for group, rule in egress_rules(template) if group == ALB}
    assert peers == {APP, NO_EGRESS}


@pytest.mark.parametrize(
    "app_port, ports",
    [(80, {80, 443}), (443, {80, 443}), (8080, {80, 443, 8080})],
)
def test_app_takes_web_ports_only_from_the_load_balancer(app_port, ports):
    template = regional_template(make_spec(compute={"app_port": app_port, "ssh_cidrs": []}))
    assert summary(ingress_rules(template), APP) == {("tcp", p, p, ALB) for p in ports}


def test_ssh_only_from_the_management_networks():
    cidrs = ["10.255.0.0/24", "192.168.10.0/28"]
    template = regional_template(make_spec(compute={"ssh_cidrs": cidrs}))
    rules = summary(ingress_rules(template), APP)
    assert {r for r in rules if r[3] != ALB} == {("tcp", 22, 22, c) for c in cidrs}


def test_no_ssh_rule_without_management_networks():
    template = regional_template(make_spec(compute={"ssh_cidrs": []}))
    for group, rule in ingress_rules(template):
        if rule["IpProtocol"] in ("-1", "all"):
            pytest.fail(f"{group} allows every protocol: {rule}")
        assert not rule["FromPort"] <= 22 <= rule["ToPort"], (group, rule)


def test_database_takes_postgres_only_from_the_app_group(template):
    assert summary(ingress_rules(template), DB) == {("tcp", 5432, 5432, APP)}


def test_database_group_has_no_real_egress(template):
    (rule,) = [r for g, r in egress_rules(template) if g == DB]
    assert rule["CidrIp"] == NO_EGRESS
    assert rule["IpProtocol"] == "icmp"


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_nothing_else_is_open_to_the_internet(region):
    template = regional_template(make_spec(compute={"app_port": 8080}), region)
    open_rules = [(g, r) for g, r in ingress_rules(template) if source(r) in ANYWHERE]
    assert {(g, r["FromPort"], r["ToPort"]) for g, r in open_rules} == {
        (ALB, 80, 80),
        (ALB, 443, 443),
    }
    # and no other resource type opens a port (a stray rule hidden elsewhere)
    for name, resource in template["Resources"].items():
        text = str(resource)
        if any(cidr in text for cidr in ANYWHERE):
            assert resource["Type"] in (
                "AWS::EC2::SecurityGroup",
                "AWS::EC2::Route",
            ), f"{name} mentions the whole internet"
