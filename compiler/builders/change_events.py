"""Infrastructure changes as events: EventBridge rules that feed the region's changes topic.

With `notifications.slack`, each region gets a KMS-encrypted SNS topic of changes and
rules on the region's default event bus for:

- status changes of this project's CloudFormation stacks (the region's stack, the global
  stack, and the stacks of the StackSet's instances, matched by stack ID prefix);
- successful security group changes in the region (EC2 API calls seen by CloudTrail);
- successful IAM changes in the account. IAM is a global service whose CloudTrail events
  reach EventBridge in us-east-1 only, so that rule exists only in a us-east-1 stack (a
  template condition keeps one template for every region), and only when us-east-1 is
  one of the spec's regions.

CloudTrail delivers API calls to EventBridge only while a trail is logging: the global
stack's trail, or an organisation trail (`audit.trail: false`).

Each rule rewrites its event into AWS Chatbot's custom notification format (a title and a
Markdown description), which Chatbot posts as it is and the webhook function reads too.
"""

from __future__ import annotations

import json

from troposphere import Equals, Ref, Sub, events, sns

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import ChangeEventsHandle, KeyHandle
from compiler.builders.topics import encrypted_topic
from compiler.context import IAM_EVENTS_REGION, RegionContext
from compiler.spec import InfraSpec

TOPIC_ID = "ChangesTopic"
TOPIC_KIND = "changes"  # naming.topic_name(spec, TOPIC_KIND): fixed, for Chatbot's list
IAM_EVENTS_CONDITION = "ReceivesIamEvents"
CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail"

SECURITY_GROUP_EVENTS = (
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "UpdateSecurityGroupRuleDescriptionsEgress",
)
# Changes of who may do what: identities, their policies, their credentials and trust.
IAM_EVENTS = (
    "CreateRole", "DeleteRole", "UpdateRole", "UpdateAssumeRolePolicy",
    "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
    "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    "CreateUser", "DeleteUser", "PutUserPolicy", "DeleteUserPolicy",
    "AttachUserPolicy", "DetachUserPolicy", "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
    "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
    "CreateGroup", "DeleteGroup", "PutGroupPolicy", "DeleteGroupPolicy",
    "AttachGroupPolicy", "DetachGroupPolicy", "AddUserToGroup", "RemoveUserFromGroup",
    "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
    "SetDefaultPolicyVersion", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile",
    "CreateOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
    "CreateSAMLProvider", "UpdateSAMLProvider", "DeleteSAMLProvider",
)  # fmt: skip


# What the rules watch; each names its rule `<project>-<environment>-<subject>-changes`.
RULE_SUBJECTS = ("stack", "security-group", "iam")


def rule_name(spec: InfraSpec, subject: str) -> str:
    # At most 20 + 1 + 20 + 23 characters: inside EventBridge's 64 for rule names.
    return naming.resource_name(spec, subject, "changes")


def notification(title: str, description: str, thread: str | None = None) -> str:
    """An input template in AWS Chatbot's custom notification format.

    `<name>` placeholders inside the strings are filled by EventBridge, which escapes the
    values so that the result stays valid JSON.
    """
    body: dict = {
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", "title": title, "description": description},
    }
    if thread:
        body["metadata"] = {"threadId": thread}
    return json.dumps(body)


def stack_id_prefixes(spec: InfraSpec) -> list[str]:
    """This project's stacks in this region, as stack ID prefixes for `Fn::Sub`.

    A stack ID is `arn:...:stack/<name>/<uuid>`: the `/` after a name makes it exact. The
    global stack exists in one region only (global_region); matching it elsewhere costs nothing.
    """
    return [
        f"{naming.regional_stack_name(spec, '${AWS::Region}')}/",
        f"{naming.global_stack_name(spec)}/",
        naming.stack_set_instance_name_prefix(spec),
    ]


def stack_pattern(spec: InfraSpec) -> dict:
    stack_arn = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"
    return {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation Stack Status Change"],
        "detail": {
            "stack-id": [{"prefix": Sub(stack_arn + prefix)} for prefix in stack_id_prefixes(spec)]
        },
    }


def api_call_pattern(source: str, event_source: str, names: tuple[str, ...]) -> dict:
    return {
        "source": [source],
        "detail-type": [CLOUDTRAIL_API_CALL],
        "detail": {
            "eventSource": [event_source],
            "eventName": list(names),
            # A refused call changed nothing.
            "errorCode": [{"exists": False}],
        },
    }


def stack_transformer() -> events.InputTransformer:
    return events.InputTransformer(
        InputPathsMap={
            "stack": "$.detail.stack-id",
            "status": "$.detail.status-details.status",
            "reason": "$.detail.status-details.status-reason",
            "region": "$.region",
        },
        InputTemplate=notification(
            "CloudFormation: <status>",
            "Stack `<stack>` in <region> is *<status>*\n<reason>",
            thread="<stack>",
        ),
    )


def security_group_transformer() -> events.InputTransformer:
    return events.InputTransformer(
        InputPathsMap={
            "event": "$.detail.eventName",
            "actor": "$.detail.userIdentity.arn",
            "group": "$.detail.requestParameters.groupId",
            "name": "$.detail.requestParameters.groupName",
            "region": "$.region",
            "time": "$.time",
        },
        InputTemplate=notification(
            "Security group change: <event>",
            "*<event>* in <region> at <time>\nGroup: <group> <name>\nBy: `<actor>`",
        ),
    )


def iam_transformer() -> events.InputTransformer:
    return events.InputTransformer(
        InputPathsMap={
            "event": "$.detail.eventName",
            "actor": "$.detail.userIdentity.arn",
            "role": "$.detail.requestParameters.roleName",
            "user": "$.detail.requestParameters.userName",
            "policy": "$.detail.requestParameters.policyArn",
            "time": "$.time",
        },
        InputTemplate=notification(
            "IAM change: <event>",
            "*<event>* at <time>\nRole: <role> User: <user> Policy: <policy>\nBy: `<actor>`",
        ),
    )


def change_rules_publish(spec: InfraSpec, topic_arn) -> dict:
    rule_arns = [
        Sub(
            "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
            f":rule/{rule_name(spec, subject)}"
        )
        for subject in RULE_SUBJECTS
    ]
    # Only the rules below; aws:SourceAccount keeps another account's rule from using
    # EventBridge as a confused deputy.
    return {
        "Sid": "ChangeRulesOfThisStackPublish",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnEquals": {"aws:SourceArn": rule_arns},
        },
    }


def rule(
    spec: InfraSpec,
    subject: str,
    description: str,
    pattern: dict,
    transformer: events.InputTransformer,
    topic: sns.Topic,
) -> events.Rule:
    return purpose(
        events.Rule(
            naming.logical_id(subject, "changes", "rule"),
            Name=rule_name(spec, subject),
            Description=description,
            EventPattern=pattern,
            State="ENABLED",
            Targets=[
                events.Target(Id="changes-topic", Arn=Ref(topic), InputTransformer=transformer)
            ],
        ),
        f"{description}, as a notification on the changes topic",
    )


def build_change_events(
    spec: InfraSpec, ctx: RegionContext, key: KeyHandle
) -> Built[ChangeEventsHandle | None]:
    if not spec.notifications.slack:
        return Built([], None)
    topic, policy = encrypted_topic(
        spec,
        logical_id=TOPIC_ID,
        kind=TOPIC_KIND,
        display="changes",
        key=key,
        publishers=lambda topic_arn: [change_rules_publish(spec, topic_arn)],
        topic_purpose="Receives this region's infrastructure changes and passes them to Slack",
        policy_purpose="Only this stack's change rules may publish, and only over TLS",
    )
    rules = [
        rule(spec, "stack", "Status changes of this project's CloudFormation stacks",
             stack_pattern(spec), stack_transformer(), topic),
        rule(spec, "security-group", "Security group changes in this region",
             api_call_pattern("aws.ec2", "ec2.amazonaws.com", SECURITY_GROUP_EVENTS),
             security_group_transformer(), topic),
    ]  # fmt: skip
    conditions = {}
    if IAM_EVENTS_REGION in [region.name for region in spec.regions]:
        iam_rule = rule(spec, "iam", "IAM changes in this account",
                        api_call_pattern("aws.iam", "iam.amazonaws.com", IAM_EVENTS),
                        iam_transformer(), topic)  # fmt: skip
        iam_rule.Condition = IAM_EVENTS_CONDITION
        rules.append(iam_rule)
        conditions[IAM_EVENTS_CONDITION] = Equals(Ref("AWS::Region"), ctx.iam_events_region())
    return Built(
        [topic, policy, *rules],
        ChangeEventsHandle(topic_arn=Ref(topic)),
        conditions=conditions,
    )
