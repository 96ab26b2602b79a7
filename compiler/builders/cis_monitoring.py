"""The CIS AWS Foundations monitoring controls: one metric filter and one alarm per control
on the trail's CloudWatch Logs group.

Not a builder: the table and the resources made from it, used by the audit builder. The
filter patterns are those AWS Security Hub checks for its controls CloudWatch.1 to
CloudWatch.14 (CIS AWS Foundations Benchmark v1.2.0 3.1-3.14, v1.4.0 4.1-4.14): a
reviewer can compare them with the benchmark text one for one. The alarms notify the
alarm topic of the global stack's region (named, not referenced: it belongs to that
region's regional stack), which delivers to the spec's e-mail addresses and to Slack.
"""

from __future__ import annotations

from typing import NamedTuple

from troposphere import Ref, Sub, cloudwatch, logs

from compiler import naming
from compiler.builders import purpose
from compiler.spec import InfraSpec

# One event in five minutes is enough: each of these is rare and worth a look.
PERIOD_SECONDS = 300


def _any_event(*names: str, source: str = "") -> str:
    """`{($.eventName=A) || ($.eventName=B)}`, inside an eventSource test when given."""
    names_test = " || ".join(f"($.eventName={name})" for name in names)
    if source:
        return f"{{($.eventSource={source}) && ({names_test})}}"
    return f"{{{names_test}}}"


class Control(NamedTuple):
    key: str  # names the filter's metric and the alarm
    security_hub: str  # the Security Hub control that checks this filter
    pattern: str
    description: str


CONTROLS: tuple[Control, ...] = (
    Control(
        "root-use",
        "CloudWatch.1",
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType !="AwsServiceEvent"}',
        "The root user made a call",
    ),
    Control(
        "unauthorised-calls",
        "CloudWatch.2",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
        "An API call was refused for lack of permission",
    ),
    Control(
        "console-sign-in-without-mfa",
        "CloudWatch.3",
        '{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") '
        '&& ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success")}',
        "An IAM user signed in to the console without MFA",
    ),
    Control(
        "iam-policy-changes",
        "CloudWatch.4",
        _any_event(
            "DeleteGroupPolicy",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
            source="iam.amazonaws.com",
        ),
        "An IAM policy was changed",
    ),  # fmt: skip
    Control(
        "cloudtrail-changes",
        "CloudWatch.5",
        _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"),
        "A CloudTrail trail was changed, stopped or started",
    ),
    Control(
        "console-sign-in-failures",
        "CloudWatch.6",
        '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
        "A console sign-in failed authentication",
    ),
    Control(
        "kms-key-disabled-or-deleted",
        "CloudWatch.7",
        _any_event("DisableKey", "ScheduleKeyDeletion", source="kms.amazonaws.com"),
        "A KMS key was disabled or scheduled for deletion",
    ),
    Control(
        "s3-bucket-policy-changes",
        "CloudWatch.8",
        _any_event(
            "PutBucketAcl",
            "PutBucketPolicy",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketPolicy",
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketReplication",
            source="s3.amazonaws.com",
        ),
        "An S3 bucket's policy, ACL, CORS, lifecycle or replication was changed",
    ),  # fmt: skip
    Control(
        "config-changes",
        "CloudWatch.9",
        _any_event(
            "StopConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutDeliveryChannel",
            "PutConfigurationRecorder",
            source="config.amazonaws.com",
        ),
        "AWS Config recording or delivery was changed or stopped",
    ),  # fmt: skip
    Control(
        "security-group-changes",
        "CloudWatch.10",
        _any_event(
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ),
        "A security group was changed",
    ),  # fmt: skip
    Control(
        "nacl-changes",
        "CloudWatch.11",
        _any_event(
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ),
        "A network ACL was changed",
    ),  # fmt: skip
    Control(
        "route-table-changes",
        "CloudWatch.13",
        _any_event(
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "DisassociateRouteTable",
            source="ec2.amazonaws.com",
        ),
        "A route table was changed",
    ),  # fmt: skip
    Control(
        "gateway-changes",
        "CloudWatch.12",
        _any_event(
            "CreateCustomerGateway",
            "DeleteCustomerGateway",
            "AttachInternetGateway",
            "CreateInternetGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
        ),
        "A network gateway was changed",
    ),  # fmt: skip
    Control(
        "vpc-changes",
        "CloudWatch.14",
        _any_event(
            "CreateVpc",
            "DeleteVpc",
            "ModifyVpcAttribute",
            "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
        ),
        "A VPC or VPC peering connection was changed",
    ),  # fmt: skip
)


def metric_namespace(spec: InfraSpec) -> str:
    return f"{naming.name_prefix(spec)}/CloudTrail"


def alarm_topic_arn(spec: InfraSpec) -> Sub:
    """The alarm topic of the regional stack in the global stack's own region, by
    its fixed name: its policy lets this account's `<prefix>-*` alarms publish."""
    return Sub(
        "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
        + naming.topic_name(spec, naming.ALARM_TOPIC_KIND)
    )


def cis_alarm_arns(spec: InfraSpec) -> Sub:
    """Every alarm of `CONTROLS`, in the global stack's region."""
    return Sub(
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
        + naming.resource_name(spec, "cis", "*")
    )


def cis_monitoring(spec: InfraSpec, log_group: logs.LogGroup) -> list:
    """A metric filter and an alarm for each control of `CONTROLS`."""
    namespace = metric_namespace(spec)
    topic = alarm_topic_arn(spec)
    resources: list = []
    for control in CONTROLS:
        metric = naming.logical_id(control.key)
        resources.append(
            logs.MetricFilter(
                naming.logical_id("cis", control.key, "filter"),
                LogGroupName=Ref(log_group),
                FilterPattern=control.pattern,
                MetricTransformations=[
                    logs.MetricTransformation(
                        MetricNamespace=namespace, MetricName=metric, MetricValue="1"
                    )
                ],
            )
        )
        resources.append(
            purpose(
                cloudwatch.Alarm(
                    naming.logical_id("cis", control.key, "alarm"),
                    AlarmName=naming.resource_name(spec, "cis", control.key),
                    AlarmDescription=f"{control.description} ({control.security_hub})",
                    Namespace=namespace,
                    MetricName=metric,
                    Statistic="Sum",
                    Period=PERIOD_SECONDS,
                    EvaluationPeriods=1,
                    ComparisonOperator="GreaterThanOrEqualToThreshold",
                    Threshold=1.0,
                    # A filter publishes only when an event matches: silence is good news.
                    TreatMissingData="notBreaching",
                    AlarmActions=[topic],
                ),
                "CIS monitoring alarm on the trail's events",
            )
        )
    return resources
