"""The moto shim's rewrites, checked offline (no emulator): each does its one thing."""

from __future__ import annotations

import json

import pytest

from .moto_shim import (
    STAND_IN_PASSWORD,
    MotoGapError,
    acm_certificate_arns,
    parameter_groups,
    rewrite_for_moto,
)

SPEC_CERT = "arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-2222-4e5f-8a9b-000000000002"
MOTO_CERT = "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ZONES = ["us-west-2a", "us-west-2b", "us-west-2c"]


def rewrite(resources: dict, **overrides) -> dict:
    options = {
        "availability_zones": ZONES,
        "certificate_arns": {SPEC_CERT: MOTO_CERT},
        "parameter_group_names": {},
    } | overrides
    return rewrite_for_moto({"Resources": resources}, **options)["Resources"]


def test_get_azs_selects_become_the_regions_zone_names():
    subnet = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"AvailabilityZone": {"Fn::Select": [2, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]}},
    }  # fmt: skip
    assert rewrite({"S": subnet})["S"]["Properties"]["AvailabilityZone"] == "us-west-2c"


def test_certificate_arns_are_found_and_replaced_everywhere():
    listener = {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {"Certificates": [{"CertificateArn": SPEC_CERT}]},
    }
    template = {"Resources": {"L": listener}, "Mappings": {"RegionMap": {"x": {"Cert": SPEC_CERT}}}}
    assert acm_certificate_arns(template) == {SPEC_CERT: "us-west-2"}
    rewritten = rewrite_for_moto(
        template, availability_zones=ZONES, certificate_arns={SPEC_CERT: MOTO_CERT},
        parameter_group_names={},
    )  # fmt: skip
    assert SPEC_CERT not in json.dumps(rewritten)
    assert (
        rewritten["Resources"]["L"]["Properties"]["Certificates"][0]["CertificateArn"] == MOTO_CERT
    )


def test_parameter_group_is_dropped_and_its_name_inlined():
    resources = {
        "Params": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {"Family": "postgres17"}},
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "DependsOn": ["Params", "Other"],
            "Properties": {"DBParameterGroupName": {"Ref": "Params"}},
        },
    }
    rewritten = rewrite(resources, parameter_group_names={"Params": "stack-params"})
    assert "Params" not in rewritten
    assert rewritten["Db"]["Properties"]["DBParameterGroupName"] == "stack-params"
    assert rewritten["Db"]["DependsOn"] == ["Other"]


def test_tags_take_the_shape_moto_reads():
    resources = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"Tags": [{"Key": "Team", "Value": "p"}]}},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Tags": {"Team": "p"}}},
    }
    rewritten = rewrite(resources)
    assert rewritten["Key"]["Properties"]["Tags"] == [{"TagKey": "Team", "TagValue": "p"}]
    assert rewritten["Param"]["Properties"]["Tags"] == [{"Key": "Team", "Value": "p"}]


def test_target_group_full_name_is_cut_from_the_arn():
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Dimensions": [
        {"Name": "TargetGroup", "Value": {"Fn::GetAtt": ["Tg", "TargetGroupFullName"]}}
    ]}}  # fmt: skip
    value = rewrite({"A": alarm})["A"]["Properties"]["Dimensions"][0]["Value"]
    assert value == {"Fn::Select": [5, {"Fn::Split": [":", {"Ref": "Tg"}]}]}


def test_trail_arn_is_built_from_the_trail_name():
    trail = {"Type": "AWS::CloudTrail::Trail", "Properties": {"TrailName": "p-e-trail"}}
    policy = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"Resource": [
        {"Fn::GetAtt": ["Trail", "Arn"]}, {"Fn::GetAtt": ["Other", "Arn"]}
    ]}}  # fmt: skip
    resources = rewrite({"Trail": trail, "Policy": policy})
    trail_arn = "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/p-e-trail"
    assert resources["Policy"]["Properties"]["Resource"] == [
        {"Fn::Sub": trail_arn},
        {"Fn::GetAtt": ["Other", "Arn"]},
    ]
    assert resources["Trail"] == trail


def test_database_secret_arn_gets_a_stand_in_of_the_same_shape():
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Value": {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]},
        "Other": {"Fn::GetAtt": ["Database", "Endpoint.Address"]},
    }}  # fmt: skip
    properties = rewrite({"P": parameter})["P"]["Properties"]
    assert properties["Value"] == {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:rds!db-database-AbCdEf"
    }
    assert properties["Other"] == {"Fn::GetAtt": ["Database", "Endpoint.Address"]}


def test_a_stack_secret_becomes_a_stand_in_arn_and_its_password_a_literal():
    secret = {
        "Type": "AWS::SecretsManager::Secret",
        "Condition": "IsWriterRegion",
        "Properties": {"GenerateSecretString": {"GenerateStringKey": "password"}},
    }
    database = {"Type": "AWS::RDS::DBInstance", "Properties": {
        "MasterUserPassword": {
            "Fn::Sub": "{{resolve:secretsmanager:${DatabaseMasterSecret}:SecretString:password}}"
        },
        "DBName": {"Fn::Sub": "${AWS::StackName}"},
    }}  # fmt: skip
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Value": {"Fn::If": ["IsWriterRegion", {"Ref": "DatabaseMasterSecret"}, {"Ref": "P"}]}
    }}  # fmt: skip
    resources = rewrite({"DatabaseMasterSecret": secret, "Database": database, "X": parameter})
    assert "DatabaseMasterSecret" not in resources  # moto would skip it, its Ref empty
    assert resources["Database"]["Properties"]["MasterUserPassword"] == STAND_IN_PASSWORD
    assert resources["Database"]["Properties"]["DBName"] == {"Fn::Sub": "${AWS::StackName}"}
    assert resources["X"]["Properties"]["Value"]["Fn::If"][1] == {
        "Fn::Sub": "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        ":secret:DatabaseMasterSecret-AbCdEf"
    }
    assert resources["X"]["Properties"]["Value"]["Fn::If"][2] == {"Ref": "P"}


def test_retain_except_on_create_becomes_the_retain_moto_knows():
    bucket = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"}
    queue = {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"}
    resources = rewrite({"Bucket": bucket, "Queue": queue})
    assert resources["Bucket"]["DeletionPolicy"] == "Retain"
    assert resources["Queue"]["DeletionPolicy"] == "Delete"
    # moto_launcher.py knows the policy: for it, the template keeps it.
    kept = rewrite({"Bucket": bucket}, keep_retain_except_on_create=True)
    assert kept["Bucket"]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_functions_moto_cannot_evaluate_are_refused():
    vpc = {
        "Type": "AWS::EC2::VPC",
        "Properties": {"CidrBlock": {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}},
    }
    with pytest.raises(MotoGapError, match="Fn::Cidr"):
        rewrite({"Vpc": vpc})


def test_every_regional_template_of_the_example_is_covered(compiled, region):
    template = compiled.template(region)
    certificates = {arn: MOTO_CERT for arn in acm_certificate_arns(template)}
    groups = {logical_id: f"twin-{logical_id}" for logical_id in parameter_groups(template)}
    assert certificates, "the listener's certificate ARN should be found"
    rewritten = rewrite_for_moto(  # raises MotoGapError if a function moto lacks is left
        template,
        availability_zones=[f"{region}{letter}" for letter in "abcdef"],
        certificate_arns=certificates,
        parameter_group_names=groups,
    )
    assert not set(groups) & set(rewritten["Resources"])
