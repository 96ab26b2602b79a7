"""Audit: a multi-region CloudTrail trail, and the global stack's access-log bucket.

The trail records the management events of every region (IAM's too, which AWS reports
in us-east-1) into its own bucket, each log file encrypted with the trail's KMS key and
signed by a digest file (log file validation). The same events reach EventBridge, where
rules on IAM and security group changes pick them up, and a KMS-encrypted CloudWatch Logs
group, where the CIS monitoring metric filters and alarms watch them (cis_monitoring.py).
With `audit.trail: false` no trail is made: an organisation trail is assumed to record
the account already, and to carry that monitoring (docs/audit-monitoring.md).

The access-log bucket is made either way: the trail bucket and the template bucket
(builders/access.py) write their S3 server access logs into it.
"""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, cloudtrail, iam, kms, logs, s3

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose, skip_check
from compiler.builders.buckets import S3_MANAGED_ENCRYPTION, private_bucket
from compiler.builders.cis_monitoring import cis_alarm_arns, cis_monitoring
from compiler.builders.handles import AuditHandle, BucketRef
from compiler.builders.key_policy import (
    account_administers_key,
    deny_grants_not_for_aws_resources,
    logs_encrypt_with_key,
)
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.audit import GLOBAL_LOG_BUCKET, TRAIL_BUCKET

ACCESS_LOGS_BUCKET_ID = "AccessLogsBucket"
TRAIL_BUCKET_ID = "TrailBucket"
TRAIL_KEY_ID = "TrailKey"
TRAIL_ID = "Trail"
TRAIL_LOG_GROUP_ID = "TrailLogGroup"
TRAIL_LOGS_ROLE_ID = "TrailLogsRole"
# S3 server access logs arrive under this prefix, one folder per logged bucket.
ACCESS_LOG_PREFIX = "s3"
# Replaced versions of log files only appear if someone overwrites one: keep them briefly.
NONCURRENT_LOG_DAYS = 30


def trail_name(spec: InfraSpec) -> str:
    return naming.resource_name(spec, "trail")


def trail_log_group_name(spec: InfraSpec) -> str:
    return naming.log_group_name(spec, "cloudtrail")


def trail_log_group_arn(spec: InfraSpec, suffix: str = "") -> Sub:
    # Spelled out: the key policy names the group, and the group waits for the key.
    # `suffix` ":*" gives the form IAM policies name a group's streams and filters by.
    return Sub(
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        + trail_log_group_name(spec)
        + suffix
    )


def trail_arn(spec: InfraSpec) -> Sub:
    # Spelled out rather than GetAtt: the key and bucket policies name the trail, and the
    # trail depends on both, so a GetAtt would be a circular reference.
    return Sub(
        "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/"
        + trail_name(spec)
    )


def access_log_statements(bucket_arn) -> list[dict]:
    """S3 server access logging may write under the prefix, for this account's buckets only."""
    return [
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": Sub(f"${{Arn}}/{ACCESS_LOG_PREFIX}/*", Arn=bucket_arn),
            "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
        }
    ]


def trail_key_policy(spec: InfraSpec) -> dict:
    """The key policy CloudTrail's guide asks for, each service grant limited to our trail."""
    account_trails = Sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_key(),  # reading (decrypting) log files included
            deny_grants_not_for_aws_resources(),
            {
                "Sid": "CloudTrailEncryptsThisTrailsLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn(spec)},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": account_trails},
                },
            },
            {
                "Sid": "CloudTrailDescribesKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn(spec)}},
            },
            # The trail's log group and no other: the encryption context names it.
            logs_encrypt_with_key(
                "CloudWatchLogsEncryptsTheTrailsLogGroup",
                {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": trail_log_group_arn(spec)}},
            ),
        ],
    }


def trail_logs_policy(spec: InfraSpec) -> dict:
    """What CloudTrail's guide gives its CloudWatch Logs role: make a log stream in the
    trail's group and write to it; the streams are `<account>_CloudTrail_<region>`."""
    streams = Sub(
        "${Group}:log-stream:${AWS::AccountId}_CloudTrail_*", Group=trail_log_group_arn(spec)
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteTheTrailsLogStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": streams,
            }
        ],
    }


def trail_delivery_statements(spec: InfraSpec, bucket_arn) -> list[dict]:
    """CloudTrail's bucket policy: check the ACL, write under AWSLogs/<account>/, our trail only."""
    from_our_trail = {"aws:SourceArn": trail_arn(spec)}
    return [
        {
            "Sid": "CloudTrailChecksBucketAcl",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": from_our_trail},
        },
        {
            "Sid": "CloudTrailWritesLogs",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": Sub("${Arn}/AWSLogs/${AWS::AccountId}/*", Arn=bucket_arn),
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **from_our_trail}
            },
        },
    ]


def _access_log_bucket(spec: InfraSpec) -> tuple[s3.Bucket, s3.BucketPolicy]:
    bucket, policy = private_bucket(
        ACCESS_LOGS_BUCKET_ID,
        naming.bucket_name(spec, GLOBAL_LOG_BUCKET),
        # S3 server access logging delivers only to buckets with S3-managed encryption.
        S3_MANAGED_ENCRYPTION,
        NONCURRENT_LOG_DAYS,
        "S3 access logs of the global stack's buckets (trail and templates)",
        extra_statements=access_log_statements(GetAtt(ACCESS_LOGS_BUCKET_ID, "Arn")),
        expire_days=spec.audit.log_retention_days,
    )
    skip_check(
        bucket,
        "CKV_AWS_18",
        "This is the access-log bucket the global stack's buckets log to: logging it into "
        "itself would log its own log deliveries without end.",
    )
    return bucket, policy


def _trail(spec: InfraSpec, access_logs: s3.Bucket, access_logs_policy: s3.BucketPolicy) -> list:
    key = purpose(
        kms.Key(
            TRAIL_KEY_ID,
            Description=f"{naming.name_prefix(spec)}: encrypts the CloudTrail trail's log files",
            EnableKeyRotation=True,
            KeyPolicy=trail_key_policy(spec),
            PendingWindowInDays=30,
        ),
        "Customer-managed key of the trail: reading the logs needs kms:Decrypt on it",
    )
    # Logs encrypted with it outlive the stack.
    key.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE
    key.UpdateReplacePolicy = "Retain"
    alias = purpose(
        kms.Alias(
            naming.logical_id(TRAIL_KEY_ID, "alias"),
            AliasName=f"alias/{naming.name_prefix(spec)}/trail",
            TargetKeyId=Ref(key),
        ),
        "Readable name for the trail key",
    )
    bucket, policy = private_bucket(
        TRAIL_BUCKET_ID,
        naming.bucket_name(spec, TRAIL_BUCKET),
        # Log files are encrypted with the trail's key (KMSKeyId below); the bucket default
        # covers the rest. S3-managed keys need no grant for CloudTrail's digest files.
        S3_MANAGED_ENCRYPTION,
        NONCURRENT_LOG_DAYS,
        "CloudTrail log and digest files of every region",
        extra_statements=trail_delivery_statements(spec, GetAtt(TRAIL_BUCKET_ID, "Arn")),
        logging=s3.LoggingConfiguration(
            DestinationBucketName=Ref(access_logs),
            LogFilePrefix=f"{ACCESS_LOG_PREFIX}/{TRAIL_BUCKET}/",
        ),
        expire_days=spec.audit.log_retention_days,
    )
    bucket.DependsOn = [access_logs_policy.title]
    log_group = purpose(
        logs.LogGroup(
            TRAIL_LOG_GROUP_ID,
            LogGroupName=trail_log_group_name(spec),
            RetentionInDays=spec.audit.log_retention_days,
            KmsKeyId=GetAtt(key, "Arn"),
        ),
        "The trail's events for the CIS monitoring metric filters, encrypted with its key",
    )
    # Audit evidence outlives the stack, like the trail's bucket; but not a failed first
    # create: a plain Retain would keep the fixed-name group through that rollback, and
    # deploy.sh's re-create of the ROLLBACK_COMPLETE stack would then fail on the name.
    log_group.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE
    log_group.UpdateReplacePolicy = "Retain"
    logs_role = purpose(
        iam.Role(
            TRAIL_LOGS_ROLE_ID,
            # In the global stack's namespace: the deploy roles may not change it.
            RoleName=naming.global_resource_name(spec, "trail-logs"),
            # No aws:SourceAccount condition: CloudTrail's guide documents none for this
            # role, and a trail of another account cannot name it (iam:PassRole).
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudTrailDelivers",
                        **service_trust_policy("cloudtrail.amazonaws.com")["Statement"][0],
                    }
                ],
            },
            Policies=[
                iam.Policy(
                    PolicyName="write-trail-log-group", PolicyDocument=trail_logs_policy(spec)
                )
            ],
        ),
        "Identity CloudTrail delivers the trail's events to its log group as",
    )
    trail = purpose(
        cloudtrail.Trail(
            TRAIL_ID,
            TrailName=trail_name(spec),
            S3BucketName=Ref(bucket),
            IsLogging=True,
            IsMultiRegionTrail=True,
            IncludeGlobalServiceEvents=True,  # IAM, STS and other global services
            EnableLogFileValidation=True,
            KMSKeyId=GetAtt(key, "Arn"),
            CloudWatchLogsLogGroupArn=GetAtt(log_group, "Arn"),
            CloudWatchLogsRoleArn=GetAtt(logs_role, "Arn"),
            # Management events, reads and writes: EventBridge rules on IAM and security
            # group changes receive these events only while a trail records them.
            EventSelectors=[
                cloudtrail.EventSelector(ReadWriteType="All", IncludeManagementEvents=True)
            ],
        ),
        "Multi-region audit trail of the account's management events",
    )
    # CloudTrail checks on creation that it may write to the bucket (and use the key, which
    # KMSKeyId's GetAtt already waits for).
    trail.DependsOn = [policy.title]
    return [
        key,
        alias,
        bucket,
        policy,
        log_group,
        logs_role,
        trail,
        *cis_monitoring(spec, log_group),
    ]


def build_audit(spec: InfraSpec, ctx: RegionContext) -> Built[AuditHandle]:
    access_logs, access_logs_policy = _access_log_bucket(spec)
    resources: list = [access_logs, access_logs_policy]
    outputs: list[Output] = []
    trail_ref = None
    protected: list = []
    if spec.audit.trail:
        resources += _trail(spec, access_logs, access_logs_policy)
        trail_ref = GetAtt(TRAIL_ID, "Arn")
        trail_bucket_arn = GetAtt(TRAIL_BUCKET_ID, "Arn")
        protected = [
            trail_ref,
            trail_bucket_arn,
            Sub("${Arn}/*", Arn=trail_bucket_arn),
            GetAtt(TRAIL_KEY_ID, "Arn"),
            # The CIS monitoring: its log group (whose name is under the project's log
            # group path, which the deploy roles manage) with its metric filters, and its
            # alarms (named like the project's, which they manage too).
            trail_log_group_arn(spec),
            trail_log_group_arn(spec, ":*"),
            cis_alarm_arns(spec),
        ]
        outputs.append(
            Output(
                "TrailBucketName",
                Description="Bucket of the CloudTrail log files (AWSLogs/<account>/...)",
                Value=Ref(TRAIL_BUCKET_ID),
            )
        )
    logs = BucketRef(GLOBAL_LOG_BUCKET, Ref(access_logs), GetAtt(access_logs, "Arn"))
    handle = AuditHandle(logs, access_logs_policy.title, ACCESS_LOG_PREFIX, trail_ref, protected)
    return Built(resources, handle, outputs)
