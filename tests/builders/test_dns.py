"""Route 53 in each regional stack: a health check on the region's ALB and the region's
alias record, PRIMARY/SECONDARY for failover or per region for latency."""

from __future__ import annotations

import pytest

from compiler.builders import dns as dns_module
from compiler.builders.dns import HOSTED_ZONE_PARAMETER, build_hosted_zone
from compiler.context import REGION_MAP, RegionContext, region_values

from .example import every_template, get_att, make_spec, only, ref, regional_template

ZONE_ID = "Z0123456789ABCDEFGHIJ"
THREE_REGIONS = [
    {"name": "us-east-1", "cidr": "10.10.0.0/16"},
    {"name": "us-west-2", "cidr": "10.20.0.0/16"},
    {"name": "eu-west-1", "cidr": "10.30.0.0/16"},
]
ON_THE_REGION = {"Ref": "AWS::Region"}


@pytest.fixture(scope="module")
def failover():
    return make_spec()  # the example: failover between us-east-1 and us-west-2


@pytest.fixture(scope="module")
def latency():
    return make_spec(regions=THREE_REGIONS, dns={"routing": "latency"})


def record(template: dict) -> dict:
    return only(template, "AWS::Route53::RecordSet")[1]


def health_check(template: dict) -> tuple[str, dict]:
    name, properties = only(template, "AWS::Route53::HealthCheck")
    return name, properties


# -- failover ----------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "role"), [("us-east-1", "PRIMARY"), ("us-west-2", "SECONDARY")])
def test_failover_record_is_primary_in_the_first_region_secondary_in_the_second(
    failover, region, role
):
    template = regional_template(failover, region)
    answer = record(template)
    assert answer["Failover"] == role
    assert answer["SetIdentifier"] == ON_THE_REGION
    assert "Region" not in answer
    check, _ = health_check(template)
    assert answer["HealthCheckId"] == ref(check)


def test_failover_roles_are_region_values(failover):
    assert region_values(failover, "us-east-1")["FailoverRole"] == "PRIMARY"
    assert region_values(failover, "us-west-2")["FailoverRole"] == "SECONDARY"
    stackset = every_template(failover)["stackset.json"]
    assert record(stackset)["Failover"] == {
        "Fn::FindInMap": [REGION_MAP, ON_THE_REGION, "FailoverRole"]
    }


def test_record_is_an_alias_of_the_regions_load_balancer(failover):
    answer = record(regional_template(failover))
    assert answer["Name"] == "shop.example.com"
    assert answer["Type"] == "A"
    assert answer["HostedZoneId"] == ref(HOSTED_ZONE_PARAMETER)
    assert answer["AliasTarget"] == {
        "DNSName": get_att("LoadBalancer", "DNSName"),
        "HostedZoneId": get_att("LoadBalancer", "CanonicalHostedZoneID"),
        "EvaluateTargetHealth": True,
    }
    assert "TTL" not in answer and "ResourceRecords" not in answer  # alias records have none


# -- latency -----------------------------------------------------------------------------


@pytest.mark.parametrize("region", [r["name"] for r in THREE_REGIONS])
def test_latency_record_in_each_of_three_regions(latency, region):
    template = regional_template(latency, region)
    answer = record(template)
    # Both resolve to the stack's region: one record per region, latency-routed to it.
    assert answer["Region"] == ON_THE_REGION
    assert answer["SetIdentifier"] == ON_THE_REGION
    assert "Failover" not in answer
    check, _ = health_check(template)
    assert answer["HealthCheckId"] == ref(check)


def test_latency_needs_no_failover_role(latency):
    assert "FailoverRole" not in region_values(latency, "eu-west-1")
    stackset = every_template(latency)["stackset.json"]
    assert record(stackset)["Region"] == ON_THE_REGION
    assert "FailoverRole" not in stackset["Mappings"][REGION_MAP]["eu-west-1"]


# -- health check ------------------------------------------------------------------------


def test_health_check_is_https_on_the_albs_own_name(failover):
    _, check = health_check(regional_template(failover))
    config = check["HealthCheckConfig"]
    assert config == {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": get_att("LoadBalancer", "DNSName"),
        "Port": 443,
        "ResourcePath": failover.load_balancer.health_check_path,
        "RequestInterval": 30,
        "FailureThreshold": 3,
        "EnableSNI": False,
        "MeasureLatency": True,
    }


def test_health_check_takes_the_dns_path_interval_and_threshold():
    spec = make_spec(
        dns={
            "health_check_path": "/dns-health",
            "health_check_interval_seconds": 10,
            "failure_threshold": 5,
        },
        load_balancer={"health_check_path": "/ready"},
    )
    config = health_check(regional_template(spec))[1]["HealthCheckConfig"]
    assert config["ResourcePath"] == "/dns-health"
    assert config["RequestInterval"] == 10
    assert config["FailureThreshold"] == 5


def test_health_check_path_defaults_to_the_load_balancers():
    spec = make_spec(load_balancer={"health_check_path": "/ready"})
    config = health_check(regional_template(spec))[1]["HealthCheckConfig"]
    assert config["ResourcePath"] == "/ready"


def test_health_check_is_named_for_its_region_and_tagged(failover):
    _, check = health_check(regional_template(failover))
    tags = {tag["Key"]: tag["Value"] for tag in check["HealthCheckTags"]}
    assert tags["Name"] == {"Fn::Sub": "storefront-production-${AWS::Region}"}
    assert tags["Team"] == "platform"


# -- hosted zone -------------------------------------------------------------------------


def test_zone_comes_from_the_global_stack_without_hosted_zone_id(failover):
    parameters = regional_template(failover)["Parameters"]
    assert parameters[HOSTED_ZONE_PARAMETER]["Type"] == "AWS::Route53::HostedZone::Id"
    assert "Default" not in parameters[HOSTED_ZONE_PARAMETER]
    handle = build_hosted_zone(failover, RegionContext.literal(failover, "us-east-1")).handle
    assert handle.parameter_name == HOSTED_ZONE_PARAMETER
    assert not handle.given_in_spec


def test_given_hosted_zone_id_is_the_parameters_default():
    spec = make_spec(dns={"hosted_zone_id": ZONE_ID})
    for template in every_template(spec).values():
        if "Parameters" in template and HOSTED_ZONE_PARAMETER in template["Parameters"]:
            assert template["Parameters"][HOSTED_ZONE_PARAMETER]["Default"] == ZONE_ID
    handle = build_hosted_zone(spec, RegionContext.literal(spec, "us-east-1")).handle
    assert handle.given_in_spec
    assert record(regional_template(spec))["HostedZoneId"] == ref(HOSTED_ZONE_PARAMETER)


def test_parameter_is_named_like_the_global_stacks_output():
    hosted_zone = pytest.importorskip("compiler.builders.hosted_zone")
    assert hosted_zone.HOSTED_ZONE_OUTPUT == dns_module.HOSTED_ZONE_PARAMETER
