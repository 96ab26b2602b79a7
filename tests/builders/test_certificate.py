"""The HTTPS listener's certificate: the spec's ARN, or an ACM certificate created (and
validated by DNS) in the regions without one, mixed freely, StackSet included."""

from __future__ import annotations

import copy
import json

import pytest

from compiler.assemble import assemble
from compiler.builders.certificate import (
    CERTIFICATE_ID,
    CREATE_CERTIFICATE_CONDITION,
    certificate_condition,
)
from compiler.builders.dns import HOSTED_ZONE_PARAMETER
from compiler.context import REGION_MAP, region_values
from compiler.lint import LintJob, lint_templates
from compiler.pipeline import lint_regions
from compiler.render import to_json_bytes
from tests.test_assemble import resolve_region_lookups

from .example import every_template, make_spec, ref, regional_template, resources

CERTIFICATE_TYPE = "AWS::CertificateManager::Certificate"
EAST_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-4e5f-8a9b-000000000001"
REGIONS = ("us-east-1", "us-west-2")


def listener_certificate(template: dict):
    (https,) = [
        listener["Properties"]
        for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
        if listener["Properties"]["Port"] == 443
    ]
    (certificate,) = https["Certificates"]
    return certificate["CertificateArn"]


def evaluate(condition: dict, region: str) -> bool:
    """A condition built of Fn::Equals/Or/Not on `AWS::Region`, as CloudFormation would."""
    (function, arguments) = next(iter(condition.items()))
    if function == "Fn::Equals":
        left, right = (region if a == {"Ref": "AWS::Region"} else a for a in arguments)
        return left == right
    if function == "Fn::Or":
        return any(evaluate(c, region) for c in arguments)
    if function == "Fn::Not":
        return not evaluate(arguments[0], region)
    raise AssertionError(f"unexpected condition function {function}")


@pytest.fixture(scope="module")
def given():
    return make_spec()  # the example: an ARN for each region


@pytest.fixture(scope="module")
def created():
    return make_spec(load_balancer={"certificate_arns": {}})


@pytest.fixture(scope="module")
def mixed():
    return make_spec(load_balancer={"certificate_arns": {"us-east-1": EAST_ARN}})


@pytest.fixture(scope="module")
def mixed_templates(mixed):
    return every_template(mixed)


# -- an ARN for every region -------------------------------------------------------------


def test_no_certificate_is_created_when_every_region_has_an_arn(given):
    for path, template in every_template(given).items():
        assert not resources(template, CERTIFICATE_TYPE), path
        assert CREATE_CERTIFICATE_CONDITION not in template.get("Conditions", {}), path


@pytest.mark.parametrize("region", REGIONS)
def test_listener_uses_the_regions_arn(given, region):
    arn = listener_certificate(regional_template(given, region))
    assert arn == given.load_balancer.certificate_arns[region]


# -- no ARNs: created in every region ----------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_certificate_is_created_for_the_record_and_validated_in_the_zone(created, region):
    template = regional_template(created, region)
    (name,) = resources(template, CERTIFICATE_TYPE)
    certificate = template["Resources"][name]
    assert name == CERTIFICATE_ID
    assert "Condition" not in certificate
    assert certificate["Properties"]["DomainName"] == "shop.example.com"
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    # With the zone, CloudFormation writes the validation record and waits for issue.
    assert certificate["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "shop.example.com", "HostedZoneId": ref(HOSTED_ZONE_PARAMETER)}
    ]
    assert listener_certificate(template) == ref(CERTIFICATE_ID)
    assert CREATE_CERTIFICATE_CONDITION not in template.get("Conditions", {})


def test_created_certificates_need_no_region_value(created):
    assert "CertificateArn" not in region_values(created, "us-east-1")
    stackset = every_template(created)["stackset.json"]
    assert listener_certificate(stackset) == ref(CERTIFICATE_ID)


# -- mixed: an ARN for us-east-1, created in us-west-2 -----------------------------------


@pytest.mark.parametrize(
    "path", ["regions/us-east-1.json", "regions/us-west-2.json", "stackset.json"]
)
def test_mixed_certificate_exists_only_where_no_arn_is_given(mixed_templates, path):
    template = mixed_templates[path]
    condition = template["Conditions"][CREATE_CERTIFICATE_CONDITION]
    assert template["Resources"][CERTIFICATE_ID]["Condition"] == CREATE_CERTIFICATE_CONDITION
    assert {region: evaluate(condition, region) for region in REGIONS} == {
        "us-east-1": False,
        "us-west-2": True,
    }


def test_mixed_listener_picks_the_created_certificate_or_the_arn(mixed_templates):
    def choice(otherwise):
        return {"Fn::If": [CREATE_CERTIFICATE_CONDITION, ref(CERTIFICATE_ID), otherwise]}

    assert listener_certificate(mixed_templates["regions/us-east-1.json"]) == choice(EAST_ARN)
    # "" is never used in us-west-2 (the condition holds there); the key exists so that
    # the StackSet's FindInMap never looks up a missing key.
    assert listener_certificate(mixed_templates["regions/us-west-2.json"]) == choice("")
    lookup = {"Fn::FindInMap": [REGION_MAP, {"Ref": "AWS::Region"}, "CertificateArn"]}
    assert listener_certificate(mixed_templates["stackset.json"]) == choice(lookup)
    assert {
        region: values["CertificateArn"]
        for region, values in mixed_templates["stackset.json"]["Mappings"][REGION_MAP].items()
    } == {"us-east-1": EAST_ARN, "us-west-2": ""}


def test_mixed_stackset_equals_each_regional_template_when_resolved(mixed, mixed_templates):
    stackset = copy.deepcopy(mixed_templates["stackset.json"])
    mappings = stackset.pop("Mappings")
    stackset.pop("Rules")
    for region in REGIONS:
        resolved = resolve_region_lookups(stackset, mappings, region)
        assert resolved == mixed_templates[f"regions/{region}.json"], region


@pytest.mark.full  # cfn-lint of a StackSet template in five regions: the full tier's
def test_mixed_stackset_lints_clean(mixed, mixed_templates, tmp_path, lint_cache):
    """The condition and Fn::If are what cfn-lint does not see in the example. The StackSet
    template is linted for both regions, in one of which the condition is false (cfn-lint
    takes seconds per template, so the regional ones are left to `infra compile`)."""
    stack = next(s for s in assemble(mixed) if s.kind == "stackset")
    path = tmp_path / "stackset.json"
    path.write_bytes(to_json_bytes(mixed_templates["stackset.json"]))
    job = LintJob(path, tuple(lint_regions(mixed, stack)))
    findings = lint_templates([job], cache_dir=lint_cache)
    assert not findings, "\n".join(map(str, findings))


# -- the condition for many regions ------------------------------------------------------

MANY = [f"region-{n}" for n in range(16)]


@pytest.mark.parametrize("creating_count", [1, 2, 8, 10, 11, 15])
def test_condition_holds_exactly_where_certificates_are_created(creating_count):
    creating, given = MANY[:creating_count], MANY[creating_count:]
    condition = json.loads(json.dumps(certificate_condition(creating, given).to_dict()))
    assert [region for region in MANY if evaluate(condition, region)] == creating
    # Fn::Or takes at most ten conditions
    text = json.dumps(condition)
    assert text.count("Fn::Equals") <= 10
