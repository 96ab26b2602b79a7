"""Templates as CloudFormation sees them in one region: conditions and present resources."""

from __future__ import annotations

from compiler.template_regions import (
    UNKNOWN,
    condition_values,
    mapped_regions,
    present_resources,
    resolve,
)

REGION = {"Ref": "AWS::Region"}
MAPPINGS = {
    "RegionMap": {
        "us-east-1": {"EventsRegion": "us-east-1", "Arn": "arn:x"},
        "eu-west-1": {"EventsRegion": "us-east-1", "Arn": ""},
    }
}


def lookup(key: str) -> dict:
    return {"Fn::FindInMap": ["RegionMap", REGION, key]}


TEMPLATE = {
    "Mappings": MAPPINGS,
    "Parameters": {"Flag": {"Type": "String"}},
    "Conditions": {
        "InEventsRegion": {"Fn::Equals": [REGION, lookup("EventsRegion")]},
        "NoArn": {"Fn::Equals": [lookup("Arn"), ""]},
        "Either": {"Fn::Or": [{"Condition": "InEventsRegion"}, {"Condition": "NoArn"}]},
        "Neither": {"Fn::Not": [{"Condition": "Either"}]},
        "Both": {"Fn::And": [{"Condition": "InEventsRegion"}, {"Condition": "NoArn"}]},
        "FlagSet": {"Fn::Equals": [{"Ref": "Flag"}, "yes"]},
        "FlagAndFalse": {"Fn::And": [{"Condition": "FlagSet"}, {"Condition": "Both"}]},
        "Loop": {"Fn::Not": [{"Condition": "Loop"}]},
    },
    "Resources": {
        "Always": {"Type": "AWS::SNS::Topic"},
        "EventsOnly": {"Type": "AWS::Events::Rule", "Condition": "InEventsRegion"},
        "Certificate": {"Type": "AWS::CertificateManager::Certificate", "Condition": "NoArn"},
        "Flagged": {"Type": "AWS::SQS::Queue", "Condition": "FlagSet"},
    },
}


def test_conditions_in_each_region():
    assert condition_values(TEMPLATE, "us-east-1") == {
        "InEventsRegion": True,
        "NoArn": False,
        "Either": True,
        "Neither": False,
        "Both": False,
        "FlagSet": None,  # a parameter: unknown from the template alone
        "FlagAndFalse": False,  # false whatever the parameter is
        "Loop": None,  # CloudFormation refuses a circular condition; no guess here
    }
    values = condition_values(TEMPLATE, "eu-west-1")
    assert (values["InEventsRegion"], values["NoArn"], values["Both"]) == (False, True, False)


def test_present_resources_leave_out_those_whose_condition_is_false():
    assert list(present_resources(TEMPLATE, "us-east-1")) == ["Always", "EventsOnly", "Flagged"]
    assert list(present_resources(TEMPLATE, "eu-west-1")) == ["Always", "Certificate", "Flagged"]


def test_a_region_the_mappings_do_not_know_leaves_lookups_unknown():
    assert resolve(lookup("Arn"), MAPPINGS, "ap-south-1") is UNKNOWN
    assert condition_values(TEMPLATE, "ap-south-1")["NoArn"] is None
    assert "Certificate" in present_resources(TEMPLATE, "ap-south-1")


def test_hand_edited_shapes_are_unknown_not_errors():
    broken = {
        "Conditions": {"Odd": {"Fn::Equals": "not a list"}, "Two": {"Fn::Or": [], "x": 1}},
        "Resources": {"A": {"Type": "T", "Condition": "Missing"}, "B": "text", "C": []},
    }
    assert condition_values(broken, "us-east-1") == {"Odd": None, "Two": None}
    assert list(present_resources(broken, "us-east-1")) == ["A", "B", "C"]
    assert present_resources({"Resources": []}, "us-east-1") == {}


def test_mapped_regions_are_the_region_mapping_keys():
    assert mapped_regions(TEMPLATE) == ["us-east-1", "eu-west-1"]
    assert mapped_regions({"Mappings": {"Other": {"a": {}}}}) == []
    assert mapped_regions({}) == []
