"""The audit trail: multi-region, validated, KMS-encrypted, into its own TLS-only,
access-logged, versioned bucket that only this trail may write; or none, when an
organisation trail records the account (`audit.trail: false`)."""

from __future__ import annotations

import pytest

from compiler import naming
from compiler.assemble import build_global_template
from compiler.builders.audit import (
    ACCESS_LOGS_BUCKET_ID,
    TRAIL_BUCKET_ID,
    TRAIL_ID,
    TRAIL_KEY_ID,
    TRAIL_LOG_GROUP_ID,
    TRAIL_LOGS_ROLE_ID,
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
        if statement["Effect"] == "Allow":
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
    template = build_global_template(make_spec(audit={"log_retention_days": 2557})).to_dict()
    for bucket_id in (TRAIL_BUCKET_ID, ACCESS_LOGS_BUCKET_ID):
        rules = props(template, bucket_id)["LifecycleConfiguration"]["Rules"]
        assert {"Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": 2557} in rules


def test_log_buckets_and_key_outlive_the_stack(template):
    # RetainExceptOnCreate, not Retain: a failed first create must leave no fixed-name
    # log group behind, or deploy.sh's re-create of the stack fails on the name.
    for logical_id in (TRAIL_BUCKET_ID, ACCESS_LOGS_BUCKET_ID, TRAIL_KEY_ID, TRAIL_LOG_GROUP_ID):
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


# --- CloudWatch Logs delivery and the CIS monitoring controls --------------------------

# Security Hub's CloudWatch controls this stack meets: all fourteen of the CIS set.
CIS_CONTROLS = {f"CloudWatch.{number}" for number in range(1, 15)}


def test_trail_delivers_to_a_log_group_encrypted_with_its_key(template):
    trail = props(template, TRAIL_ID)
    assert trail["CloudWatchLogsLogGroupArn"] == get_att(TRAIL_LOG_GROUP_ID, "Arn")
    assert trail["CloudWatchLogsRoleArn"] == get_att(TRAIL_LOGS_ROLE_ID, "Arn")
    group = props(template, TRAIL_LOG_GROUP_ID)
    assert group["KmsKeyId"] == get_att(TRAIL_KEY_ID, "Arn")
    assert group["RetentionInDays"] == 365
    statements = {s["Sid"]: s for s in props(template, TRAIL_KEY_ID)["KeyPolicy"]["Statement"]}
    logs = statements["CloudWatchLogsEncryptsTheTrailsLogGroup"]
    assert logs["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                ":log-group:/storefront/production/cloudtrail"
            }
        }
    }


def test_trail_logs_role_writes_only_the_trails_log_streams(template):
    role = props(template, TRAIL_LOGS_ROLE_ID)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == CLOUDTRAIL
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"]["Fn::Sub"][0] == (
        "${Group}:log-stream:${AWS::AccountId}_CloudTrail_*"
    )


def test_every_cis_control_has_a_filter_on_the_trail_group_and_an_alarm(template):
    filters = resources(template, "AWS::Logs::MetricFilter")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert all(f["Properties"]["LogGroupName"] == ref(TRAIL_LOG_GROUP_ID) for f in filters.values())
    watched = {
        (f["Properties"]["MetricTransformations"][0]["MetricNamespace"],
         f["Properties"]["MetricTransformations"][0]["MetricName"])
        for f in filters.values()
    }  # fmt: skip
    alarmed = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()
    }
    assert watched == alarmed and len(alarms) == len(CIS_CONTROLS)
    cited = {
        a["Properties"]["AlarmDescription"].rsplit("(", 1)[1].rstrip(")") for a in alarms.values()
    }
    assert cited == CIS_CONTROLS


@pytest.mark.parametrize(
    ("control", "events"),
    [
        ("root-use", ['$.userIdentity.type="Root"', "$.userIdentity.invokedBy NOT EXISTS"]),
        ("unauthorised-calls", ['"*UnauthorizedOperation"', '"AccessDenied*"']),
        ("console-sign-in-without-mfa", ['$.additionalEventData.MFAUsed != "Yes"']),
        ("iam-policy-changes", ["($.eventSource=iam.amazonaws.com) &&", "DetachGroupPolicy"]),
        ("cloudtrail-changes", ["($.eventName=StopLogging)", "($.eventName=DeleteTrail)"]),
        ("console-sign-in-failures", ['($.errorMessage="Failed authentication")']),
        ("kms-key-disabled-or-deleted", ["kms.amazonaws.com", "ScheduleKeyDeletion"]),
        ("s3-bucket-policy-changes", ["s3.amazonaws.com", "DeleteBucketPolicy"]),
        ("config-changes", ["config.amazonaws.com", "StopConfigurationRecorder"]),
        ("security-group-changes", ["AuthorizeSecurityGroupIngress"]),
        ("nacl-changes", ["ReplaceNetworkAclAssociation"]),
        ("route-table-changes", ["ec2.amazonaws.com", "DisassociateRouteTable"]),
        ("gateway-changes", ["DetachInternetGateway", "CreateCustomerGateway"]),
        ("vpc-changes", ["CreateVpcPeeringConnection", "ModifyVpcAttribute"]),
    ],
)
def test_cis_filter_matches_the_benchmark_events(template, control, events):
    pattern = props(template, naming.logical_id("cis", control, "filter"))["FilterPattern"]
    assert pattern.startswith("{") and pattern.endswith("}")
    for event in events:
        assert event in pattern


@pytest.mark.parametrize(
    ("control", "pattern"),
    [
        # The benchmark's text (CIS v1.4.0 4.6 and 4.9, Security Hub CloudWatch.6 and .9).
        ("console-sign-in-failures",
         '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}'),
        ("config-changes",
         "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)"
         " || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel)"
         " || ($.eventName=PutConfigurationRecorder))}"),
    ],
)  # fmt: skip
def test_cis_filter_is_the_benchmarks_pattern(template, control, pattern):
    assert props(template, naming.logical_id("cis", control, "filter"))["FilterPattern"] == pattern


def test_cis_alarms_notify_the_primary_regions_alarm_topic(template):
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert properties["AlarmName"].startswith("storefront-production-cis-")
        assert properties["AlarmActions"] == [
            {
                "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
                "storefront-production-alarms"
            }
        ]
        assert (properties["Threshold"], properties["EvaluationPeriods"]) == (1.0, 1)
        assert properties["TreatMissingData"] == "notBreaching"


def test_without_a_trail_there_is_no_log_group_and_no_cis_alarm(without_trail):
    assert not resources(without_trail, "AWS::Logs::MetricFilter")
    assert not resources(without_trail, "AWS::CloudWatch::Alarm")
    assert TRAIL_LOG_GROUP_ID not in without_trail["Resources"]
