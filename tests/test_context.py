"""Region values: subnet math, and the same builders fed literals or mapping lookups."""

from __future__ import annotations

import ipaddress

import pytest

from compiler.assemble import build_regional_template
from compiler.context import (
    REGION_MAP,
    RegionContext,
    region_mappings,
    region_values,
    subnet_cidr_key,
)
from tests.builders.example import make_spec, resources

TIERS = ("public", "private", "database")


def two_regions(first: str, second: str) -> list[dict]:
    return [{"name": "us-east-1", "cidr": first}, {"name": "us-west-2", "cidr": second}]


def subnets(values: dict[str, str]) -> dict[str, list[str]]:
    return {
        tier: [values[k] for k in sorted(values) if k.startswith(tier.capitalize() + "Subnet")]
        for tier in TIERS
    }


def test_a_16_gives_each_tier_a_quarter_cut_in_21s():
    spec = make_spec(regions=two_regions("10.10.0.0/16", "10.20.0.0/16"))
    values = region_values(spec, "us-east-1")
    assert values["VpcCidr"] == "10.10.0.0/16"
    assert subnets(values) == {
        "public": ["10.10.0.0/21", "10.10.8.0/21", "10.10.16.0/21"],
        "private": ["10.10.64.0/21", "10.10.72.0/21", "10.10.80.0/21"],
        "database": ["10.10.128.0/21", "10.10.136.0/21", "10.10.144.0/21"],
    }
    assert subnets(region_values(spec, "us-west-2"))["database"][0] == "10.20.128.0/21"


def test_a_22_gives_27s_the_smallest_a_load_balancer_accepts():
    spec = make_spec(
        regions=two_regions("10.0.0.0/22", "10.0.4.0/22"), network={"availability_zones": 4}
    )
    assert subnets(region_values(spec, "us-east-1")) == {
        "public": ["10.0.0.0/27", "10.0.0.32/27", "10.0.0.64/27", "10.0.0.96/27"],
        "private": ["10.0.1.0/27", "10.0.1.32/27", "10.0.1.64/27", "10.0.1.96/27"],
        "database": ["10.0.2.0/27", "10.0.2.32/27", "10.0.2.64/27", "10.0.2.96/27"],
    }
    assert subnets(region_values(spec, "us-west-2"))["public"][0] == "10.0.4.0/27"


@pytest.mark.parametrize("cidr", ["10.10.0.0/16", "10.10.0.0/19", "10.10.0.0/22"])
def test_subnets_never_overlap_and_stay_inside_the_vpc(cidr):
    spec = make_spec(regions=two_regions(cidr, "10.200.0.0/16"), network={"availability_zones": 4})
    values = region_values(spec, "us-east-1")
    vpc = ipaddress.ip_network(cidr)
    networks = [ipaddress.ip_network(c) for tier in subnets(values).values() for c in tier]
    assert len(networks) == 12
    assert all(n.subnet_of(vpc) for n in networks)
    assert len({n.network_address for n in networks}) == 12
    for i, a in enumerate(networks):
        assert not any(a.overlaps(b) for b in networks[i + 1 :])


def test_region_values_carry_the_regions_certificate_and_log_account():
    spec = make_spec()
    for region in spec.regions:
        values = region_values(spec, region.name)
        assert values["CertificateArn"] == spec.load_balancer.certificate_arns[region.name]
        assert values["ElbLogAccount"].isdigit() and len(values["ElbLogAccount"]) == 12
    assert (
        region_values(spec, "us-east-1")["ElbLogAccount"]
        != region_values(spec, "us-west-2")["ElbLogAccount"]
    )


def newer_region_spec(*names: str):
    regions = [{"name": name, "cidr": f"10.{10 * (i + 1)}.0.0/16"} for i, name in enumerate(names)]
    return make_spec(regions=regions, load_balancer={"certificate_arns": {}})


def test_a_region_without_elb_account_has_an_empty_one_beside_regions_with_one():
    # the StackSet mapping needs the key in every region once any region has it
    spec = newer_region_spec("us-east-1", "ca-west-1")
    assert region_values(spec, "ca-west-1")["ElbLogAccount"] == ""
    assert region_values(spec, "us-east-1")["ElbLogAccount"] == "127311923021"


def test_no_elb_account_key_when_no_region_has_one():
    spec = newer_region_spec("ca-west-1", "mx-central-1")
    assert "ElbLogAccount" not in region_values(spec, "ca-west-1")


def test_literal_context_gives_the_regions_values():
    spec = make_spec()
    ctx = RegionContext.literal(spec, "us-west-2")
    assert ctx.region_name == "us-west-2"
    assert ctx.vpc_cidr() == "10.20.0.0/16"
    assert ctx.subnet_cidr("private", 1) == region_values(spec, "us-west-2")["PrivateSubnet2Cidr"]
    assert ctx.certificate_arn() == spec.load_balancer.certificate_arns["us-west-2"]


def test_mapped_context_looks_values_up_by_region():
    spec = make_spec()
    ctx = RegionContext.mapped(spec)
    assert ctx.region_name is None
    for value, key in [
        (ctx.vpc_cidr(), "VpcCidr"),
        (ctx.subnet_cidr("database", 2), "DatabaseSubnet3Cidr"),
        (ctx.certificate_arn(), "CertificateArn"),
        (ctx.elb_log_account(), "ElbLogAccount"),
    ]:
        assert value.to_dict() == {"Fn::FindInMap": [REGION_MAP, {"Ref": "AWS::Region"}, key]}


@pytest.mark.parametrize("mode", ["literal", "mapped"])
def test_unknown_values_are_refused_in_both_modes(mode):
    spec = make_spec(network={"availability_zones": 2})
    ctx = (
        RegionContext.literal(spec, "us-east-1")
        if mode == "literal"
        else RegionContext.mapped(spec)
    )
    with pytest.raises(KeyError):
        ctx.subnet_cidr("public", 2)  # a third AZ the spec does not have
    with pytest.raises(KeyError):
        ctx.value("NoSuchValue")


def test_availability_zones_are_looked_up_never_named():
    assert RegionContext.availability_zone(1).to_dict() == {
        "Fn::Select": [1, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]
    }


def test_region_mappings_hold_every_regions_values_under_the_same_keys():
    spec = make_spec()
    mappings = region_mappings(spec)
    assert list(mappings) == [r.name for r in spec.regions]
    for region in spec.regions:
        assert mappings[region.name] == region_values(spec, region.name)
    assert len({frozenset(v) for v in mappings.values()}) == 1
    assert subnet_cidr_key("public", 0) in mappings["us-east-1"]


def test_the_same_builders_serve_both_contexts():
    spec = make_spec()
    mapped = build_regional_template(spec, RegionContext.mapped(spec), "StackSet").to_dict()
    literal = build_regional_template(
        spec, RegionContext.literal(spec, "us-east-1"), "Regional"
    ).to_dict()
    assert set(mapped["Resources"]) == set(literal["Resources"])
    vpc = next(iter(resources(mapped, "AWS::EC2::VPC").values()))["Properties"]
    assert vpc["CidrBlock"] == {"Fn::FindInMap": [REGION_MAP, {"Ref": "AWS::Region"}, "VpcCidr"]}
    for name, subnet in resources(mapped, "AWS::EC2::Subnet").items():
        key = subnet["Properties"]["CidrBlock"]["Fn::FindInMap"][2]
        cidr = region_values(spec, "us-east-1")[key]
        assert literal["Resources"][name]["Properties"]["CidrBlock"] == cidr
