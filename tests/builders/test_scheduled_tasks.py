"""Scheduled tasks: function, schedule, role, log group, dead-letter queue, network."""

from __future__ import annotations

import pytest

from compiler.builders.lambda_permissions import (
    VPC_DESCRIBE_ACTIONS,
    VPC_NETWORK_INTERFACE_ACTIONS,
    XRAY_WRITE_ACTIONS,
)
from compiler.builders.scheduled_tasks import SECURITY_GROUP_ID

from .example import (
    EXAMPLE_SPEC,
    as_list,
    get_att,
    make_spec,
    props,
    ref,
    regional_template,
    regional_templates,
    resources,
    tier_subnets,
    walk,
)

FUNCTION = "BucketReportTaskFunction"
ROLE = "BucketReportTaskRole"
LOG_GROUP = "BucketReportTaskLogGroup"
QUEUE = "BucketReportTaskDeadLetterQueue"
RULE = "BucketReportTaskSchedule"
KEY_ARN = get_att("DataKey", "Arn")
# Actions AWS offers no resource-level permission for, each allowed on `*` only for that
# reason (see the comments in compiler/builders/scheduled_tasks.py).
STAR_RESOURCE_ACTIONS = {*VPC_DESCRIBE_ACTIONS, *XRAY_WRITE_ACTIONS}


def task(**overrides) -> dict:
    return {
        "name": "bucket-report",
        "schedule": "cron(0 6 * * ? *)",
        "source": "tasks/bucket_report.py",
        "buckets": ["assets"],
        **overrides,
    }


@pytest.fixture(scope="module")
def template():
    return regional_template(make_spec())


@pytest.fixture(scope="module")
def function(template):
    return props(template, FUNCTION)


def statements(template: dict, role: str = ROLE) -> list[dict]:
    (policy,) = props(template, role)["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_function_runs_the_source_file_inline(function):
    source = EXAMPLE_SPEC.parent / "tasks" / "bucket_report.py"
    assert function["Code"] == {"ZipFile": source.read_text(encoding="utf-8")}
    assert function["Handler"] == "index.handler"
    assert function["Runtime"] == "python3.13"
    assert function["Role"] == get_att(ROLE, "Arn")


def test_function_settings_follow_the_spec(function):
    assert function["FunctionName"] == "storefront-production-bucket-report"
    assert (function["Timeout"], function["MemorySize"]) == (120, 256)
    assert function["ReservedConcurrentExecutions"] == 1


def test_function_is_in_the_private_subnets_behind_its_own_group(template, function):
    vpc = function["VpcConfig"]
    assert vpc["SubnetIds"] == [ref(s) for s in tier_subnets(template, "Private")]
    assert vpc["SecurityGroupIds"] == [get_att(SECURITY_GROUP_ID, "GroupId")]


def test_task_security_group_allows_https_out_and_nothing_in(template):
    group = props(template, SECURITY_GROUP_ID)
    assert "SecurityGroupIngress" not in group
    egress = group["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [("tcp", 443, 443)]
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        for rule in resources(template, kind).values():
            assert rule["Properties"]["GroupId"] != get_att(SECURITY_GROUP_ID, "GroupId")


def test_environment_is_encrypted_and_names_the_buckets(function):
    assert function["KmsKeyArn"] == KEY_ARN
    variables = function["Environment"]["Variables"]
    assert variables["REPORT_NAME"] == "bucket-usage"
    assert variables["TASK_BUCKETS"] == {"Fn::Join": [",", [ref("AssetsBucket")]]}


def test_tracing_is_active(function):
    assert function["TracingConfig"] == {"Mode": "Active"}


def test_log_group_is_the_functions_own_encrypted_and_retained(template, function):
    group = props(template, LOG_GROUP)
    assert group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
    assert group["KmsKeyId"] == KEY_ARN
    assert group["RetentionInDays"] == 90
    assert function["LoggingConfig"] == {"LogGroup": ref(LOG_GROUP)}


def test_failed_runs_go_to_an_encrypted_dead_letter_queue(template, function):
    assert function["DeadLetterConfig"] == {"TargetArn": get_att(QUEUE, "Arn")}
    queue = props(template, QUEUE)
    assert queue["KmsMasterKeyId"] == KEY_ARN
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_schedule_rule_targets_the_function(template):
    rule = props(template, RULE)
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule["State"] == "ENABLED"
    assert [t["Arn"] for t in rule["Targets"]] == [get_att(FUNCTION, "Arn")]


def test_only_the_schedule_rule_may_invoke_the_function(template):
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == get_att(FUNCTION, "Arn")
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": get_att(FUNCTION, "Arn"),
            "Principal": "events.amazonaws.com",
            "SourceArn": get_att(RULE, "Arn"),
        }
    ]


def test_only_lambda_may_assume_the_task_role(template):
    (statement,) = props(template, ROLE)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert "ManagedPolicyArns" not in props(template, ROLE)


def allowed_resource(resource, action: str, statement: dict) -> bool:
    """Whether `resource` is one the task owns or names, for `action`."""
    own = {
        "logs:CreateLogStream": [get_att(LOG_GROUP, "Arn")],
        "logs:PutLogEvents": [get_att(LOG_GROUP, "Arn")],
        "sqs:SendMessage": [get_att(QUEUE, "Arn")],
        "s3:ListBucket": [get_att("AssetsBucket", "Arn")],
        "s3:GetObject": [{"Fn::Sub": ["${Arn}/*", {"Arn": get_att("AssetsBucket", "Arn")}]}],
    }
    if action in own:
        return resource in own[action]
    if action in ("kms:Decrypt", "kms:GenerateDataKey"):
        # only the region key, and only when S3 or SQS uses it on the task's behalf
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"]
        return resource == KEY_ARN and via in (
            "s3.${AWS::Region}.amazonaws.com",
            "sqs.${AWS::Region}.amazonaws.com",
        )
    if action in VPC_NETWORK_INTERFACE_ACTIONS:
        return resource == {
            "Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:*/*"
        }
    return resource == "*" and action in STAR_RESOURCE_ACTIONS


def test_task_role_grants_nothing_beyond_its_own_resources(template):
    for statement in statements(template):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement
            for resource in as_list(statement["Resource"]):
                assert allowed_resource(resource, action, statement), (action, resource)


def test_star_resources_are_only_the_aws_required_ones(template):
    star = [s for s in statements(template) if "*" in as_list(s["Resource"])]
    assert {s["Sid"] for s in star} == {
        "AwsRequiresStarForDescribingNetworkInterfaces",
        "AwsRequiresStarForXrayTraces",
    }
    assert {a for s in star for a in as_list(s["Action"])} == STAR_RESOURCE_ACTIONS


def test_task_role_grants_what_the_function_needs(template):
    granted = {a for s in statements(template) for a in as_list(s["Action"])}
    assert {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        *VPC_NETWORK_INTERFACE_ACTIONS,
        *STAR_RESOURCE_ACTIONS,
    } == granted


def test_a_task_without_buckets_reads_none():
    template = regional_template(make_spec(scheduled_tasks=[task(buckets=[])]))
    granted = {a for s in statements(template) for a in as_list(s["Action"])}
    assert not {a for a in granted if a.startswith("s3:")}
    assert "Environment" not in props(template, FUNCTION)  # no variables at all


def test_each_task_has_its_own_role_queue_and_log_group():
    spec = make_spec(
        scheduled_tasks=[task(), task(name="hourly", schedule="rate(1 hour)", buckets=[])]
    )
    template = regional_template(spec)
    functions = resources(template, "AWS::Lambda::Function")
    assert set(functions) == {FUNCTION, "HourlyTaskFunction"}
    hourly = functions["HourlyTaskFunction"]["Properties"]
    assert hourly["Role"] == get_att("HourlyTaskRole", "Arn")
    assert hourly["DeadLetterConfig"]["TargetArn"] == get_att("HourlyTaskDeadLetterQueue", "Arn")
    assert props(template, "HourlyTaskSchedule")["ScheduleExpression"] == "rate(1 hour)"
    hourly_grants = [r for s in statements(template, "HourlyTaskRole") for r in walk(s)]
    assert get_att(LOG_GROUP, "Arn") not in hourly_grants
    assert get_att(QUEUE, "Arn") not in hourly_grants
    groups = {
        f["Properties"]["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
        for f in functions.values()
    }
    assert groups == {SECURITY_GROUP_ID}  # one group: the tasks' network rules are the same


def test_no_tasks_no_task_resources():
    template = regional_template(make_spec(scheduled_tasks=[]))
    for kind in (
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
        "AWS::SQS::Queue",
    ):
        assert not resources(template, kind), kind
    assert SECURITY_GROUP_ID not in template["Resources"]


def test_the_example_task_is_in_every_template():
    for path, template in regional_templates(make_spec()).items():
        assert FUNCTION in template["Resources"], path
