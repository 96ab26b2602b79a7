"""KMS-encrypted SNS topics that one AWS service of this stack may publish to, over TLS.

Shared by the alarm topic (notifications) and the change topic (change_events); not a
builder itself, so importing it keeps builders independent of each other.
"""

from __future__ import annotations

from collections.abc import Callable

from troposphere import Ref, sns

from compiler import naming
from compiler.builders import purpose
from compiler.builders.handles import KeyHandle
from compiler.spec import InfraSpec


def encrypted_topic(
    spec: InfraSpec,
    *,
    logical_id: str,
    kind: str,
    display: str,
    key: KeyHandle,
    publishers: Callable[[Ref], list[dict]],
    topic_purpose: str,
    policy_purpose: str,
) -> tuple[sns.Topic, sns.TopicPolicy]:
    """The topic `naming.topic_name(spec, kind)` and its policy: `publishers(topic_arn)`,
    the statements that allow publishing, and a refusal of anything over plain HTTP."""
    topic = purpose(
        sns.Topic(
            logical_id,
            TopicName=naming.topic_name(spec, kind),
            DisplayName=f"{naming.name_prefix(spec)} {display}",
            KmsMasterKeyId=key.key_arn,
        ),
        topic_purpose,
    )
    topic_arn = Ref(topic)
    policy = purpose(
        sns.TopicPolicy(
            naming.logical_id(logical_id, "policy"),
            Topics=[Ref(topic)],
            PolicyDocument={
                "Version": "2012-10-17",
                "Statement": [*publishers(topic_arn), deny_insecure_publish(topic_arn)],
            },
        ),
        policy_purpose,
    )
    return topic, policy


def deny_insecure_publish(topic_arn) -> dict:
    # SNS also answers plain HTTP; messages must not travel unencrypted.
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
