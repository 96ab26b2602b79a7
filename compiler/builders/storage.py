"""S3 buckets: versioned, KMS-encrypted, private, TLS-only, old versions expired."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, s3

from compiler import naming
from compiler.builders import Built, purpose, skip_check
from compiler.builders.handles import BucketRef, KeyHandle, StorageHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.storage import BucketSpec


def tls_only_policy(bucket_arn, extra_statements: list[dict]) -> dict:
    """Deny every request that does not use TLS (S3 otherwise accepts plain HTTP)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [bucket_arn, Sub("${Arn}/*", Arn=bucket_arn)],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            *extra_statements,
        ],
    }


def log_delivery_statements(ctx: RegionContext, bucket_arn) -> list[dict]:
    """Who may write into the log bucket: the region's load balancer log delivery account
    and the S3 logging service, each only under its prefix and for this account."""
    return [
        {
            "Sid": "LoadBalancerAccessLogs",
            "Effect": "Allow",
            "Principal": {
                "AWS": Sub(
                    "arn:${AWS::Partition}:iam::${Account}:root", Account=ctx.elb_log_account()
                )
            },
            "Action": "s3:PutObject",
            "Resource": Sub(
                f"${{Arn}}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*", Arn=bucket_arn
            ),
        },
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": Sub("${Arn}/s3/*", Arn=bucket_arn),
            "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
        },
    ]


def kms_encryption(key: KeyHandle) -> s3.BucketEncryption:
    return s3.BucketEncryption(
        ServerSideEncryptionConfiguration=[
            s3.ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                    SSEAlgorithm="aws:kms", KMSMasterKeyID=key.key_arn
                ),
                BucketKeyEnabled=True,  # fewer KMS calls, lower cost
            )
        ]
    )


# Load balancers can write access logs only to buckets encrypted with S3-managed keys.
S3_MANAGED_ENCRYPTION = s3.BucketEncryption(
    ServerSideEncryptionConfiguration=[
        s3.ServerSideEncryptionRule(
            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
        )
    ]
)

LOGS_BUCKET_ID = "LogsBucket"
LOAD_BALANCER_LOG_PREFIX = "load-balancer"
PATCHING_LOG_PREFIX = "patching"


def private_bucket(
    logical_id: str,
    name,
    encryption: s3.BucketEncryption,
    noncurrent_days: int,
    what: str,
    *,
    extra_statements: list[dict] | None = None,
    logging: s3.LoggingConfiguration | None = None,
    expire_days: int | None = None,
) -> tuple[s3.Bucket, s3.BucketPolicy]:
    rules = [
        s3.LifecycleRule(
            Id="expire-noncurrent-versions",
            Status="Enabled",
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                NoncurrentDays=noncurrent_days
            ),
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
        )
    ]
    if expire_days:
        rules.append(
            s3.LifecycleRule(Id="expire-logs", Status="Enabled", ExpirationInDays=expire_days)
        )
    optional = {"LoggingConfiguration": logging} if logging else {}
    bucket = purpose(
        s3.Bucket(
            logical_id,
            BucketName=name,
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            BucketEncryption=encryption,
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=rules),
            **optional,
        ),
        what,
    )
    # A bucket holding data is kept when the stack goes; CloudFormation cannot delete a
    # non-empty bucket anyway, and a failed delete would leave the stack half-removed.
    bucket.DeletionPolicy = "Retain"
    bucket.UpdateReplacePolicy = "Retain"
    policy = purpose(
        s3.BucketPolicy(
            naming.logical_id(logical_id, "policy"),
            Bucket=Ref(bucket),
            PolicyDocument=tls_only_policy(GetAtt(bucket, "Arn"), extra_statements or []),
        ),
        f"TLS-only access to {logical_id}",
    )
    return bucket, policy


def _bucket_id(bucket: BucketSpec) -> str:
    return naming.logical_id(bucket.name, "bucket")


def build_storage(spec: InfraSpec, ctx: RegionContext, key: KeyHandle) -> Built[StorageHandle]:
    logs_bucket, logs_policy = private_bucket(
        LOGS_BUCKET_ID,
        naming.bucket_name(spec, "logs"),
        S3_MANAGED_ENCRYPTION,
        30,
        "Access logs of the load balancer and the buckets, and patching output",
        extra_statements=log_delivery_statements(ctx, GetAtt(LOGS_BUCKET_ID, "Arn")),
        expire_days=spec.storage.access_log_retention_days,
    )
    skip_check(
        logs_bucket,
        "CKV_AWS_18",
        "This is the access-log bucket the other buckets log to: logging it into itself would "
        "log its own log deliveries without end, and another log bucket would need one too.",
    )
    resources: list = [logs_bucket, logs_policy]
    refs: list[BucketRef] = []
    outputs: list[Output] = []
    for bucket_spec in spec.storage.buckets:
        bucket, policy = private_bucket(
            _bucket_id(bucket_spec),
            naming.bucket_name(spec, bucket_spec.name),
            kms_encryption(key),
            bucket_spec.noncurrent_version_expiry_days,
            f"Application bucket '{bucket_spec.name}'",
            logging=s3.LoggingConfiguration(
                DestinationBucketName=Ref(logs_bucket), LogFilePrefix=f"s3/{bucket_spec.name}/"
            ),
        )
        resources += [bucket, policy]
        refs.append(BucketRef(bucket_spec.name, Ref(bucket), GetAtt(bucket, "Arn")))
        outputs.append(
            Output(
                naming.logical_id(bucket_spec.name, "bucket", "name"),
                Description=f"Name of the '{bucket_spec.name}' bucket",
                Value=Ref(bucket),
            )
        )
    logs = BucketRef("logs", Ref(logs_bucket), GetAtt(logs_bucket, "Arn"))
    handle = StorageHandle(refs, logs, logs_policy.title, PATCHING_LOG_PREFIX)
    return Built(resources, handle, outputs)
