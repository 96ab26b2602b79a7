"""Slack delivery: AWS Chatbot's channel in the global stack listing every region's topics,
or a webhook function per region that reads its URL from a secret at run time."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from troposphere import Template

from compiler.builders.slack import build_slack_channel
from compiler.builders.topics import CHATBOT_ENDPOINT
from compiler.functions import SLACK_WEBHOOK_SOURCE
from compiler.lint import LintJob, lint_templates
from compiler.pipeline import compile_spec, lint_regions
from tests.security.test_checkov import checkov_scan
from tests.test_assemble import resolve_region_lookups

from .example import (
    EXAMPLE_SPEC,
    as_list,
    copy_example,
    every_template,
    get_att,
    make_spec,
    only,
    policy_documents,
    ref,
    regional_template,
    resources,
    walk,
)

CHATBOT = {"workspace_id": "T0123ABCD", "channel_id": "C0123ABCD"}
SECRET = "storefront/slack-webhook"
WEBHOOK = {"webhook_secret": SECRET}
TOPICS = ("AlarmTopic", "ChangesTopic")


@pytest.fixture(scope="module")
def chatbot_spec():
    return make_spec(notifications={"slack": CHATBOT})


@pytest.fixture(scope="module")
def webhook_spec():
    return make_spec(notifications={"slack": WEBHOOK})


@pytest.fixture(scope="module")
def webhook_template(webhook_spec):
    return regional_template(webhook_spec)


def channel_template(spec) -> dict:
    """The global stack's part built alone, as CloudFormation sees it."""
    template = Template()
    for resource in build_slack_channel(spec).resources:
        template.add_resource(resource)
    return template.to_dict()


def topic_names(template: dict) -> dict[str, str]:
    return {
        name: topic["Properties"]["TopicName"]
        for name, topic in resources(template, "AWS::SNS::Topic").items()
    }


# --- AWS Chatbot --------------------------------------------------------------------------


def test_chatbot_channel_lists_every_regions_topics(chatbot_spec):
    _, channel = only(channel_template(chatbot_spec), "AWS::Chatbot::SlackChannelConfiguration")
    assert (channel["SlackWorkspaceId"], channel["SlackChannelId"]) == ("T0123ABCD", "C0123ABCD")
    listed = [arn["Fn::Sub"] for arn in channel["SnsTopicArns"]]
    expected = []
    for region in chatbot_spec.regions:
        # The names the regional stacks give their topics: the ARNs are built, not referenced.
        names = topic_names(regional_template(chatbot_spec, region.name))
        assert set(names) == set(TOPICS)
        expected += [
            f"arn:${{AWS::Partition}}:sns:{region.name}:${{AWS::AccountId}}:{names[topic]}"
            for topic in TOPICS
        ]
    assert sorted(listed) == sorted(expected)


def test_chatbot_channel_needs_no_regional_stack(chatbot_spec):
    """The global stack is deployed first: nothing in it may refer to a regional stack."""
    template = channel_template(chatbot_spec)
    own = set(template["Resources"])
    for node in walk(template):
        if isinstance(node, dict) and "Ref" in node and not node["Ref"].startswith("AWS::"):
            assert node["Ref"] in own
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            assert node["Fn::GetAtt"][0] in own
        assert not (isinstance(node, dict) and "Fn::ImportValue" in node)


def test_chatbot_role_and_guardrail_read_alarms_and_metrics_only(chatbot_spec):
    template = channel_template(chatbot_spec)
    (policy_id, _), (role_id, role) = (
        only(template, "AWS::IAM::ManagedPolicy"),
        only(template, "AWS::IAM::Role"),
    )
    _, channel = only(template, "AWS::Chatbot::SlackChannelConfiguration")
    assert channel["IamRoleArn"] == get_att(role_id, "Arn")
    assert channel["GuardrailPolicies"] == [ref(policy_id)]  # never the default admin guardrail
    assert channel["UserRoleRequired"] is False
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "chatbot.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert role["ManagedPolicyArns"] == [ref(policy_id)]
    for where, document in policy_documents(template):
        for statement in document["Statement"]:
            for action in as_list(statement["Action"]):
                assert action.startswith(("cloudwatch:Describe", "cloudwatch:Get", "sts:")), where
    (alarms,) = [
        s
        for s in template["Resources"][policy_id]["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in s["Action"]
    ]
    assert alarms["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:*:${AWS::AccountId}:alarm:storefront-production-*"
    }


def test_chatbot_regions_subscribe_their_topics_to_chatbot(chatbot_spec):
    """Chatbot subscribes only topics that exist when its channel is made; the regions are
    deployed after the global stack, so each subscribes its own."""
    template = regional_template(chatbot_spec)
    subscriptions = resources(template, "AWS::SNS::Subscription")
    chatbot = sorted(
        s["Properties"]["TopicArn"]["Ref"]
        for s in subscriptions.values()
        if s["Properties"]["Protocol"] == "https"
    )
    assert chatbot == sorted(TOPICS)
    for s in subscriptions.values():
        if s["Properties"]["Protocol"] == "https":
            assert s["Properties"]["Endpoint"] == CHATBOT_ENDPOINT
    assert "SlackNotifier" not in template["Resources"]  # Chatbot needs no function


def test_no_chatbot_channel_for_the_webhook_or_without_slack(webhook_spec):
    assert build_slack_channel(webhook_spec).resources == []
    assert build_slack_channel(make_spec()).resources == []


def test_chatbot_channel_lives_in_the_global_template_only(chatbot_spec):
    templates = every_template(chatbot_spec)
    homes = [
        path
        for path, template in templates.items()
        if resources(template, "AWS::Chatbot::SlackChannelConfiguration")
    ]
    assert homes == ["global.json"]


# --- the webhook function -----------------------------------------------------------------


def function(template: dict) -> tuple[str, dict]:
    return "SlackNotifier", template["Resources"]["SlackNotifier"]["Properties"]


def test_webhook_function_runs_the_notifier_code(webhook_template):
    _, props = function(webhook_template)
    assert props["Code"] == {"ZipFile": SLACK_WEBHOOK_SOURCE}
    assert props["Handler"] == "index.handler"
    assert props["Runtime"].startswith("python3.")
    assert props["FunctionName"] == "storefront-production-slack-notifier"


def test_webhook_function_gets_the_secrets_name_only(webhook_template):
    _, props = function(webhook_template)
    assert props["Environment"] == {"Variables": {"SLACK_WEBHOOK_SECRET": SECRET}}


def test_webhook_function_is_hardened(webhook_template):
    name, props = function(webhook_template)
    key, _ = only(webhook_template, "AWS::KMS::Key")
    assert props["KmsKeyArn"] == get_att(key, "Arn")
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] >= 1
    queue = props["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert webhook_template["Resources"][queue]["Properties"]["KmsMasterKeyId"] == get_att(
        key, "Arn"
    )
    subnets = [s["Ref"] for s in props["VpcConfig"]["SubnetIds"]]
    assert subnets and all(s.startswith("Private") for s in subnets)
    (group,) = props["VpcConfig"]["SecurityGroupIds"]
    group_props = webhook_template["Resources"][group["Fn::GetAtt"][0]]["Properties"]
    assert "SecurityGroupIngress" not in group_props
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group_props["SecurityGroupEgress"]
    ] == [("tcp", 443, 443)]
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_props = webhook_template["Resources"][log_group]["Properties"]
    assert log_props["LogGroupName"] == f"/aws/lambda/{props['FunctionName']}"
    assert log_props["KmsKeyId"] == get_att(key, "Arn")


def test_both_topics_invoke_the_function_and_nothing_else_may(webhook_template):
    subscriptions = [
        s["Properties"]
        for s in resources(webhook_template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    ]
    assert sorted(s["TopicArn"]["Ref"] for s in subscriptions) == sorted(TOPICS)
    assert all(s["Endpoint"] == get_att("SlackNotifier", "Arn") for s in subscriptions)
    permissions = [
        p["Properties"]
        for p in resources(webhook_template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == get_att("SlackNotifier", "Arn")
    ]
    assert sorted(p["SourceArn"]["Ref"] for p in permissions) == sorted(TOPICS)
    assert all(p["Principal"] == "sns.amazonaws.com" for p in permissions)
    assert not [
        s
        for s in resources(webhook_template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "https"
    ]


def role_statements(template: dict) -> list[dict]:
    role = template["Resources"]["SlackNotifierRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    (policy,) = role["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_webhook_role_reads_only_its_secret(webhook_template):
    statements = role_statements(webhook_template)
    secret_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
        f"secret:{SECRET}-??????"
    }
    secret_reads = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert secret_reads == [
        {
            "Sid": "ReadTheWebhookSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        }
    ]
    (decrypt,) = [
        s for s in statements if s["Sid"] == "DecryptTheWebhookSecretThroughSecretsManager"
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
        },
        "StringLike": {"kms:EncryptionContext:SecretARN": secret_arn},
    }


def test_webhook_role_writes_only_its_logs_and_dead_letters(webhook_template):
    statements = {s["Sid"]: s for s in role_statements(webhook_template)}
    _, props = function(webhook_template)
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    queue = props["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert statements["WriteOwnLogGroup"]["Resource"] == get_att(log_group, "Arn")
    assert statements["SendFailedPostsToOwnDeadLetterQueue"]["Resource"] == get_att(queue, "Arn")
    # `*` only where AWS offers no resource-level permission, and said so in the Sid.
    for sid, statement in statements.items():
        if statement["Resource"] == "*":
            assert sid.startswith("AwsRequiresStar"), sid
        for action in as_list(statement["Action"]):
            assert "*" not in action, sid


def test_failed_deliveries_raise_an_alarm_on_the_alarm_topic(webhook_template):
    alarm = webhook_template["Resources"]["SlackNotifierFailedAlarm"]["Properties"]
    queue = function(webhook_template)[1]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}]
    assert alarm["AlarmActions"] == [ref("AlarmTopic")]
    assert alarm["AlarmName"].startswith("storefront-production-")  # the alarm topic's pattern


def test_no_secret_value_in_any_template(webhook_spec):
    """The webhook URL stays in Secrets Manager: no template holds a URL, a secret resource
    or a dynamic reference for it. (The only secret a template may own is the writer
    database's master secret, given to RDS by a reference to that resource.)"""
    for path, template in every_template(webhook_spec).items():
        text = json.dumps(template)
        assert "hooks.slack.com" not in text, path
        references = re.findall(r"\{\{resolve:secretsmanager:([^:]+)", text)
        assert set(references) <= {"${DatabaseMasterSecret}"}, path
        assert set(resources(template, "AWS::SecretsManager::Secret")) <= {
            "DatabaseMasterSecret"
        }, path
        # The secret's name appears only as the variable and in the role's ARN patterns.
        assert len(re.findall(re.escape(SECRET), text)) in (0, 3), path


def test_without_slack_nothing_is_delivered():
    template = regional_template(make_spec())
    assert "SlackNotifier" not in template["Resources"]
    assert all(
        s["Properties"]["Protocol"] == "email"
        for s in resources(template, "AWS::SNS::Subscription").values()
    )


# --- the compiled templates, with Slack in either form ------------------------------------
# cfn-lint and checkov take most of a minute per template here, so they see the two that
# hold everything Slack adds: the webhook form's StackSet template (every regional resource
# but Chatbot's two plain HTTPS subscriptions; it is linted for every region and equals each
# regional template, see below) and the Chatbot form's global template.
SCANNED = {"webhook": "stackset.json", "chatbot": "global.json"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    """The example with Slack in each form, compiled as `infra compile --no-lint` does."""
    results = {}
    for form, slack in (("chatbot", CHATBOT), ("webhook", WEBHOOK)):
        keys = "".join(f"    {key}: {value}\n" for key, value in slack.items())
        text = EXAMPLE_SPEC.read_text(encoding="utf-8").replace(
            "    - ops@example.com\n", f"    - ops@example.com\n  slack:\n{keys}", 1
        )
        spec_path = copy_example(tmp_path_factory.mktemp(form), text)
        out = spec_path.parent / "templates_out"
        results[form] = (compile_spec(spec_path, out, lint=False), out)
    return results


@pytest.fixture(scope="module")
def scanned(compiled, tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """The scanned templates side by side, with the regions each is linted for."""
    directory = tmp_path_factory.mktemp("scanned")
    found = {}
    for form, path in SCANNED.items():
        result, out = compiled[form]
        (stack,) = [s for s in result.stacks if s.path == path]
        copy = directory / f"{form}-{path}"
        shutil.copyfile(out / path, copy)
        found[copy.name] = (copy, lint_regions(result.spec, stack))
    return found


@pytest.mark.full  # cfn-lint of two whole templates for every region: the full tier's
def test_templates_with_slack_lint_clean(scanned, lint_cache):
    for name, (path, regions) in scanned.items():
        findings = lint_templates([LintJob(path, tuple(regions))], cache_dir=lint_cache)
        assert findings == [], f"{name}:\n" + "\n".join(str(f) for f in findings)


@pytest.mark.full  # checkov, set up by scripts/test.sh: the full tier's
def test_templates_with_slack_pass_checkov(scanned, checkov_cache):
    (directory,) = {path.parent for path, _ in scanned.values()}
    report = checkov_scan(directory, checkov_cache)
    scanned_files = {
        check["file_path"].lstrip("/")
        for kind in ("passed_checks", "failed_checks")
        for check in report[kind]
    }
    assert scanned_files == set(scanned)
    failed = [
        f"{check['check_id']} {check['resource']} in {check['file_path']}: {check['check_name']}"
        for check in report["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("form", ["chatbot", "webhook"])
def test_stackset_with_slack_equals_each_regional_template(compiled, form):
    result, _ = compiled[form]
    templates = {s.path: json.loads(s.template.to_json()) for s in result.stacks}
    stackset = dict(templates["stackset.json"])
    mappings = stackset.pop("Mappings")
    stackset.pop("Rules")
    for region in result.spec.regions:
        resolved = resolve_region_lookups(stackset, mappings, region.name)
        assert resolved == templates[f"regions/{region.name}.json"], region.name
        assert region.name not in json.dumps(stackset)
