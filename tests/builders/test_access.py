"""The deploy roles of the global stack: who may assume them, and what they may do.

The management role is for the team (`access.admin_principals`, MFA by default); the
execution roles are for CloudFormation only. Their permissions are least privilege: no
`*` action, a `*` resource only in statements whose Sid says why, names scoped to the
project, regional services limited to the spec's regions.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from compiler.assemble import build_global_template, build_stackset_template
from compiler.builders.access import (
    EXECUTION_ROLE_ID,
    MANAGEMENT_ROLE_ID,
    STACK_SET_ADMIN_ROLE_ID,
    STACK_SET_EXECUTION_ROLE_ID,
    TEMPLATE_BUCKET_ID,
)

from .example import get_att, make_spec, policy_documents, props, ref, resources, walk

# IAM users: MFA can be required of them (a role's sessions carry no MFA flag).
PRINCIPALS = [
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/bob",
]
ROLE = "arn:aws:iam::123456789012:role/platform-team"
CLOUDFORMATION = {"Service": "cloudformation.amazonaws.com"}
THIS_ACCOUNT = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
REGIONS = ["us-east-1", "us-west-2"]
# IAM's limit for a customer managed policy, whitespace not counted.
MANAGED_POLICY_MAX_CHARACTERS = 6144
# Sids of statements allowed a `*` resource: each says why AWS offers nothing narrower.
WILDCARD_SID = re.compile(r"(AwsDoesNotScopeByResource|ByRegionOnly|ByProjectTagOnly)$")
GLOBAL_SERVICES = ("iam:", "route53:", "chatbot:", "sts:")


def global_template(spec) -> dict:
    return build_global_template(spec).to_dict()


@pytest.fixture(scope="module")
def spec():
    return make_spec(access={"admin_principals": PRINCIPALS, "require_mfa": True})


@pytest.fixture(scope="module")
def template(spec):
    return global_template(spec)


def statements(document: dict) -> list[dict]:
    return document["Statement"]


def by_sid(document: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements(document)}


def actions(statement: dict) -> list[str]:
    value = statement.get("Action", statement.get("NotAction"))
    return value if isinstance(value, list) else [value]


def resource_list(statement: dict) -> list:
    value = statement["Resource"]
    return value if isinstance(value, list) else [value]


def execution_policies(template: dict) -> dict[str, dict]:
    return {
        name: r["Properties"]
        for name, r in resources(template, "AWS::IAM::ManagedPolicy").items()
        if name.startswith("Execution")
    }


def execution_statements(template: dict) -> dict[str, dict]:
    found = {}
    for policy in execution_policies(template).values():
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Sid"] not in found, f"Sid {statement['Sid']} twice"
            found[statement["Sid"]] = statement
    return found


def management_document(template: dict) -> dict:
    (policy,) = props(template, MANAGEMENT_ROLE_ID)["Policies"]
    return policy["PolicyDocument"]


def resolve(node, **names: str):
    """`node` as IAM would store it, its `Fn::Sub`s filled in for one account and region."""
    values = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        text, variables = (
            (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        )
        lookup = {**values, **{k: names.get(k, "Z0123456789ABCDEFGHIJ") for k in variables}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: lookup[m.group(1)], text)
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        return f"arn:aws:iam::123456789012:role/{node['Fn::GetAtt'][0]}-0123456789AB"
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values.get(node["Ref"], f"{node['Ref']}-0123456789AB")
    if isinstance(node, dict):
        return {k: resolve(v, **names) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(item, **names) for item in node]
    return node


# --- the management role -----------------------------------------------------------------


def test_management_role_trusts_exactly_the_spec_principals_with_mfa(template):
    trust = props(template, MANAGEMENT_ROLE_ID)["AssumeRolePolicyDocument"]
    assert statements(trust) == [
        {
            "Sid": "TeamAssumesManagementRole",
            "Effect": "Allow",
            "Principal": {"AWS": PRINCIPALS},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ]


def test_without_require_mfa_the_trust_has_no_mfa_condition():
    spec = make_spec(access={"admin_principals": [ROLE], "require_mfa": False})
    (statement,) = statements(
        props(global_template(spec), MANAGEMENT_ROLE_ID)["AssumeRolePolicyDocument"]
    )
    assert statement["Principal"] == {"AWS": [ROLE]}
    assert "Condition" not in statement


def test_management_role_manages_only_the_projects_stacks_and_stack_set(template):
    found = by_sid(management_document(template))
    stacks = found["ProjectStacksOnly"]
    assert "cloudformation:CreateStack" in actions(stacks)
    assert "cloudformation:ExecuteChangeSet" in actions(stacks)
    assert resolve(stacks["Resource"]) == [
        "arn:aws:cloudformation:*:123456789012:stack/storefront-production-*/*",
        "arn:aws:cloudformation:*:123456789012:stack/StackSet-storefront-production-regional-*/*",
    ]
    assert stacks["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGIONS}}
    stack_sets = found["ProjectStackSetsOnly"]
    assert "cloudformation:CreateStackInstances" in actions(stack_sets)
    assert resolve(stack_sets["Resource"])[:2] == [
        "arn:aws:cloudformation:*:123456789012:stackset/storefront-production-regional:*",
        "arn:aws:cloudformation:*:123456789012:stackset-target/storefront-production-regional:*",
    ]


def test_management_role_passes_only_the_deploy_roles_and_only_to_cloudformation(template):
    passing = [s for s in statements(management_document(template)) if "iam:PassRole" in actions(s)]
    assert passing == [
        {
            "Sid": "HandCloudFormationTheDeployRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [
                get_att(EXECUTION_ROLE_ID, "Arn"),
                get_att(STACK_SET_ADMIN_ROLE_ID, "Arn"),
            ],
            "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        }
    ]


def test_management_role_uploads_templates_to_the_template_buckets_only(spec, template):
    upload = by_sid(management_document(template))["UploadTemplates"]
    bucket = get_att(TEMPLATE_BUCKET_ID, "Arn")
    bootstrap = [
        f"arn:${{AWS::Partition}}:s3:::{spec.project}-{spec.environment}-deploy-${{AWS::AccountId}}-{region}"
        for region in sorted(r.name for r in spec.regions)
    ]
    assert upload["Resource"] == [bucket, {"Fn::Sub": ["${Arn}/*", {"Arn": bucket}]}] + [
        {"Fn::Sub": arn} for name in bootstrap for arn in (name, f"{name}/*")
    ]
    assert {"s3:PutObject", "s3:GetObject"} <= set(actions(upload))


def test_management_role_reads_the_image_parameter_of_the_spec(spec, template):
    read = by_sid(management_document(template))["ResolveImageParameter"]
    assert resolve(read["Resource"]) == [
        f"arn:aws:ssm:*::parameter{spec.compute.image_parameter}",
        f"arn:aws:ssm:*:123456789012:parameter{spec.compute.image_parameter}",
    ]


# --- the execution roles -----------------------------------------------------------------


def test_execution_role_is_trusted_by_cloudformation_of_this_account_only(template):
    trust = props(template, EXECUTION_ROLE_ID)["AssumeRolePolicyDocument"]
    (statement,) = statements(trust)
    assert statement["Principal"] == CLOUDFORMATION
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEqualsIfExists": THIS_ACCOUNT}


def test_stack_set_roles_trust_cloudformation_then_the_administration_role(template):
    (admin,) = statements(props(template, STACK_SET_ADMIN_ROLE_ID)["AssumeRolePolicyDocument"])
    assert admin["Principal"] == CLOUDFORMATION
    assert admin["Condition"]["StringEquals"] == THIS_ACCOUNT
    assert resolve(admin["Condition"]["StringLike"]) == {
        "aws:SourceArn": "arn:aws:cloudformation:*:123456789012:stackset/storefront-production-regional:*"
    }
    (execution,) = statements(
        props(template, STACK_SET_EXECUTION_ROLE_ID)["AssumeRolePolicyDocument"]
    )
    assert execution["Principal"] == {"AWS": get_att(STACK_SET_ADMIN_ROLE_ID, "Arn")}
    (policy,) = props(template, STACK_SET_ADMIN_ROLE_ID)["Policies"]
    (assume,) = statements(policy["PolicyDocument"])
    assert actions(assume) == ["sts:AssumeRole"]
    assert resolve(assume["Resource"]) == (
        "arn:aws:iam::123456789012:role/storefront-production-global-stackset-exec"
    )


def test_every_execution_policy_is_attached_to_both_execution_roles(template):
    policies = execution_policies(template)
    assert len(policies) >= 4
    for name, policy in policies.items():
        assert policy["Roles"] == [ref(EXECUTION_ROLE_ID), ref(STACK_SET_EXECUTION_ROLE_ID)], name


def test_execution_policies_fit_iams_size_limit(template):
    for name, policy in execution_policies(template).items():
        document = json.dumps(resolve(policy["PolicyDocument"]), separators=(",", ":"))
        assert len(document) < MANAGED_POLICY_MAX_CHARACTERS, name


def test_project_names_scope_roles_buckets_functions_and_log_groups(template):
    found = execution_statements(template)
    # generated role names start with the stack name cut to 64 characters: by path instead
    assert resolve(found["ProjectRolesAndInstanceProfilesByPath"]["Resource"]) == [
        "arn:aws:iam::123456789012:role/storefront/production/*",
        "arn:aws:iam::123456789012:instance-profile/storefront/production/*",
    ]
    assert resolve(found["ProjectQueues"]["Resource"]) == (
        "arn:aws:sqs:*:123456789012:storefront-production-*"
    )
    assert resolve(found["ProjectEventRules"]["Resource"]) == (
        "arn:aws:events:*:123456789012:rule/storefront-production-*"
    )
    assert resolve(found["ProjectBuckets"]["Resource"]) == "arn:aws:s3:::storefront-production-*"
    assert resolve(found["ProjectFunctions"]["Resource"]) == (
        "arn:aws:lambda:*:123456789012:function:storefront-production-*"
    )
    assert resolve(found["ProjectLogGroups"]["Resource"]) == [
        "arn:aws:logs:*:123456789012:log-group:/storefront/production/*",
        "arn:aws:logs:*:123456789012:log-group:/aws/lambda/storefront-production-*",
        "arn:aws:logs:*:123456789012:log-group:aws-waf-logs-storefront-production*",
        # the databases' exported logs: the writer's, then the replicas' (database.py)
        "arn:aws:logs:*:123456789012:log-group:/aws/rds/instance/storefront-production-db/*",
        "arn:aws:logs:*:123456789012:log-group:/aws/rds/instance/storefront-production-db-*/*",
    ]
    assert resolve(found["ProjectParameters"]["Resource"]) == (
        "arn:aws:ssm:*:123456789012:parameter/storefront/production/*"
    )
    assert resolve(found["ProjectTopics"]["Resource"]) == (
        "arn:aws:sns:*:123456789012:storefront-production-*"
    )


def test_regional_statements_are_limited_to_the_spec_regions(template):
    found = execution_statements(template)
    assert found["NothingOutsideTheSpecsRegions"] == {
        "Sid": "NothingOutsideTheSpecsRegions",
        "Effect": "Deny",
        # global services' requests name us-east-1 whatever the spec says
        "NotAction": ["iam:*", "route53:*", "chatbot:*"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGIONS}},
    }


def test_ec2_rds_elb_and_kms_changes_need_the_project_tag(template):
    found = execution_statements(template)
    tag = {"aws:ResourceTag/infra:project": "storefront-production"}
    for sid in (
        "Ec2ChangesOnlyToProjectTaggedResources",
        "LoadBalancingChangesOnlyToProjectTaggedResources",
        "DatabaseChangesOnlyToProjectTaggedResources",
        "AdministerOnlyProjectTaggedKeys",
    ):
        assert found[sid]["Condition"]["StringEquals"] == tag, sid
    assert {"ec2:DeleteVpc", "ec2:RevokeSecurityGroupIngress"} <= set(
        actions(found["Ec2ChangesOnlyToProjectTaggedResources"])
    )
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"} <= set(
        actions(found["AdministerOnlyProjectTaggedKeys"])
    )
    assert "rds:DeleteDBInstance" in actions(found["DatabaseChangesOnlyToProjectTaggedResources"])
    created = {"aws:RequestTag/infra:project": "storefront-production"}
    assert found["CreateKeysByProjectTagOnly"]["Condition"]["StringEquals"] == created
    assert found["Ec2CreateVpcOnlyWithProjectTag"]["Condition"]["StringEquals"] == created
    grants = found["NoKeyGrantsExceptForAwsResources"]
    assert grants["Effect"] == "Deny"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "false"}}


def test_no_statement_allows_a_mutating_ec2_rds_elb_or_kms_action_untagged(template):
    """Where the issue found them unscoped: only under a tag condition now (or on AWS's own
    resources: images, default option groups, final snapshots)."""
    risky = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "rds:DeleteDBInstance")
    for sid, statement in execution_statements(template).items():
        if statement["Effect"] != "Allow":
            continue
        condition = json.dumps(statement.get("Condition", {}))
        for action in actions(statement):
            if action in risky or action.startswith(("ec2:Delete", "ec2:Revoke")):
                assert "Tag/infra:project" in condition, f"{sid}: {action}"


def test_attaching_managed_policies_is_limited_to_those_the_regional_stacks_use(spec, template):
    attach = execution_statements(template)["AttachOnlyTheManagedPoliciesOurTemplatesUse"]
    used = [
        arn
        for resource in build_stackset_template(spec).to_dict()["Resources"].values()
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", [])
    ]
    allowed = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
    assert sorted(map(json.dumps, allowed)) == sorted(set(map(json.dumps, used)))
    assert actions(attach) == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]


def test_records_are_changed_only_for_the_site_name_in_the_zone(spec, template):
    change = execution_statements(template)["SiteRecordsInTheZone"]
    assert change["Resource"] == {
        "Fn::Sub": [
            "arn:${AWS::Partition}:route53:::hostedzone/${Zone}",
            {"Zone": ref("HostedZone")},
        ]
    }
    names = change["Condition"]["ForAllValues:StringLike"]
    assert names == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
            "shop.example.com",
            "_*.shop.example.com",
        ]
    }


def test_the_global_stacks_own_resources_are_denied_to_the_deploy_roles(template):
    deny = execution_statements(template)["NeverTheGlobalStacksOwnResources"]
    assert deny["Effect"] == "Deny"
    protected = json.dumps(deny["Resource"])
    for logical_id in ("TemplateBucket", "AccessLogsBucket", "TrailBucket", "Trail", "TrailKey"):
        assert json.dumps(get_att(logical_id, "Arn")) in protected, logical_id
    assert resolve(deny["Resource"][:2]) == [
        "arn:aws:iam::123456789012:role/storefront-production-global-*",
        "arn:aws:iam::123456789012:policy/storefront-production-global-*",
    ]


def test_the_cis_monitoring_is_denied_to_the_deploy_roles_that_could_otherwise_change_it(
    template,
):
    """The trail's log group lies under the project's log group path and the CIS alarms
    are named like the project's, both of which the deploy roles manage: without the deny
    they could delete the metric filters, the group or the alarms the audit relies on."""
    found = execution_statements(template)
    deny = found["NeverTheGlobalStacksOwnResources"]
    denied = resolve(deny["Resource"])
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/storefront/production/cloudtrail"
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-production-cis-root-use"
    for resource, action, allowing in (
        (group, "logs:DeleteMetricFilter", "ProjectLogGroups"),
        (group + ":*", "logs:DeleteLogGroup", "ProjectLogGroups"),
        (alarm, "cloudwatch:DeleteAlarms", "ProjectAlarmsAndDashboards"),
    ):
        allowed = resolve(found[allowing]["Resource"])
        assert any(fnmatch.fnmatchcase(resource, pattern) for pattern in allowed), resource
        assert action in found[allowing]["Action"]
        assert any(fnmatch.fnmatchcase(resource, pattern) for pattern in denied), resource
        service = action.split(":")[0]
        assert f"{service}:*" in deny["Action"]
    # The project's other alarms stay the deploy roles' own.
    other = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-production-db-cpu"
    assert not any(fnmatch.fnmatchcase(other, pattern) for pattern in denied)


# --- least privilege, everywhere in the global stack ----------------------------------


def test_no_action_is_a_bare_wildcard(template):
    for where, document in policy_documents(template):
        for statement in statements(document):
            assert "*" not in actions(statement), where
            if statement["Effect"] == "Allow":
                assert "iam:*" not in actions(statement), where


def test_wildcard_actions_only_read_or_deny(template):
    # Reads (Describe*, Get*, List*) are named in families; writes are named one by one.
    for where, document in policy_documents(template):
        for statement in statements(document):
            for action in actions(statement):
                if "*" in action and statement["Effect"] == "Allow":
                    verb = action.split(":")[1]
                    assert verb in ("Describe*", "Get*", "List*", "GetBucket*"), (
                        f"{where}: {action}"
                    )


def test_a_wildcard_resource_comes_with_a_sid_that_says_why(template):
    for where, document in policy_documents(template):
        for statement in statements(document):
            if statement["Effect"] == "Deny":
                continue  # a Deny on everything narrows
            if "Resource" in statement and "*" in resource_list(statement):
                assert WILDCARD_SID.search(statement["Sid"]), f"{where}: {statement['Sid']}"


def test_every_statement_has_a_sid(template):
    for where, document in policy_documents(template):
        for statement in statements(document):
            assert statement.get("Sid"), where


def test_role_names_fit_iams_limit_for_the_longest_names():
    # the longest project and environment the global stack's bucket names leave room for
    long = make_spec(project="p" * 20, environment="e" * 7)
    for name, role in resources(global_template(long), "AWS::IAM::Role").items():
        assert len(role["Properties"]["RoleName"]) <= 64, name


def test_outputs_are_exported_under_the_project_prefix(template):
    outputs = template["Outputs"]
    for name in (
        "ManagementRoleArn",
        "ExecutionRoleArn",
        "StackSetAdministrationRoleArn",
        "StackSetExecutionRoleName",
        "TemplateBucketName",
    ):
        assert outputs[name]["Export"] == {"Name": f"storefront-production-{name}"}


def test_no_wildcard_principal_in_role_trust(template):
    for role in resources(template, "AWS::IAM::Role").values():
        for node in walk(role["Properties"]["AssumeRolePolicyDocument"]):
            assert node != "*"
