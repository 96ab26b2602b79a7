"""The health-check alarms of the regions whose own stack cannot make them: a small stack
in us-east-1, deployed after the regional stacks.

Route 53 publishes its health-check metrics in us-east-1 only, and a CloudWatch alarm
watches metrics of its own region only: the alarm on a region's health check must live
in us-east-1. The us-east-1 regional stack alarms its own check (monitoring.py); every
other region's check is alarmed here, each given by its stack's `HealthCheckId` output as
a parameter (deploy.sh reads it once that stack exists, see deploy_plan).

An alarm notifies a topic of its own region only. With a us-east-1 regional stack, that
stack's alarm topic (by its fixed name), which already delivers to the e-mail addresses
and to Slack. Without one, a topic of this stack, encrypted with a key of its own, with
the e-mail addresses subscribed and, with AWS Chatbot, listed in the global stack's
channel (slack.py) and subscribed to it; with the Slack webhook, the writer region's
notifier function is subscribed across regions (SNS delivers to a Lambda function in
another region) and that region's stack lets this topic invoke it.
"""

from __future__ import annotations

from troposphere import GetAtt, Parameter, Ref, Sub, cloudwatch, kms, sns

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import KeyHandle
from compiler.builders.key_policy import (
    account_administers_key,
    alarms_publish_with_key,
    deny_grants_not_for_aws_resources,
)
from compiler.builders.topics import chatbot_subscriptions, email_subscriptions, encrypted_topic
from compiler.context import (
    health_alarm_notifier_region,
    health_alarm_regions,
    health_alarms_have_own_topic,
)
from compiler.spec import InfraSpec

# The output of each regional stack that names its health check (dns.py).
HEALTH_CHECK_OUTPUT = "HealthCheckId"
TOPIC_ID = "HealthAlarmTopic"
KEY_ID = "HealthAlarmKey"


def health_check_parameter(region: str) -> str:
    return naming.logical_id(HEALTH_CHECK_OUTPUT, region)


def topic_arn(spec: InfraSpec) -> Sub:
    """This stack's topic when it has one, else the us-east-1 regional stack's, by ARN."""
    kind = (
        naming.HEALTH_ALARM_TOPIC_KIND
        if health_alarms_have_own_topic(spec)
        else naming.ALARM_TOPIC_KIND
    )
    return Sub(
        "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
        + naming.topic_name(spec, kind)
    )


def health_check_alarm(spec: InfraSpec, region: str, topic) -> cloudwatch.Alarm:
    """As the us-east-1 stack's own (monitoring.health_check_watch): Route 53's verdict,
    the minimum over the period; missing data breaches, since a deleted or never-published
    check is no proof of health."""
    return purpose(
        cloudwatch.Alarm(
            naming.logical_id("health", "check", region, "alarm"),
            AlarmName=naming.resource_name(spec, "health", "check", region),
            AlarmDescription=f"Route 53 finds {region}'s load balancer unhealthy: DNS answers "
            "another region",
            Namespace="AWS/Route53",
            MetricName="HealthCheckStatus",
            Dimensions=[
                cloudwatch.MetricDimension(
                    Name="HealthCheckId", Value=Ref(health_check_parameter(region))
                )
            ],
            Statistic="Minimum",
            Period=spec.monitoring.period_seconds,
            EvaluationPeriods=spec.monitoring.evaluation_periods,
            ComparisonOperator="LessThanThreshold",
            Threshold=1.0,
            TreatMissingData="breaching",
            AlarmActions=[topic],
            OKActions=[topic],
        ),
        f"Alarm: Route 53 finds {region}'s load balancer unhealthy",
    )


def topic_key(spec: InfraSpec) -> kms.Key:
    return purpose(
        kms.Key(
            KEY_ID,
            Description=f"{naming.name_prefix(spec)}: encrypts the health-check alarm topic",
            EnableKeyRotation=True,
            KeyPolicy={
                "Version": "2012-10-17",
                "Statement": [
                    account_administers_key(),
                    deny_grants_not_for_aws_resources(),
                    alarms_publish_with_key(
                        "CloudWatchAlarmsPublishToTheEncryptedTopic", alarm_arns(spec)
                    ),
                ],
            },
        ),
        "Customer-managed key of the health-check alarm topic (alarms cannot publish to a "
        "topic encrypted with the AWS-managed SNS key)",
    )


def alarm_arns(spec: InfraSpec) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
        + naming.resource_name(spec, "health", "check", "*")
    )


def own_topic(spec: InfraSpec) -> list:
    """The topic, its key and policy, and its subscribers."""
    key = topic_key(spec)
    topic, policy = encrypted_topic(
        spec,
        logical_id=TOPIC_ID,
        kind=naming.HEALTH_ALARM_TOPIC_KIND,
        display="health-check alarms",
        key=KeyHandle(key_arn=GetAtt(key, "Arn"), key_id=Ref(key)),
        publishers=lambda arn: [
            {
                "Sid": "HealthCheckAlarmsOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
                    "ArnLike": {"aws:SourceArn": alarm_arns(spec)},
                },
            }
        ],
        topic_purpose="Receives the health-check alarms of the regions and passes them on",
        policy_purpose="Only this account's health-check alarms may publish, over TLS only",
    )
    resources = [key, topic, policy, *email_subscriptions(spec, TOPIC_ID, Ref(topic))]
    slack = spec.notifications.slack
    if slack is not None and slack.delivery == "chatbot":
        resources += chatbot_subscriptions([(TOPIC_ID, Ref(topic))])
    elif slack is not None:
        resources.append(
            purpose(
                sns.SubscriptionResource(
                    naming.logical_id(TOPIC_ID, "slack", "subscription"),
                    TopicArn=Ref(topic),
                    Protocol="lambda",
                    # A region's notifier (the writer's unless it is opt-in): SNS delivers
                    # across regions to Lambda, but not from us-east-1 to an opt-in region.
                    Endpoint=Sub(
                        "arn:${AWS::Partition}:lambda:"
                        f"{health_alarm_notifier_region(spec)}:${{AWS::AccountId}}:function:"
                        + naming.slack_notifier_name(spec)
                    ),
                ),
                "Delivers the health-check alarms to the writer region's Slack notifier",
            )
        )
    return resources


def build_health_alarms(spec: InfraSpec) -> Built[None]:
    """An alarm per region of `health_alarm_regions`, each on its region's health check."""
    regions = health_alarm_regions(spec)
    parameters = [
        Parameter(
            health_check_parameter(region),
            Type="String",
            AllowedPattern=r"^[0-9a-f-]{36}$",
            Description=f"ID of {region}'s Route 53 health check (the {HEALTH_CHECK_OUTPUT} "
            f"output of its stack; deploy.sh sets it)",
        )
        for region in regions
    ]
    resources = own_topic(spec) if health_alarms_have_own_topic(spec) else []
    topic = topic_arn(spec)
    resources += [health_check_alarm(spec, region, topic) for region in regions]
    return Built(resources, None, parameters=parameters)
