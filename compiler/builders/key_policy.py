"""The statements every KMS key policy of ours has: account administration first, and a
deny of grants that are not for AWS resources.

Shared by the builders that create keys (the regional data key, the trail key); not a
builder itself, so importing it keeps builders independent of each other.
"""

from __future__ import annotations

from troposphere import Ref, Sub


def account_administers_key() -> dict:
    # Without it the key becomes unmanageable; IAM policies then decide who in the
    # account may use it. `Resource: *` means "this key" in a key policy.
    return {
        "Sid": "AccountAdministersKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": "kms:*",
        "Resource": "*",
    }


def deny_grants_not_for_aws_resources() -> dict:
    # A grant made directly hands the key to any principal, outside the key policy and
    # IAM. The services that use our keys with grants (RDS and Performance Insights,
    # Lambda's environment variables) create theirs on the caller's behalf, where KMS sets
    # kms:GrantIsForAWSResource to true; Secrets Manager, CloudWatch Logs, SNS, SQS and
    # CloudTrail use the key without grants. The instances' EBS volumes use the account's
    # default EBS key, not ours: pointing the launch template at our key would also need a
    # key-policy statement for AWSServiceRoleForAutoScaling.
    return {
        "Sid": "DenyGrantsNotForAwsResources",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}},
    }


def logs_encrypt_with_key(sid: str, log_groups: dict) -> dict:
    """CloudWatch Logs encrypts log groups with a key only if the key policy lets the
    regional logs service use it; `log_groups` is the condition on the encryption
    context (`kms:EncryptionContext:aws:logs:arn`) that says which groups."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": Sub("logs.${AWS::Region}.amazonaws.com")},
        "Action": [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ],
        "Resource": "*",
        "Condition": log_groups,
    }


def alarms_publish_with_key(sid: str, alarm_arns) -> dict:
    """Alarms publish to a KMS-encrypted topic, and SNS then uses the key on CloudWatch's
    behalf: only this account's alarms whose ARNs match `alarm_arns`."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnLike": {"aws:SourceArn": alarm_arns},
        },
    }
