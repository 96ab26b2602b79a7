"""KMS-encrypted SNS topics that one AWS service of this stack may publish to, over TLS,
and their subscribers (e-mail addresses, AWS Chatbot).

Shared by the alarm topics (notifications, health_alarms), the change topic
(change_events) and Slack delivery (slack); not a builder itself, so importing it keeps
builders independent of each other.
"""

from __future__ import annotations

import hashlib
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


# Chatbot's one HTTPS endpoint for SNS, the one it subscribes topics to itself.
CHATBOT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"


def address_id(address: str) -> str:
    """A logical ID part that stays with its address when the list is reordered or cut:
    a replaced subscription would have to be confirmed again."""
    return hashlib.sha256(address.lower().encode()).hexdigest()[:12]


def email_subscriptions(
    spec: InfraSpec, topic_id: str, topic_arn
) -> list[sns.SubscriptionResource]:
    """The spec's e-mail addresses, subscribed to the topic."""
    return [
        purpose(
            sns.SubscriptionResource(
                naming.logical_id(topic_id, "email", address_id(address)),
                TopicArn=topic_arn,
                Protocol="email",
                Endpoint=address,
            ),
            f"Sends alarms to {address} once the address confirms the subscription",
        )
        for address in spec.notifications.emails
    ]


def chatbot_subscriptions(topics: list[tuple[str, object]]) -> list[sns.SubscriptionResource]:
    return [
        purpose(
            sns.SubscriptionResource(
                naming.logical_id(topic_id, "chatbot", "subscription"),
                TopicArn=arn,
                Protocol="https",
                Endpoint=CHATBOT_ENDPOINT,
            ),
            "Delivers the topic to AWS Chatbot (the global stack's Slack channel)",
        )
        for topic_id, arn in topics
    ]
