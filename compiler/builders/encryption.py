"""The region's customer-managed KMS key: S3, RDS, log groups and secrets use it."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, kms

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose
from compiler.builders.handles import KeyHandle
from compiler.builders.key_policy import (
    account_administers_key,
    alarms_publish_with_key,
    deny_grants_not_for_aws_resources,
    logs_encrypt_with_key,
)
from compiler.context import RegionContext
from compiler.spec import InfraSpec

KEY_ID = "DataKey"


def key_policy(spec: InfraSpec) -> dict:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_key(),
            deny_grants_not_for_aws_resources(),
            # Any of this account's log groups in the region.
            logs_encrypt_with_key(
                "CloudWatchLogsEncryptsThisAccountsLogGroups",
                {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": Sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
                        )
                    }
                },
            ),
            # The alarm topic is KMS-encrypted: this account's alarms in this region.
            alarms_publish_with_key(
                "CloudWatchAlarmsPublishToEncryptedTopics",
                Sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
            ),
            {
                # RDS publishes the database's events to the same topic (see
                # database_events); SNS uses the key on RDS's behalf. Limited to this
                # account's database instances in this region.
                "Sid": "DatabaseEventsPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "events.rds.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
                    "ArnLike": {
                        "aws:SourceArn": Sub(
                            "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"
                        )
                    },
                },
            },
        ],
    }
    if spec.notifications.slack:
        policy["Statement"].append(
            {
                # EventBridge rules publish changes to the KMS-encrypted changes topic (see
                # change_events), and SNS uses the key on EventBridge's behalf.
                "Sid": "EventBridgePublishesToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
            }
        )
    return policy


def build_encryption(spec: InfraSpec, ctx: RegionContext) -> Built[KeyHandle]:
    key = purpose(
        kms.Key(
            KEY_ID,
            Description=f"{naming.name_prefix(spec)}: encrypts this region's buckets, database and logs",
            EnableKeyRotation=True,
            KeyPolicy=key_policy(spec),
            PendingWindowInDays=30,
        ),
        "Customer-managed key for data at rest in this region",
    )
    key.DeletionPolicy = (
        RETAIN_EXCEPT_ON_CREATE  # data encrypted with it outlives the stack (snapshots, buckets)
    )
    key.UpdateReplacePolicy = "Retain"
    alias = purpose(
        kms.Alias(
            naming.logical_id(KEY_ID, "alias"),
            AliasName=naming.data_key_alias(spec),
            TargetKeyId=Ref(key),
        ),
        "Readable name for the data key",
    )
    return Built([key, alias], KeyHandle(key_arn=GetAtt(key, "Arn"), key_id=Ref(key)))
