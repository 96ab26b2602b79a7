"""Slack delivery of every region's changes and alarms: AWS Chatbot, or a webhook function.

AWS Chatbot (`workspace_id` + `channel_id`): Chatbot allows one channel configuration per
Slack channel and account, so there is one, in the global stack, and it lists the changes
and alarm topics of every region. Their ARNs are built from the topics' fixed names, so
the global stack refers to no regional stack even though it is deployed before them.
Chatbot subscribes the listed topics it finds when the configuration is made; a region
deployed later subscribes its own topics to Chatbot's endpoint, so delivery does not
depend on the order of deployment.

Webhook (`webhook_secret`): in each region a small function (compiler/functions/
slack_webhook.py) is subscribed to both topics and posts to the incoming webhook whose
URL it reads from the named Secrets Manager secret at run time. The secret must exist in
every region (a replica of one secret will do); its value is in no template.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, awslambda, chatbot, cloudwatch, ec2, iam, logs, sns, sqs

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    ChangeEventsHandle,
    KeyHandle,
    NetworkHandle,
    NotificationsHandle,
)
from compiler.builders.lambda_permissions import vpc_function_statements
from compiler.builders.topics import chatbot_subscriptions
from compiler.builders.trust import service_trust_policy
from compiler.context import (
    ROUTE53_METRICS_REGION,
    RegionContext,
    health_alarms_have_own_topic,
)
from compiler.functions import SLACK_WEBHOOK_SOURCE
from compiler.spec import InfraSpec

# The fixed-name topics every region has, by naming.topic_name kind (notifications.py and
# change_events.py give their topics these names).
TOPIC_KINDS = ("alarms", "changes")

FUNCTION_ID = "SlackNotifier"
SECURITY_GROUP_ID = "SlackNotifierSecurityGroup"
RUNTIME = "python3.13"
HTTPS = 443
LOG_RETENTION_DAYS = 90
# Two at a time: an alarm storm queues (Lambda retries throttled events for hours)
# rather than taking the account's concurrency.
RESERVED_CONCURRENCY = 2
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# What Chatbot reads to show an alarm with its graph in the channel.
CHATBOT_ALARM_ACTIONS = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"]
CHATBOT_METRIC_ACTIONS = [
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricWidgetImage",
]


def topic_arns(spec: InfraSpec) -> list[Sub]:
    """Every region's changes and alarm topics, by ARN built from their fixed names."""
    return [
        Sub(
            f"arn:${{AWS::Partition}}:sns:{region.name}:${{AWS::AccountId}}:"
            f"{naming.topic_name(spec, kind)}"
        )
        for region in spec.regions
        for kind in TOPIC_KINDS
    ] + health_alarm_topic_arns(spec)


def health_alarm_topics(spec: InfraSpec) -> list[tuple[str, Sub]]:
    """(logical ID part, ARN) of the us-east-1 health-alarm stack's own topic, if it has
    one (builders/health_alarms.py): Slack delivers it like the regions' topics."""
    if not health_alarms_have_own_topic(spec):
        return []
    arn = Sub(
        f"arn:${{AWS::Partition}}:sns:{ROUTE53_METRICS_REGION}:${{AWS::AccountId}}:"
        + naming.topic_name(spec, naming.HEALTH_ALARM_TOPIC_KIND)
    )
    return [("HealthAlarmTopic", arn)]


def health_alarm_topic_arns(spec: InfraSpec) -> list[Sub]:
    return [arn for _, arn in health_alarm_topics(spec)]


def secret_arn_pattern(spec: InfraSpec) -> Sub:
    # Secrets Manager appends a hyphen and six random characters to a secret's name.
    return Sub(
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
        f"{spec.notifications.slack.webhook_secret}-??????"
    )


def function_name(spec: InfraSpec) -> str:
    return naming.slack_notifier_name(spec)


# --- global stack: the Chatbot channel ----------------------------------------------------


def chatbot_policy(spec: InfraSpec) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisProjectsAlarms",
                "Effect": "Allow",
                "Action": CHATBOT_ALARM_ACTIONS,
                "Resource": Sub(
                    "arn:${AWS::Partition}:cloudwatch:*:${AWS::AccountId}:alarm:"
                    f"{naming.resource_name(spec, '*')}"
                ),
            },
            {
                # Metric reads have no resource-level permissions.
                "Sid": "AwsRequiresStarForMetricReads",
                "Effect": "Allow",
                "Action": CHATBOT_METRIC_ACTIONS,
                "Resource": "*",
            },
        ],
    }


def build_slack_channel(spec: InfraSpec) -> Built[None]:
    """For the global stack: the Chatbot configuration of the Slack channel."""
    slack = spec.notifications.slack
    if slack is None or slack.delivery != "chatbot":
        return Built([], None)
    policy = purpose(
        iam.ManagedPolicy(
            "ChatbotChannelPolicy",
            Description=f"{naming.name_prefix(spec)}: what the Slack channel may read",
            PolicyDocument=chatbot_policy(spec),
        ),
        "Alarm and metric reads only: the channel role's permissions and its guardrail",
    )
    role = purpose(
        iam.Role(
            "ChatbotChannelRole",
            AssumeRolePolicyDocument=service_trust_policy("chatbot.amazonaws.com"),
            ManagedPolicyArns=[Ref(policy)],
        ),
        "Identity AWS Chatbot uses for the channel: reads this project's alarms",
    )
    channel = purpose(
        chatbot.SlackChannelConfiguration(
            "SlackChannel",
            ConfigurationName=naming.resource_name(spec, "slack"),
            SlackWorkspaceId=slack.workspace_id,
            SlackChannelId=slack.channel_id,
            IamRoleArn=GetAtt(role, "Arn"),
            # Without guardrails a channel member could act with anything the role may
            # ever be given; with this one, reads of alarms and metrics at most.
            GuardrailPolicies=[Ref(policy)],
            SnsTopicArns=topic_arns(spec),
            UserRoleRequired=False,
            LoggingLevel="ERROR",
        ),
        f"Posts every region's changes and alarms to Slack channel {slack.channel_id}",
    )
    return Built([policy, role, channel], None)


# --- regional stacks ----------------------------------------------------------------------


def webhook_policy(spec: InfraSpec, log_group, queue, key: KeyHandle) -> dict:
    secret = secret_arn_pattern(spec)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheWebhookSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret,
            },
            {
                # The secret's key is the user's choice (aws/secretsmanager by default):
                # any key of this account and region, but only for decrypting this secret
                # through Secrets Manager.
                "Sid": "DecryptTheWebhookSecretThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"),
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": Sub("secretsmanager.${AWS::Region}.amazonaws.com")
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": secret},
                },
            },
            {
                "Sid": "WriteOwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": GetAtt(log_group, "Arn"),
            },
            {
                "Sid": "SendFailedPostsToOwnDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": GetAtt(queue, "Arn"),
            },
            {
                "Sid": "EncryptDeadLettersThroughSqs",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key.key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": Sub("sqs.${AWS::Region}.amazonaws.com")}
                },
            },
            *vpc_function_statements(),
        ],
    }


def webhook_function(
    spec: InfraSpec,
    network: NetworkHandle,
    key: KeyHandle,
    notifications: NotificationsHandle,
    topics: list[tuple[str, object]],
) -> list:
    name = function_name(spec)
    security_group = purpose(
        ec2.SecurityGroup(
            SECURITY_GROUP_ID,
            GroupDescription="Slack notifier: HTTPS out to Slack and AWS APIs, nothing in",
            VpcId=network.vpc_id,
            SecurityGroupEgress=[
                # Slack and Secrets Manager have no fixed addresses; reached over HTTPS
                # through the NAT gateways.
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=HTTPS,
                    ToPort=HTTPS,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to Slack and AWS APIs",
                )
            ],
        ),
        "Network interfaces of the Slack notifier function",
    )
    log_group = purpose(
        logs.LogGroup(
            naming.logical_id(FUNCTION_ID, "log", "group"),
            LogGroupName=f"/aws/lambda/{name}",
            RetentionInDays=LOG_RETENTION_DAYS,
            KmsKeyId=key.key_arn,
        ),
        "Logs of the Slack notifier, encrypted with the data key",
    )
    # Operational logs go with their function (see scheduled_tasks); evidence is retained.
    log_group.DeletionPolicy = "Delete"
    log_group.UpdateReplacePolicy = "Delete"
    queue = purpose(
        sqs.Queue(
            naming.logical_id(FUNCTION_ID, "dead", "letter", "queue"),
            QueueName=naming.resource_name(spec, "slack-notifier-dead-letter"),  # < 80 characters
            KmsMasterKeyId=key.key_arn,
            MessageRetentionPeriod=DEAD_LETTER_RETENTION_SECONDS,
        ),
        "Notifications that could not be posted to Slack after every retry",
    )
    role = purpose(
        iam.Role(
            naming.logical_id(FUNCTION_ID, "role"),
            AssumeRolePolicyDocument=service_trust_policy("lambda.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="slack-notifier",
                    PolicyDocument=webhook_policy(spec, log_group, queue, key),
                )
            ],
        ),
        "Identity of the Slack notifier: the webhook secret, its logs and dead letters only",
    )
    function = purpose(
        awslambda.Function(
            FUNCTION_ID,
            FunctionName=name,
            Description="Posts this region's changes and alarms to Slack",
            Runtime=RUNTIME,
            Handler="index.handler",
            Code=awslambda.Code(ZipFile=SLACK_WEBHOOK_SOURCE),
            Role=GetAtt(role, "Arn"),
            Timeout=30,
            MemorySize=128,
            ReservedConcurrentExecutions=RESERVED_CONCURRENCY,
            # The secret's name only; the function reads the URL from it at run time.
            Environment=awslambda.Environment(
                Variables={"SLACK_WEBHOOK_SECRET": spec.notifications.slack.webhook_secret}
            ),
            KmsKeyArn=key.key_arn,
            TracingConfig=awslambda.TracingConfig(Mode="Active"),
            DeadLetterConfig=awslambda.DeadLetterConfig(TargetArn=GetAtt(queue, "Arn")),
            VpcConfig=awslambda.VPCConfig(
                SubnetIds=network.private_subnet_ids,
                SecurityGroupIds=[GetAtt(security_group, "GroupId")],
            ),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
        ),
        "Posts the changes and alarm topics' notifications to the Slack incoming webhook",
    )
    delivery: list = []
    for topic_id, arn in topics:
        delivery += [
            invoke_permission(
                function,
                topic_id,
                arn,
                "Lets the topic, and nothing else, invoke the Slack notifier",
            ),
            purpose(
                sns.SubscriptionResource(
                    naming.logical_id(topic_id, "slack", "subscription"),
                    TopicArn=arn,
                    Protocol="lambda",
                    Endpoint=GetAtt(function, "Arn"),
                ),
                "Delivers the topic's notifications to the Slack notifier",
            ),
        ]
    # The us-east-1 health-alarm topic subscribes the writer region's notifier across
    # regions (health_alarms.py); every region allows it, so the StackSet stays one
    # template and a promoted region's notifier is ready.
    delivery += [
        invoke_permission(
            function,
            topic_id,
            arn,
            "Lets the us-east-1 health-check alarm topic, and nothing else, invoke the "
            "Slack notifier",
        )
        for topic_id, arn in health_alarm_topics(spec)
    ]
    failed = purpose(
        cloudwatch.Alarm(
            naming.logical_id(FUNCTION_ID, "failed", "alarm"),
            AlarmName=naming.resource_name(spec, "slack", "delivery", "failed"),
            AlarmDescription="Notifications could not be posted to Slack (see the dead-letter "
            "queue and the notifier's logs)",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[
                cloudwatch.MetricDimension(Name="QueueName", Value=GetAtt(queue, "QueueName"))
            ],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Threshold=1.0,
            TreatMissingData="notBreaching",
            # The e-mail subscribers hear of it even while Slack is unreachable.
            AlarmActions=[notifications.alarm_topic_arn],
            OKActions=[notifications.alarm_topic_arn],
        ),
        "Alarm: Slack notifications are failing",
    )
    return [security_group, log_group, queue, role, function, *delivery, failed]


def invoke_permission(function, topic_id: str, arn, text: str) -> awslambda.Permission:
    return purpose(
        awslambda.Permission(
            naming.logical_id(topic_id, "slack", "invoke", "permission"),
            Action="lambda:InvokeFunction",
            FunctionName=GetAtt(function, "Arn"),
            Principal="sns.amazonaws.com",
            SourceArn=arn,  # this topic only
        ),
        text,
    )


def build_slack_delivery(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    key: KeyHandle,
    notifications: NotificationsHandle,
    changes: ChangeEventsHandle | None,
) -> Built[None]:
    """For each regional stack: the changes and alarm topics, delivered to Slack."""
    slack = spec.notifications.slack
    if slack is None or changes is None:
        return Built([], None)
    topics = [("AlarmTopic", notifications.alarm_topic_arn), ("ChangesTopic", changes.topic_arn)]
    if slack.delivery == "chatbot":
        return Built(chatbot_subscriptions(topics), None)
    return Built(webhook_function(spec, network, key, notifications, topics), None)
