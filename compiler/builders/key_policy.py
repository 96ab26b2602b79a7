"""The statement every KMS key policy of ours starts with.

Shared by the builders that create keys (the regional data key, the trail key); not a
builder itself, so importing it keeps builders independent of each other.
"""

from __future__ import annotations

from troposphere import Sub


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
