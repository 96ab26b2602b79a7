"""S3 bucket shapes shared by the builders that make buckets (regional and global).

Not a builder: plain functions that return troposphere objects, like `handles` carries
plain types. Every bucket made here is versioned, encrypted, private and TLS-only.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, s3

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, purpose
from compiler.builders.handles import KeyHandle


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


# Load balancers (and S3 server access logging) write logs only to buckets encrypted with
# S3-managed keys.
S3_MANAGED_ENCRYPTION = s3.BucketEncryption(
    ServerSideEncryptionConfiguration=[
        s3.ServerSideEncryptionRule(
            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
        )
    ]
)


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
    replication=None,
) -> tuple[s3.Bucket, s3.BucketPolicy]:
    """A bucket and its TLS-only policy (plus `extra_statements`); kept when the stack goes."""
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
    if replication is not None:
        optional["ReplicationConfiguration"] = replication
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
    bucket.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE
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
