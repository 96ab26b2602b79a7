"""The evaluator the permission proof rests on: IAM's rules, one at a time."""

from __future__ import annotations

from tests.iam.policy import Policy, Request, evaluate, matches

DECIDED = frozenset({"aws:RequestedRegion", "aws:ResourceTag/", "aws:RequestTag/"})


def allow(action, resource="*", condition=None, sid="A"):
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def request(action, resource="arn:aws:ec2:us-east-1:1:vpc/vpc-1", **context):
    context = {key.replace("__", "/").replace("_", ":", 1): [v] for key, v in context.items()}
    return Request(action, resource, context, DECIDED)


def test_wildcards_match_actions_case_insensitively_and_arns_exactly():
    assert matches("ec2:Describe*", "EC2:DescribeVpcs", ignore_case=True)
    assert not matches("ec2:DescribeVpcs", "ec2:Describe*", ignore_case=True)
    assert matches("ec2:*", "ec2:Describe*", ignore_case=True)
    assert matches("arn:aws:iam::1:role/p/e/*", "arn:aws:iam::1:role/p/e/x-Role-1")
    assert not matches("arn:aws:iam::1:role/p-e-*", "arn:aws:iam::1:role/p/e/x")
    assert not matches("arn:aws:iam::1:Role/*", "arn:aws:iam::1:role/x")


def test_an_action_needs_an_allow_and_no_deny():
    statements = [
        allow("ec2:*"),
        {"Sid": "D", "Effect": "Deny", "Action": "ec2:DeleteVpc", "Resource": "*"},
    ]
    assert evaluate(statements, request("ec2:CreateVpc")).allowed
    decision = evaluate(statements, request("ec2:DeleteVpc"))
    assert not decision.allowed and decision.denied_by == "D"
    assert not evaluate([allow("ec2:CreateVpc")], request("ec2:DeleteVpc")).allowed


def test_a_deny_that_covers_part_of_a_required_pattern_takes_it_away():
    statements = [
        allow("ec2:*"),
        {"Sid": "D", "Effect": "Deny", "Action": "ec2:DescribeVpcs", "Resource": "*"},
    ]
    assert not evaluate(statements, request("ec2:Describe*")).allowed


def test_not_action_and_not_resource():
    deny_elsewhere = {
        "Sid": "Regions",
        "Effect": "Deny",
        "NotAction": ["iam:*"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}},
    }
    statements = [allow(["ec2:*", "iam:*"]), deny_elsewhere]
    assert evaluate(statements, request("ec2:CreateVpc", aws_RequestedRegion="us-east-1")).allowed
    assert not evaluate(
        statements, request("ec2:CreateVpc", aws_RequestedRegion="eu-west-1")
    ).allowed
    assert evaluate(statements, request("iam:CreateRole", aws_RequestedRegion="eu-west-1")).allowed
    not_resource = {
        "Sid": "N",
        "Effect": "Allow",
        "Action": "s3:*",
        "NotResource": "arn:aws:s3:::x",
    }
    assert evaluate([not_resource], request("s3:GetObject", "arn:aws:s3:::y")).allowed
    assert not evaluate([not_resource], request("s3:GetObject", "arn:aws:s3:::x")).allowed


def test_tag_conditions_and_absent_keys():
    tagged = allow("ec2:DeleteVpc", condition={"StringEquals": {"aws:ResourceTag/p": "ours"}})
    assert evaluate([tagged], request("ec2:DeleteVpc", aws_ResourceTag__p="ours")).allowed
    assert not evaluate([tagged], request("ec2:DeleteVpc", aws_ResourceTag__p="theirs")).allowed
    assert not evaluate([tagged], request("ec2:DeleteVpc")).allowed  # untagged: key absent
    if_exists = allow(
        "kms:TagResource", condition={"StringEqualsIfExists": {"aws:ResourceTag/p": "ours"}}
    )
    assert evaluate([if_exists], request("kms:TagResource")).allowed
    assert not evaluate(
        [if_exists], request("kms:TagResource", aws_ResourceTag__p="theirs")
    ).allowed
    negated = allow("ec2:X", condition={"StringNotEquals": {"aws:RequestTag/p": "ours"}})
    assert evaluate([negated], request("ec2:X")).allowed  # a negated operator holds when absent


def test_an_undecided_condition_fails_an_allow_and_keeps_a_deny():
    unknown = {"StringEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:1:vpc/vpc-1"}}
    decision = evaluate([allow("ec2:RunInstances", condition=unknown)], request("ec2:RunInstances"))
    assert not decision.allowed and decision.undecided == {"ec2:Vpc"}
    deny = {"Sid": "D", "Effect": "Deny", "Action": "ec2:*", "Resource": "*", "Condition": unknown}
    assert not evaluate([allow("ec2:*"), deny], request("ec2:RunInstances")).allowed


def test_a_policy_decides_as_its_statements_do_and_keeps_them_as_they_were():
    """`Policy` (the proof's form: statements in play worked out once per action) gives
    the list's decision, Sid for Sid, and later changes to the list do not reach it."""
    deny_elsewhere = {
        "Sid": "Regions", "Effect": "Deny", "NotAction": ["iam:*"], "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}},
    }  # fmt: skip
    statements = [
        allow("ec2:Describe*", sid="Read"),
        allow(["ec2:*", "iam:*"], sid="All"),
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "ec2:DeleteVpc", "Resource": "*"},
        deny_elsewhere,
    ]
    requests = [
        request(action, aws_RequestedRegion=region)
        for action in ("ec2:DescribeVpcs", "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:Describe*",
                       "iam:CreateRole", "s3:GetObject")
        for region in ("us-east-1", "eu-west-1")
    ]  # fmt: skip
    policy = Policy(statements)
    for each in requests * 2:  # the second time from what the policy remembers
        assert evaluate(policy, each) == evaluate(statements, each), each
    assert evaluate(policy, request("ec2:DescribeVpcs", aws_RequestedRegion="us-east-1")).allowed_by == "Read"
    statements[0]["Action"] = "s3:*"
    statements.pop()
    assert evaluate(policy, request("ec2:DescribeVpcs", aws_RequestedRegion="us-east-1")).allowed_by == "Read"
    assert not evaluate(policy, request("ec2:CreateVpc", aws_RequestedRegion="eu-west-1")).allowed
