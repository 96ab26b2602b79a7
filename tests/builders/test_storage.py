"""S3 buckets: versioned, encrypted, private, TLS-only, old versions expired per the spec.

Besides the spec's buckets, each region has a log bucket for ALB and S3 access logs.
"""

from __future__ import annotations

import json

import pytest

from compiler.builders.storage import ELB_LOG_ACCOUNT_CONDITION
from compiler.conditions import resolve_conditions
from compiler.spec.regions import alb_log_delivery, commercial_regions
from compiler.template_regions import condition_values

from .example import (
    as_list,
    get_att,
    make_spec,
    ref,
    regional_template,
    regional_templates,
    resources,
)

BUCKETS = {"AssetsBucket": 90, "UploadsBucket": 30}
LOGS = "LogsBucket"


@pytest.fixture(scope="module")
def template():
    spec = make_spec(
        storage={
            "buckets": [
                {"name": "assets", "noncurrent_version_expiry_days": 90},
                {"name": "uploads", "noncurrent_version_expiry_days": 30},
            ]
        }
    )
    return regional_template(spec)


@pytest.fixture(scope="module")
def buckets(template):
    found = resources(template, "AWS::S3::Bucket")
    return {name: bucket["Properties"] for name, bucket in found.items()}


@pytest.fixture(scope="module")
def bucket_policies(template):
    found = resources(template, "AWS::S3::BucketPolicy").values()
    return {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"] for p in found}


def test_one_bucket_per_spec_bucket_and_the_log_bucket(buckets):
    assert set(buckets) == {*BUCKETS, LOGS}


def test_only_the_log_bucket_without_spec_buckets():
    template = regional_template(make_spec(storage={"buckets": []}, scheduled_tasks=[]))
    assert set(resources(template, "AWS::S3::Bucket")) == {LOGS}


def test_bucket_names_are_unique_per_account_and_region(buckets):
    name = buckets["AssetsBucket"]["BucketName"]["Fn::Sub"]
    assert name == "storefront-production-assets-${AWS::AccountId}-${AWS::Region}"


def test_buckets_are_versioned(buckets):
    for bucket in buckets.values():
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}


def test_spec_buckets_are_encrypted_with_the_data_key(buckets):
    for name in BUCKETS:
        (rule,) = buckets[name]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms"
        assert default["KMSMasterKeyID"] == get_att("DataKey", "Arn")


def test_log_bucket_is_encrypted(buckets):
    # ALB access logs can only be delivered to buckets with S3-managed keys.
    (rule,) = buckets[LOGS]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


def test_public_access_is_blocked_entirely(buckets):
    for bucket in buckets.values():
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert "AccessControl" not in bucket


def test_noncurrent_versions_expire_after_the_specs_days(buckets):
    for name, days in BUCKETS.items():
        rules = buckets[name]["LifecycleConfiguration"]["Rules"]
        expiring = [r for r in rules if "NoncurrentVersionExpiration" in r]
        assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in expiring] == [days]
        assert expiring[0]["Status"] == "Enabled"


def test_log_bucket_expires_logs_after_the_specs_days():
    spec = make_spec(storage={"access_log_retention_days": 400})
    log_bucket = regional_template(spec)["Resources"][LOGS]["Properties"]
    rules = log_bucket["LifecycleConfiguration"]["Rules"]
    assert [r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r] == [400]


def test_spec_buckets_log_access_to_the_log_bucket(buckets):
    for name in BUCKETS:
        assert buckets[name]["LoggingConfiguration"]["DestinationBucketName"] == ref(LOGS)


def test_buckets_are_retained_with_their_data(template, buckets):
    for name in buckets:
        assert template["Resources"][name]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_every_bucket_denies_plain_http(buckets, bucket_policies):
    assert set(bucket_policies) == set(buckets)
    for name, policy in bucket_policies.items():
        (deny,) = [
            s
            for s in policy["Statement"]
            if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny["Effect"] == "Deny"
        assert deny["Principal"] in ("*", {"AWS": "*"})
        assert deny["Action"] in ("s3:*", ["s3:*"])
        arn = get_att(name, "Arn")
        assert as_list(deny["Resource"]) == [arn, {"Fn::Sub": ["${Arn}/*", {"Arn": arn}]}]


def test_spec_bucket_policies_grant_nothing(bucket_policies):
    for name in BUCKETS:
        assert {s["Effect"] for s in bucket_policies[name]["Statement"]} == {"Deny"}


def test_log_bucket_lets_log_delivery_only_put_objects_under_a_prefix(bucket_policies):
    allows = [s for s in bucket_policies[LOGS]["Statement"] if s["Effect"] == "Allow"]
    assert allows
    for statement in allows:
        assert statement["Principal"] not in ("*", {"AWS": "*"}, {"Service": "*"})
        assert as_list(statement["Action"]) == ["s3:PutObject"]
        (resource,) = as_list(statement["Resource"])
        pattern, variables = resource["Fn::Sub"]
        assert variables == {"Arn": get_att(LOGS, "Arn")}
        prefix = pattern.removeprefix("${Arn}/")
        assert prefix != pattern and prefix.split("/")[0] not in ("", "*"), pattern


def load_balancer_log_writer(template: dict) -> dict:
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(LOGS)
    ]
    (statement,) = [s for s in policy["Statement"] if s.get("Sid") == "LoadBalancerAccessLogs"]
    return statement["Principal"]


def spec_in(*names: str):
    regions = [{"name": name, "cidr": f"10.{10 * (i + 1)}.0.0/16"} for i, name in enumerate(names)]
    return make_spec(
        regions=regions, dns={"routing": "latency"}, load_balancer={"certificate_arns": {}}
    )


ELB_ACCOUNT_PRINCIPAL = {
    "AWS": {"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": "127311923021"}]}
}
SERVICE_PRINCIPAL = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def log_writer_in(template: dict, region: str) -> dict:
    """The principal as CloudFormation sees it in `region` (conditions resolved)."""
    return resolve_conditions(
        load_balancer_log_writer(template), condition_values(template, region)
    )


def test_older_region_gets_alb_logs_from_its_elb_account():
    template = regional_template(spec_in("us-east-1", "ca-west-1"), "us-east-1")
    assert log_writer_in(template, "us-east-1") == ELB_ACCOUNT_PRINCIPAL


def test_newer_region_gets_alb_logs_from_the_log_delivery_service():
    template = regional_template(spec_in("us-east-1", "ca-west-1"), "ca-west-1")
    assert log_writer_in(template, "ca-west-1") == SERVICE_PRINCIPAL


def test_a_spec_of_one_kind_of_region_needs_no_condition():
    template = regional_template(spec_in("us-east-1", "us-west-2"), "us-east-1")
    assert load_balancer_log_writer(template) == ELB_ACCOUNT_PRINCIPAL
    assert ELB_LOG_ACCOUNT_CONDITION not in template.get("Conditions", {})


def test_the_condition_names_every_elb_account_region_within_fn_or_limits():
    """Fn::Or takes at most 10 conditions: twelve ELB-account regions nest."""
    older = [name for name in commercial_regions() if alb_log_delivery(name).kind == "account"]
    template = stackset(spec_in(*older[:12], "ca-west-1"))
    for name in [*older[:12], "ca-west-1"]:
        values = condition_values(template, name)
        assert values[ELB_LOG_ACCOUNT_CONDITION] is (name != "ca-west-1"), name
    text = json.dumps(template["Conditions"][ELB_LOG_ACCOUNT_CONDITION])
    assert text.count('"Fn::Or"') == 3  # Or(Or(ten), Or(two))


def stackset(spec) -> dict:
    return regional_templates(spec)["stackset.json"]


def test_stackset_over_both_kinds_of_region_picks_the_writer_by_region():
    template = stackset(spec_in("us-east-1", "ca-west-1", "il-central-1"))
    lookup = {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "ElbLogAccount"]}
    assert load_balancer_log_writer(template) == {
        "Fn::If": [
            ELB_LOG_ACCOUNT_CONDITION,
            {
                "AWS": {
                    "Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": lookup}]
                }
            },
            SERVICE_PRINCIPAL,
        ]
    }
    # by the region itself, as in every regional template of the spec
    assert template["Conditions"][ELB_LOG_ACCOUNT_CONDITION] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }
    accounts = {
        name: values["ElbLogAccount"] for name, values in template["Mappings"]["RegionMap"].items()
    }
    assert accounts == {"us-east-1": "127311923021", "ca-west-1": "", "il-central-1": ""}


def test_stackset_over_newer_regions_only_names_the_service_without_condition():
    template = stackset(spec_in("ca-west-1", "mx-central-1"))
    assert load_balancer_log_writer(template) == SERVICE_PRINCIPAL
    assert ELB_LOG_ACCOUNT_CONDITION not in template.get("Conditions", {})
    assert all("ElbLogAccount" not in v for v in template["Mappings"]["RegionMap"].values())


def test_stackset_condition_holds_exactly_in_the_regions_with_an_elb_account():
    template = stackset(spec_in("us-east-1", "ca-west-1", "il-central-1"))
    holds = {
        region: condition_values(template, region)[ELB_LOG_ACCOUNT_CONDITION]
        for region in ("us-east-1", "ca-west-1", "il-central-1")
    }
    assert holds == {"us-east-1": True, "ca-west-1": False, "il-central-1": False}
