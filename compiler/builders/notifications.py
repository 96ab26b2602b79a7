"""The region's alarm topic: KMS-encrypted SNS, published to by CloudWatch alarms only."""

from __future__ import annotations

from troposphere import Output, Ref, Sub

from compiler import naming
from compiler.builders import Built
from compiler.builders.handles import KeyHandle, NotificationsHandle
from compiler.builders.topics import email_subscriptions, encrypted_topic
from compiler.context import RegionContext
from compiler.spec import InfraSpec

TOPIC_ID = "AlarmTopic"
# A fixed name: the global stack's Slack channel lists the topic by ARN (see slack.py),
# and its CIS alarms (see cis_monitoring.py) notify it.
TOPIC_KIND = naming.ALARM_TOPIC_KIND


def alarm_name_pattern(spec: InfraSpec) -> str:
    """Every alarm of the stack is named `<project>-<environment>-...` (see monitoring)."""
    return naming.resource_name(spec, "*")


def alarms_publish(spec: InfraSpec, topic_arn) -> dict:
    # Only this account's alarms of this stack; aws:SourceAccount stops another
    # account's alarm from using CloudWatch as a confused deputy.
    return {
        "Sid": "CloudWatchAlarmsOfThisStackPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnLike": {
                "aws:SourceArn": Sub(
                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}"
                    f":alarm:{alarm_name_pattern(spec)}"
                )
            },
        },
    }


def database_events_publish(topic_arn) -> dict:
    # RDS publishes the event subscription's events (see database_events) as
    # events.rds.amazonaws.com, naming the database the event is about as aws:SourceArn.
    # Any instance of this account in this region: a promoted writer keeps the identifier
    # it was promoted with, which may be any, so no name pattern holds for every one.
    return {
        "Sid": "DatabaseEventsOfThisAccountPublish",
        "Effect": "Allow",
        "Principal": {"Service": "events.rds.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnLike": {"aws:SourceArn": database_arns()},
        },
    }


def database_arns() -> Sub:
    """Every RDS instance of this account in this region."""
    return Sub("arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*")


def build_notifications(
    spec: InfraSpec, ctx: RegionContext, key: KeyHandle
) -> Built[NotificationsHandle]:
    topic, policy = encrypted_topic(
        spec,
        logical_id=TOPIC_ID,
        kind=TOPIC_KIND,
        display="alarms",
        key=key,
        publishers=lambda topic_arn: [
            alarms_publish(spec, topic_arn),
            database_events_publish(topic_arn),
        ],
        topic_purpose="Receives every alarm of this region and passes it to the subscribers",
        policy_purpose=(
            "Only this stack's CloudWatch alarms and this account's database events may "
            "publish, and only over TLS"
        ),
    )
    subscriptions = email_subscriptions(spec, TOPIC_ID, Ref(topic))
    outputs = [
        Output(
            naming.logical_id(TOPIC_ID, "arn"),
            Description="SNS topic that receives this region's alarms",
            Value=Ref(topic),
        )
    ]
    handle = NotificationsHandle(alarm_topic_arn=Ref(topic), alarm_topic_policy_id=policy.title)
    return Built([topic, policy, *subscriptions], handle, outputs)
