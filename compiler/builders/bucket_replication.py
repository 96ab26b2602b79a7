"""Cross-region replication of the writer region's buckets to every other region.

Not a builder: the shapes `storage` puts on its buckets, like `buckets`. Each bucket of
the writer region gets one replication rule per other region; the destination is the
bucket of the same short name there, re-encrypted with that region's data key (named by
its alias: the key's ID is another stack's, and an alias ARN is accepted by S3).

S3 refuses a replication rule whose destination bucket does not exist yet, so the rules
are switched on by the template parameter REPLICATION_PARAMETER, which deploy.sh sets
once every region's stack exists (see compiler/deploy_plan.py). The same switch turns on
the copies of the database's master secret in the other regions (builders/database.py),
encrypted with their data keys, which exist only once their stacks do.
"""

from __future__ import annotations

from troposphere import And, Condition, Equals, GetAtt, If, NoValue, Parameter, Ref, Sub, iam, s3

from compiler import naming
from compiler.builders import purpose
from compiler.builders.handles import KeyHandle
from compiler.builders.trust import service_trust_policy
from compiler.context import WRITER_CONDITION, RegionContext, replica_regions
from compiler.spec import InfraSpec

REPLICATION_PARAMETER = "ReplicateBuckets"
REPLICATION_CONDITION = "ReplicatesBuckets"
REPLICATION_ROLE_ID = "BucketReplicationRole"


def replication_parameter() -> Parameter:
    return Parameter(
        REPLICATION_PARAMETER,
        Type="String",
        AllowedValues=["true", "false"],
        # Off unless asked: on a first deploy the other regions' buckets do not exist yet,
        # and S3 refuses a rule whose destination is missing.
        Default="false",
        Description="true once every region's stack exists: the writer region's buckets "
        "and database master secret then replicate to the other regions (deploy.sh "
        "decides; other regions ignore it)",
    )


def replication_conditions() -> dict:
    return {
        REPLICATION_CONDITION: And(
            Condition(WRITER_CONDITION), Equals(Ref(REPLICATION_PARAMETER), "true")
        )
    }


def _destinations(spec: InfraSpec, ctx: RegionContext, short_name: str) -> list[tuple]:
    """(region, bucket ARN, key alias ARN) of each other region's copy of a bucket."""
    found = []
    for index in range(len(replica_regions(spec))):
        region = ctx.replica_region(index)
        name = naming.bucket_name_in(spec, short_name, region)
        found.append(
            (
                region,
                Sub("arn:${AWS::Partition}:s3:::${Name}", Name=name),
                Sub(
                    "arn:${AWS::Partition}:kms:${Region}:${AWS::AccountId}:"
                    + naming.data_key_alias(spec),
                    Region=region,
                ),
            )
        )
    return found


def replication_configuration(spec: InfraSpec, ctx: RegionContext, short_name: str) -> If:
    """The writer-region bucket's rules, one per destination; no rules elsewhere."""
    rules = [
        s3.ReplicationConfigurationRules(
            Id=f"to-region-{index + 1}",
            Priority=index + 1,
            Status="Enabled",
            Filter=s3.ReplicationRuleFilter(Prefix=""),
            # Deleting an object in the writer region deletes it (a delete marker) in
            # every region; permanent deletes of versions are never replicated by S3.
            DeleteMarkerReplication=s3.DeleteMarkerReplication(Status="Enabled"),
            SourceSelectionCriteria=s3.SourceSelectionCriteria(
                SseKmsEncryptedObjects=s3.SseKmsEncryptedObjects(Status="Enabled")
            ),
            Destination=s3.ReplicationConfigurationRulesDestination(
                Bucket=bucket_arn,
                EncryptionConfiguration=s3.EncryptionConfiguration(ReplicaKmsKeyID=key_alias),
            ),
        )
        for index, (_region, bucket_arn, key_alias) in enumerate(
            _destinations(spec, ctx, short_name)
        )
    ]
    return If(
        REPLICATION_CONDITION,
        s3.ReplicationConfiguration(Role=GetAtt(REPLICATION_ROLE_ID, "Arn"), Rules=rules),
        NoValue,
    )


def replication_role(
    spec: InfraSpec, ctx: RegionContext, key: KeyHandle, short_names: list[str]
) -> iam.Role:
    """What S3 may do on the replication's behalf: read the writer region's buckets (and
    decrypt with its key through S3), write replicas into the same buckets elsewhere (and
    encrypt with their keys through S3)."""
    # By name, not GetAtt: the buckets name this role, and a reference back would be a cycle.
    source_arns = [
        Sub("arn:${AWS::Partition}:s3:::${Name}", Name=naming.bucket_name(spec, name))
        for name in short_names
    ]
    destinations = [
        destination for name in short_names for destination in _destinations(spec, ctx, name)
    ]
    destination_arns = [Sub("${Arn}/*", Arn=arn) for _region, arn, _alias in destinations]
    # Each other region once, by its place after the writer: the same list in a regional
    # template (literals) and in the StackSet template (lookups).
    regions = [ctx.replica_region(index) for index in range(len(replica_regions(spec)))]
    statements = [
        {
            "Sid": "ReadSourceConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_arns,
        },
        {
            "Sid": "ReadSourceVersions",
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            "Resource": [Sub("${Arn}/*", Arn=arn) for arn in source_arns],
        },
        {
            "Sid": "WriteReplicas",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": destination_arns,
        },
        {
            "Sid": "DecryptSourceThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key.key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}
            },
        },
        {
            # The destination keys are other stacks' and have no known ID: any key of this
            # account in those regions that carries the project's data-key alias.
            "Sid": "EncryptReplicasThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": [
                Sub("arn:${AWS::Partition}:kms:${Region}:${AWS::AccountId}:key/*", Region=region)
                for region in regions
            ],
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": naming.data_key_alias(spec)},
                "StringLike": {
                    "kms:ViaService": [
                        Sub("s3.${Region}.amazonaws.com", Region=region) for region in regions
                    ]
                },
            },
        },
    ]
    role = purpose(
        iam.Role(
            REPLICATION_ROLE_ID,
            # The trust AWS documents for live replication: S3 is not documented to send
            # aws:SourceAccount when it assumes the role, so no condition on it.
            AssumeRolePolicyDocument=service_trust_policy("s3.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="replicate-buckets",
                    PolicyDocument={"Version": "2012-10-17", "Statement": statements},
                )
            ],
        ),
        "Lets S3 replicate the writer region's buckets to the same buckets in the other regions",
    )
    role.Condition = REPLICATION_CONDITION
    return role
