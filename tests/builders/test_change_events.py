"""Change rules: this project's stack status, security group and IAM changes, published as
readable notifications to the region's KMS-encrypted changes topic."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from compiler.assemble import assemble
from compiler.builders.change_events import (
    IAM_EVENTS,
    RULE_SUBJECTS,
    SECURITY_GROUP_EVENTS,
    rule_name,
)

from .example import get_att, make_spec, only, ref, regional_template, resources

ACCOUNT = {"Ref": "AWS::AccountId"}
CHATBOT = {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}
WEBHOOK = {"webhook_secret": "storefront/slack-webhook"}


@pytest.fixture(scope="module", params=[CHATBOT, WEBHOOK], ids=["chatbot", "webhook"])
def spec(request):
    return make_spec(notifications={"slack": request.param})


@pytest.fixture(scope="module")
def template(spec):
    return regional_template(spec)


def rules(template: dict) -> dict[str, dict]:
    return {
        name: r for name, r in resources(template, "AWS::Events::Rule").items() if "Changes" in name
    }


def rule(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]


def changes_topic(template: dict) -> tuple[str, dict]:
    (name,) = [n for n, t in resources(template, "AWS::SNS::Topic").items() if n == "ChangesTopic"]
    return name, template["Resources"][name]["Properties"]


def substitute(text: str, **values: str) -> str:
    """An `Fn::Sub` string with its `${...}` variables filled in."""
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1).replace("AWS::", "")], text)


def stack_id_matches(pattern: dict, stack_id: str, region: str) -> bool:
    """EventBridge's prefix matching of `detail.stack-id`, for one account and region."""
    prefixes = [
        substitute(p["prefix"]["Fn::Sub"], Partition="aws", Region=region, AccountId="111122223333")
        for p in pattern["detail"]["stack-id"]
    ]
    return any(stack_id.startswith(prefix) for prefix in prefixes)


def stack_id(name: str, region: str) -> str:
    return f"arn:aws:cloudformation:{region}:111122223333:stack/{name}/5b0c1b20-9a3e-11ef-8e5d"


# --- without Slack ------------------------------------------------------------------------


def test_without_slack_there_is_no_changes_topic_nor_rule():
    template = regional_template(make_spec())
    assert "ChangesTopic" not in template["Resources"]
    assert not rules(template)
    statements = only(template, "AWS::KMS::Key")[1]["KeyPolicy"]["Statement"]
    assert all(s["Principal"] != {"Service": "events.amazonaws.com"} for s in statements)


# --- the topic ----------------------------------------------------------------------------


def test_changes_topic_is_named_and_encrypted_with_the_region_key(template):
    _, topic = changes_topic(template)
    key, _ = only(template, "AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == get_att(key, "Arn")
    assert topic["TopicName"] == "storefront-production-changes"


def test_key_lets_this_accounts_eventbridge_publish_to_encrypted_topics(template):
    statements = only(template, "AWS::KMS::Key")[1]["KeyPolicy"]["Statement"]
    (statement,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_topic_policy_lets_only_the_change_rules_of_this_account_publish(template):
    policies = resources(template, "AWS::SNS::TopicPolicy")
    (policy,) = [
        p["Properties"]
        for p in policies.values()
        if p["Properties"]["Topics"] == [ref("ChangesTopic")]
    ]
    allow, deny = policy["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == ref("ChangesTopic")
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    allowed = {
        a["Fn::Sub"].rsplit(":rule/", 1)[1]
        for a in allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    }
    assert {r["Properties"]["Name"] for r in rules(template).values()} == allowed
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_rule_sends_a_chatbot_notification_to_the_changes_topic(template):
    assert sorted(rules(template)) == [
        "IamChangesRule",
        "SecurityGroupChangesRule",
        "StackChangesRule",
    ]
    for name, found in rules(template).items():
        (target,) = found["Properties"]["Targets"]
        assert target["Arn"] == ref("ChangesTopic"), name
        transformer = target["InputTransformer"]
        # Filled in as EventBridge does (values escaped), the template is a custom notification.
        filled = re.sub(
            r"<([a-z-]+)>", lambda m: f"value of {m.group(1)}", transformer["InputTemplate"]
        )
        message = json.loads(filled)
        assert (message["version"], message["source"]) == ("1.0", "custom"), name
        assert message["content"]["title"] and message["content"]["description"], name
        used = set(re.findall(r"<([a-z-]+)>", transformer["InputTemplate"]))
        assert used == set(transformer["InputPathsMap"]), name


# --- the rules ----------------------------------------------------------------------------


def test_stack_rule_matches_this_projects_stacks_by_stack_id_prefix(spec):
    pattern = rule(regional_template(spec), "StackChangesRule")["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudformation"]
    assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
    region = spec.primary_region
    for stack in assemble(spec):
        if stack.kind == "region" and stack.region == region:
            assert stack_id_matches(pattern, stack_id(stack.stack_name, region), region)
    assert stack_id_matches(pattern, stack_id("storefront-production-global", region), region)
    # The stacks CloudFormation makes for the StackSet's instances.
    instance = "StackSet-storefront-production-regional-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert stack_id_matches(pattern, stack_id(instance, region), region)


@pytest.mark.parametrize(
    "other",
    [
        "storefront-staging-us-east-1",  # another environment
        "storefront-production-us-east-1-extra",  # a name that only starts like ours
        "shop-production-us-east-1",
        "StackSet-storefront-staging-regional-0f1e2d3c",
    ],
)
def test_stack_rule_ignores_other_stacks(spec, other):
    pattern = rule(regional_template(spec), "StackChangesRule")["Properties"]["EventPattern"]
    assert not stack_id_matches(pattern, stack_id(other, "us-east-1"), "us-east-1")


def test_security_group_rule_matches_successful_security_group_api_calls(template):
    pattern = rule(template, "SecurityGroupChangesRule")["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ec2"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["ec2.amazonaws.com"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    names = set(pattern["detail"]["eventName"])
    assert names == set(SECURITY_GROUP_EVENTS)
    assert {"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup",
            "ModifySecurityGroupRules"} <= names  # fmt: skip


def test_iam_rule_matches_successful_iam_changes(template):
    pattern = rule(template, "IamChangesRule")["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.iam"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["iam.amazonaws.com"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    names = pattern["detail"]["eventName"]
    assert names == list(IAM_EVENTS) and len(set(names)) == len(names)
    assert {"CreateRole", "AttachRolePolicy", "PutRolePolicy", "UpdateAssumeRolePolicy",
            "CreateAccessKey", "CreateUser"} <= set(names)  # fmt: skip
    # Only changes: no Get/List/Describe call is ever matched.
    assert not [n for n in names if n.startswith(("Get", "List", "Describe"))]


def test_event_patterns_fit_eventbridges_limit(template):
    for name, found in rules(template).items():
        assert len(json.dumps(found["Properties"]["EventPattern"])) < 4096, name


def test_iam_rule_exists_only_where_iam_events_arrive(spec):
    """IAM's CloudTrail events reach EventBridge in us-east-1 only."""
    templates = {
        stack.path: stack.template.to_dict()
        for stack in assemble(spec)
        if stack.kind in ("region", "stackset")
    }
    assert sorted(templates) == [
        "regions/us-east-1.json",
        "regions/us-west-2.json",
        "stackset.json",
    ]
    for path, template in templates.items():
        assert rule(template, "IamChangesRule")["Condition"] == "ReceivesIamEvents", path
    assert templates["regions/us-west-2.json"]["Conditions"]["ReceivesIamEvents"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }
    assert templates["stackset.json"]["Conditions"]["ReceivesIamEvents"] == {
        "Fn::Equals": [
            {"Ref": "AWS::Region"},
            {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "IamEventsRegion"]},
        ]
    }


def test_without_us_east_1_there_is_no_iam_rule():
    """No stack of the spec could receive IAM events (see the README's Slack section)."""
    spec = make_spec(
        notifications={"slack": CHATBOT},
        regions=[
            {"name": "us-west-2", "cidr": "10.20.0.0/16"},
            {"name": "eu-west-1", "cidr": "10.30.0.0/16"},
        ],
        load_balancer={"certificate_arns": {}},
    )
    for stack in assemble(spec):
        template = stack.template.to_dict()
        assert "IamChangesRule" not in template["Resources"], stack.path
        assert "ReceivesIamEvents" not in template.get("Conditions", {}), stack.path
        assert "IamEventsRegion" not in json.dumps(template.get("Mappings", {})), stack.path
    assert sorted(rules(regional_template(spec))) == [
        "SecurityGroupChangesRule",
        "StackChangesRule",
    ]


def test_rule_names_fit_eventbridges_64_characters():
    # The longest project and environment names the spec allows (other limits, such as
    # S3's, may be stricter).
    longest = SimpleNamespace(project="p" * 20, environment="e" * 20)
    for subject in RULE_SUBJECTS:
        assert len(rule_name(longest, subject)) <= 64
