"""Every taggable resource carries Environment, Team, CostCenter and the spec's other tags.

Which types take tags is decided by CloudFormation's resource schemas (shipped with
cfn-lint), not by troposphere, so a resource the compiler forgot to tag fails here.
"""

from __future__ import annotations

import pytest
from troposphere import Tags, autoscaling, ec2, route53, ssm

from compiler.tagging import apply_tags, tag_property
from tests.builders.example import every_template, make_spec, only

TAGS = {"CostCenter": "cc-7", "Environment": "production", "Owner": "web team", "Team": "data"}
GLOBAL = "global.json"  # deploy roles, buckets, zone and trail: no instances
# us-east-1's alarms on the other regions' health checks (alarms are taggable): no instances
HEALTH_ALARMS = "health-alarms.json"
NO_INSTANCES = (GLOBAL, HEALTH_ALARMS)
# What the deploy roles' tag conditions look for (compiler/naming.py), on every resource.
PROJECT = {"infra:project": "storefront-production"}


@pytest.fixture(scope="module")
def templates():
    return every_template(
        make_spec(tags={"Team": "data", "CostCenter": "cc-7", "Owner": "web team"})
    )


@pytest.fixture(scope="module")
def schemas():
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    def tag_key(resource_type: str) -> str | None:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
        tagging = schema.get("tagging", {})
        if tagging.get("taggable") or "Tags" in schema["properties"]:
            return tagging.get("tagProperty", "/properties/Tags").removeprefix("/properties/")
        return None

    return tag_key


def tag_map(value) -> dict[str, str]:
    if isinstance(value, dict):  # e.g. AWS::SSM::Parameter takes a plain map
        return value
    return {tag["Key"]: tag["Value"] for tag in value}


def test_every_taggable_resource_has_the_spec_tags(templates, schemas):
    for path, template in templates.items():
        tagged = 0
        for name, resource in template["Resources"].items():
            prop = schemas(resource["Type"])
            if prop is None:
                continue
            tags = resource.get("Properties", {}).get(prop)
            assert tags, f"{path}: {name} ({resource['Type']}) has no {prop}"
            assert tag_map(tags).items() >= TAGS.items(), f"{path}: {name}"
            tagged += 1
        # the schema lookup did recognise taggable types
        least = {GLOBAL: 8, HEALTH_ALARMS: 1}.get(path, 30)
        assert tagged >= least, path


def test_auto_scaling_tags_propagate_to_instances(templates):
    for path, template in templates.items():
        if path in NO_INSTANCES:
            continue
        _, group = only(template, "AWS::AutoScaling::AutoScalingGroup")
        for tag in group["Tags"]:
            assert tag["PropagateAtLaunch"] is True, tag
        # compute adds the PatchGroup tag that selects the instances' patch baseline
        assert {t["Key"]: t["Value"] for t in group["Tags"]} == {
            **TAGS,
            **PROJECT,
            "PatchGroup": "storefront-production-web",
        }


def test_launch_template_tags_instances_and_volumes(templates):
    for path, template in templates.items():
        if path in NO_INSTANCES:
            continue
        _, launch = only(template, "AWS::EC2::LaunchTemplate")
        specs = launch["LaunchTemplateData"]["TagSpecifications"]
        assert {s["ResourceType"] for s in specs} >= {"instance", "volume"}
        for spec in specs:
            assert tag_map(spec["Tags"]) == {**TAGS, **PROJECT}
        # the template itself too: the deploy roles change only project-tagged EC2 resources
        (own,) = launch["TagSpecifications"]
        assert own["ResourceType"] == "launch-template"
        assert tag_map(own["Tags"]) == {**TAGS, **PROJECT}


def test_apply_tags_keeps_a_tag_the_builder_set():
    subnet = ec2.Subnet("S", VpcId="v", CidrBlock="10.0.0.0/24", Tags=Tags(Name="web", Team="x"))
    apply_tags(subnet, {"Team": "data", "CostCenter": "cc-7"})
    assert tag_map(subnet.to_dict()["Properties"]["Tags"]) == {
        "Name": "web",
        "Team": "x",
        "CostCenter": "cc-7",
    }


def test_apply_tags_on_an_auto_scaling_group_propagates():
    group = autoscaling.AutoScalingGroup(
        "G",
        MinSize="1",
        MaxSize="2",
        VPCZoneIdentifier=["subnet-1"],
        Tags=[autoscaling.Tag("Name", "web", False)],
    )
    apply_tags(group, {"Team": "data"})
    assert group.to_dict()["Properties"]["Tags"] == [
        {"Key": "Name", "Value": "web", "PropagateAtLaunch": False},
        {"Key": "Team", "Value": "data", "PropagateAtLaunch": True},
    ]


def test_apply_tags_uses_a_map_where_the_type_takes_one():
    parameter = ssm.Parameter("P", Type="String", Value="v", Tags={"Name": "p"})
    apply_tags(parameter, {"Team": "data"})
    assert parameter.to_dict()["Properties"]["Tags"] == {"Team": "data", "Name": "p"}


def test_apply_tags_uses_the_types_own_tag_property():
    zone = route53.HostedZone("Z", Name="example.com")
    assert tag_property(zone) == "HostedZoneTags"
    apply_tags(zone, {"Team": "data"})
    assert tag_map(zone.to_dict()["Properties"]["HostedZoneTags"]) == {"Team": "data"}


def test_apply_tags_leaves_untaggable_resources_alone():
    association = ec2.SubnetRouteTableAssociation("A", SubnetId="s", RouteTableId="r")
    assert tag_property(association) is None
    apply_tags(association, {"Team": "data"})
    assert "Tags" not in association.to_dict()["Properties"]
