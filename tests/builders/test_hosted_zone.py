"""The public hosted zone: created by the global stack unless the spec names one."""

from __future__ import annotations

from compiler.assemble import build_global_template
from compiler.builders import dns as regional_dns
from compiler.builders.hosted_zone import HOSTED_ZONE_ID, HOSTED_ZONE_OUTPUT, NAME_SERVERS_OUTPUT

from .example import make_spec, props, ref, resources

GIVEN_ZONE = "Z0123456789ABCDEFGHIJ"


def global_template(**sections) -> dict:
    return build_global_template(make_spec(**sections)).to_dict()


def test_zone_is_created_when_the_spec_names_none():
    template = global_template()
    (name,) = resources(template, "AWS::Route53::HostedZone")
    assert name == HOSTED_ZONE_ID
    assert props(template, HOSTED_ZONE_ID)["Name"] == "example.com"
    assert template["Resources"][HOSTED_ZONE_ID]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_created_zone_outputs_its_id_and_name_servers():
    outputs = global_template()["Outputs"]
    assert outputs[HOSTED_ZONE_OUTPUT]["Value"] == ref(HOSTED_ZONE_ID)
    assert outputs[HOSTED_ZONE_OUTPUT]["Export"] == {"Name": "storefront-production-HostedZoneId"}
    assert outputs[NAME_SERVERS_OUTPUT]["Value"] == {
        "Fn::Join": [",", {"Fn::GetAtt": [HOSTED_ZONE_ID, "NameServers"]}]
    }


def test_zone_output_feeds_the_regional_parameter_of_the_same_name():
    assert HOSTED_ZONE_OUTPUT == regional_dns.HOSTED_ZONE_PARAMETER


def test_no_zone_and_no_zone_outputs_when_the_spec_names_one():
    template = global_template(dns={"hosted_zone_id": GIVEN_ZONE})
    assert not resources(template, "AWS::Route53::HostedZone")
    assert HOSTED_ZONE_OUTPUT not in template["Outputs"]
    assert NAME_SERVERS_OUTPUT not in template["Outputs"]


def test_deploy_roles_name_the_given_zone():
    template = global_template(dns={"hosted_zone_id": GIVEN_ZONE})
    zone_arns = [
        statement["Resource"]
        for policy in resources(template, "AWS::IAM::ManagedPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Sid"] in ("SiteRecordsInTheZone", "ReadTheZone")
    ]
    assert (
        zone_arns
        == [
            {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:route53:::hostedzone/${Zone}",
                    {"Zone": GIVEN_ZONE},
                ]
            }
        ]
        * 2
    )


def test_created_zone_is_tagged():
    tags = props(global_template(), HOSTED_ZONE_ID)["HostedZoneTags"]
    assert {"Key": "Team", "Value": "platform"} in tags
