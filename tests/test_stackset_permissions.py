"""The service-managed StackSet administrator's policy allows exactly the calls deploy.sh
makes for it, on this project's StackSet only."""

from __future__ import annotations

import re

import pytest

from compiler.deploy_script import (
    ORG_REPLICATION_LIBRARY,
    STACK_SET_LIBRARY,
    STACK_SET_PREVIEW_LIBRARY,
)
from compiler.pipeline import load_and_validate
from compiler.stackset_permissions import (
    REPLICATION_CALLS,
    STACK_SET_CALLS,
    stack_set_admin_policy,
)
from tests.fixtures.examples import example


@pytest.fixture(scope="module")
def spec():
    return load_and_validate(example("organization").spec)


def _action(operation: str) -> str:
    """`create-stack-set` -> `cloudformation:CreateStackSet`."""
    return "cloudformation:" + "".join(word.capitalize() for word in operation.split("-"))


# The StackSet's deploy and its preview (stackset-plan).
LIBRARIES = (STACK_SET_LIBRARY, STACK_SET_PREVIEW_LIBRARY)


def _calls(*libraries) -> set[str]:
    return {
        _action(op)
        for library in libraries
        for op in re.findall(r"aws cloudformation ([a-z-]+)", library.read_text())
        if "stack-set" in op or "stack-instances" in op
    }


# The resource types of each action the policy grants, from the Service Authorization
# Reference (list_awscloudformation, list_amazons3, list_amazonec2,
# list_awsorganizations): an action with none matches only "Resource": "*".
RESOURCE_TYPES = {
    "cloudformation:CreateStackSet": (),
    "cloudformation:UpdateStackSet": ("stackset", "stackset-target", "type"),
    "cloudformation:DescribeStackSet": ("stackset",),
    "cloudformation:DescribeStackSetOperation": ("stackset",),
    "cloudformation:ListStackSetOperationResults": ("stackset",),
    "cloudformation:ListStackInstances": ("stackset",),
    "cloudformation:CreateStackInstances": ("stackset", "stackset-target", "type"),
    "cloudformation:UpdateStackInstances": ("stackset", "stackset-target", "type"),
    "cloudformation:TagResource": ("changeset", "stack", "stackset"),
    "cloudformation:UntagResource": ("changeset", "stack", "stackset"),
    "cloudformation:DescribeStacks": ("stack",),
    "cloudformation:DescribeStackEvents": ("stack",),
    "cloudformation:CreateChangeSet": ("stack",),
    "cloudformation:DescribeChangeSet": ("stack",),
    "cloudformation:ExecuteChangeSet": ("stack",),
    "cloudformation:GetTemplateSummary": ("stack", "stackset"),
    "cloudformation:UpdateTerminationProtection": ("stack",),
    "cloudformation:SetStackPolicy": ("stack",),
    "s3:PutObject": ("object",),
    "s3:GetObject": ("object",),
    "s3:ListBucket": ("bucket",),
    "ec2:DescribeRegions": (),
    "organizations:ListDelegatedAdministrators": (),
}
# How each resource type's ARN starts (after the region and account).
ARN_TYPE = re.compile(r"^arn:aws:(?:cloudformation:[^:]*:[^:]*:([a-z-]+)/|s3:::[^/]*(/)?)")


def _resource_type(arn: str) -> str:
    match = ARN_TYPE.match(arn)
    assert match, arn
    if arn.startswith("arn:aws:s3"):
        return "object" if match.group(2) else "bucket"
    return {"type": "type"}.get(match.group(1).split("/")[0], match.group(1))


def _granted(policy: dict) -> set[str]:
    return {
        a
        for s in policy["Statement"]
        if s["Sid"] in ("ThisProjectsStackSetOnly", "CreateThisProjectsStackSetOnly")
        for a in s["Action"]
        if a not in ("cloudformation:TagResource", "cloudformation:UntagResource")
    }


def test_every_stack_set_call_of_the_library_is_allowed_and_nothing_else(spec):
    called = _calls(*LIBRARIES)
    assert called  # the pattern still finds the calls
    granted = {
        a
        for a in STACK_SET_CALLS
        if a not in ("cloudformation:TagResource", "cloudformation:UntagResource")
    }
    assert called == granted
    # The example replicates (a bucket, the database's secret): the switch's call too.
    replicating = _calls(*LIBRARIES, ORG_REPLICATION_LIBRARY)
    assert replicating - called == set(REPLICATION_CALLS)
    assert _granted(stack_set_admin_policy(spec)) == replicating


def test_without_replication_the_switch_is_not_granted(spec):
    single = spec.model_copy(update={"regions": spec.regions[:1]})
    assert _granted(stack_set_admin_policy(single)) == _calls(*LIBRARIES)


def test_the_stack_set_statement_names_this_projects_stack_set_only(spec):
    statement = next(
        s
        for s in stack_set_admin_policy(spec)["Statement"]
        if s["Sid"] == "ThisProjectsStackSetOnly"
    )
    assert statement["Resource"][:2] == [
        "arn:aws:cloudformation:us-east-1:*:stackset/shop-prod-regional:*",
        "arn:aws:cloudformation:*:*:stackset-target/shop-prod-regional:*",
    ]
    # The instances' regions are the spec's, whatever the target ARN's region field says.
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"cloudformation:TargetRegion": ["us-east-1", "us-west-2"]}
    }
    assert "cloudformation:DeleteStackSet" not in statement["Action"]
    assert "cloudformation:UntagResource" in statement["Action"]


def test_every_action_is_on_resources_of_its_own_types_and_typeless_ones_on_star(spec):
    for statement in stack_set_admin_policy(spec)["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        for action in statement["Action"]:
            types = RESOURCE_TYPES[action]
            if not types:
                assert resources == ["*"], (action, resources)
                continue
            assert "*" not in resources, action
            # Every resource of the statement is of a type the action has (or the statement
            # grants it on nothing), and at least one names the action's type.
            matched = {_resource_type(r) for r in resources} & set(types)
            assert matched, (action, resources)


def test_creating_the_stack_set_needs_this_projects_tag_and_template_prefix(spec):
    create = next(
        s
        for s in stack_set_admin_policy(spec)["Statement"]
        if s["Sid"] == "CreateThisProjectsStackSetOnly"
    )
    assert create["Action"] == ["cloudformation:CreateStackSet"]
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/infra:project": "shop-prod"},
        "StringLike": {
            "cloudformation:TemplateUrl": (
                "https://shop-prod-deploy-*-us-east-1.s3*.amazonaws.com/shop-prod-regional/*"
            )
        },
    }


def test_the_template_upload_is_limited_to_the_stack_sets_prefix(spec):
    upload = next(
        s for s in stack_set_admin_policy(spec)["Statement"] if s["Sid"] == "UploadTheTemplate"
    )
    assert upload["Resource"] == [
        "arn:aws:s3:::shop-prod-deploy-*-us-east-1",
        "arn:aws:s3:::shop-prod-deploy-*-us-east-1/shop-prod-regional/*",
    ]


def test_only_a_delegated_administrator_gets_the_organizations_lookup(spec):
    def sids(policy):
        return [s["Sid"] for s in policy["Statement"]]

    assert "DelegatedAdministratorLookup" in sids(stack_set_admin_policy(spec))
    as_management = spec.model_copy(
        update={"stackset": spec.stackset.model_copy(update={"call_as": "SELF"})}
    )
    assert "DelegatedAdministratorLookup" not in sids(stack_set_admin_policy(as_management))
    actions = [a for s in stack_set_admin_policy(as_management)["Statement"] for a in s["Action"]]
    assert not [a for a in actions if a.startswith(("organizations:", "iam:"))]
