"""S3 buckets: versioned, KMS-encrypted, private, TLS-only, old versions expired."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, s3

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import BucketRef, KeyHandle, StorageHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.storage import BucketSpec


def tls_only_policy(bucket_arn) -> dict:
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
            }
        ],
    }


def private_bucket(
    logical_id: str, name, key: KeyHandle, noncurrent_days: int, what: str
) -> tuple[s3.Bucket, s3.BucketPolicy]:
    bucket = purpose(
        s3.Bucket(
            logical_id,
            BucketName=name,
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=key.key_arn
                        ),
                        BucketKeyEnabled=True,  # fewer KMS calls, lower cost
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-noncurrent-versions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=noncurrent_days
                        ),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=7
                        ),
                    )
                ]
            ),
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
            PolicyDocument=tls_only_policy(GetAtt(bucket, "Arn")),
        ),
        f"TLS-only access to {logical_id}",
    )
    return bucket, policy


def _bucket_id(bucket: BucketSpec) -> str:
    return naming.logical_id(bucket.name, "bucket")


def build_storage(spec: InfraSpec, ctx: RegionContext, key: KeyHandle) -> Built[StorageHandle]:
    resources: list = []
    refs: list[BucketRef] = []
    outputs: list[Output] = []
    for bucket_spec in spec.storage.buckets:
        bucket, policy = private_bucket(
            _bucket_id(bucket_spec),
            naming.bucket_name(spec, bucket_spec.name),
            key,
            bucket_spec.noncurrent_version_expiry_days,
            f"Application bucket '{bucket_spec.name}'",
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
    return Built(resources, StorageHandle(refs), outputs)
