"""The audit trail: multi-region, validated, KMS-encrypted, into its own TLS-only,
access-logged, versioned bucket that only this trail may write; or none, when an
organisation trail records the account (`audit.trail: false`)."""

from __future__ import annotations

import pytest

from compiler.assemble import build_global_template
from compiler.builders.audit import (
    ACCESS_LOGS_BUCKET_ID,
    TRAIL_BUCKET_ID,
    TRAIL_ID,
    TRAIL_KEY_ID,
)

from .example import get_att, make_spec, props, ref, resources

TRAIL_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}"
    ":trail/storefront-production-trail"
}
CLOUDTRAIL = {"Service": "cloudtrail.amazonaws.com"}


@pytest.fixture(scope="module")
def template():
    return build_global_template(make_spec()).to_dict()


@pytest.fixture(scope="module")
def without_trail():
    return build_global_template(make_spec(audit={"trail": False})).to_dict()


def bucket_policy(template: dict, bucket_id: str) -> dict:
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(bucket_id)
    ]
    return {s["Sid"]: s for s in policy["Statement"]}


def test_trail_records_every_region_with_validation_and_kms(template):
    trail = props(template, TRAIL_ID)
    assert trail["TrailName"] == "storefront-production-trail"
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsLogging"] is True
    assert trail["KMSKeyId"] == get_att(TRAIL_KEY_ID, "Arn")
    assert trail["S3BucketName"] == ref(TRAIL_BUCKET_ID)


def test_trail_records_management_events_for_eventbridge(template):
    assert props(template, TRAIL_ID)["EventSelectors"] == [
        {"IncludeManagementEvents": True, "ReadWriteType": "All"}
    ]


def test_trail_waits_for_its_bucket_policy(template):
    assert template["Resources"][TRAIL_ID]["DependsOn"] == [f"{TRAIL_BUCKET_ID}Policy"]


def test_trail_key_rotates_and_lets_only_this_trail_encrypt(template):
    key = props(template, TRAIL_KEY_ID)
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    encrypt = statements["CloudTrailEncryptsThisTrailsLogs"]
    assert encrypt["Principal"] == CLOUDTRAIL
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": TRAIL_ARN}
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": {
            "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"
        }
    }
    describe = statements["CloudTrailDescribesKey"]
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    for statement in statements.values():
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}


def test_trail_bucket_policy_admits_only_this_trail(template):
    statements = bucket_policy(template, TRAIL_BUCKET_ID)
    bucket_arn = get_att(TRAIL_BUCKET_ID, "Arn")
    acl = statements["CloudTrailChecksBucketAcl"]
    assert (acl["Principal"], acl["Action"], acl["Resource"]) == (
        CLOUDTRAIL,
        "s3:GetBucketAcl",
        bucket_arn,
    )
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    write = statements["CloudTrailWritesLogs"]
    assert (write["Principal"], write["Action"]) == (CLOUDTRAIL, "s3:PutObject")
    assert write["Resource"] == {
        "Fn::Sub": ["${Arn}/AWSLogs/${AWS::AccountId}/*", {"Arn": bucket_arn}]
    }
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}
    }


@pytest.mark.parametrize("bucket_id", [TRAIL_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_log_buckets_are_tls_only_private_versioned_and_encrypted(template, bucket_id):
    deny = bucket_policy(template, bucket_id)["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = props(template, bucket_id)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # CloudTrail encrypts each log file with the trail key; S3 access logs need SSE-S3.
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_trail_bucket_logs_its_access_to_the_access_log_bucket(template):
    logging = props(template, TRAIL_BUCKET_ID)["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": ref(ACCESS_LOGS_BUCKET_ID),
        "LogFilePrefix": "s3/trail/",
    }
    writer = bucket_policy(template, ACCESS_LOGS_BUCKET_ID)["S3ServerAccessLogs"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_logs_expire_after_the_spec_retention():
    template = build_global_template(make_spec(audit={"log_retention_days": 2555})).to_dict()
    for bucket_id in (TRAIL_BUCKET_ID, ACCESS_LOGS_BUCKET_ID):
        rules = props(template, bucket_id)["LifecycleConfiguration"]["Rules"]
        assert {"Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": 2555} in rules


def test_log_buckets_and_key_outlive_the_stack(template):
    for logical_id in (TRAIL_BUCKET_ID, ACCESS_LOGS_BUCKET_ID, TRAIL_KEY_ID):
        assert template["Resources"][logical_id]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_without_a_trail_only_the_access_log_bucket_remains(without_trail):
    found = set(without_trail["Resources"])
    assert not found & {TRAIL_ID, TRAIL_KEY_ID, TRAIL_BUCKET_ID}
    assert not resources(without_trail, "AWS::CloudTrail::Trail")
    assert ACCESS_LOGS_BUCKET_ID in found
    assert "TrailBucketName" not in without_trail["Outputs"]


def test_without_a_trail_the_description_says_an_organisation_trail_is_assumed(without_trail):
    assert "an organisation trail is assumed" in without_trail["Description"]


def test_with_a_trail_the_description_names_it(template):
    assert "multi-region CloudTrail trail" in template["Description"]
    assert template["Outputs"]["TrailBucketName"]["Value"] == ref(TRAIL_BUCKET_ID)
