"""Who may deploy the project, and with which permissions: the roles of the global stack.

- The infrastructure-management role: only `access.admin_principals` may assume it (with
  MFA unless `access.require_mfa: false`). It may create, change and delete this project's
  stacks and stack sets and nothing else, and hand CloudFormation the execution role.
- The CloudFormation execution role: trusted by CloudFormation alone, for this account
  only; stacks are deployed with it (`--role-arn`). Its permissions are the tables of
  builders/deploy_permissions.py, as customer managed policies.
- The StackSet administration and execution roles: the same permissions for the StackSet
  alternative (self-managed permissions in this one account).
- The template bucket: `aws cloudformation deploy --s3-bucket` uploads the regional
  templates there, which are over CloudFormation's 51,200-byte limit for inline templates.

The global stack itself is deployed by an account administrator: these roles are denied
every change to it (see `deploy_permissions.protect_global_stack`).
"""

from __future__ import annotations

from troposphere import Export, GetAtt, Output, Ref, Sub, iam, s3

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.buckets import S3_MANAGED_ENCRYPTION, private_bucket
from compiler.builders.deploy_permissions import (
    allow,
    application,
    arn,
    compute,
    data_and_keys,
    dns_certificates_and_audit,
    identity,
    in_regions,
    network,
    operations,
    read_only,
    resolve_image_parameter,
    stack_name_prefixes,
)
from compiler.builders.handles import AccessHandle, AuditHandle, PublicZoneHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.access import BOOTSTRAP_BUCKET, TEMPLATE_BUCKET

MANAGEMENT_ROLE_ID = "ManagementRole"
EXECUTION_ROLE_ID = "ExecutionRole"
STACK_SET_ADMIN_ROLE_ID = "StackSetAdministrationRole"
STACK_SET_EXECUTION_ROLE_ID = "StackSetExecutionRole"
TEMPLATE_BUCKET_ID = "TemplateBucket"
CLOUDFORMATION = "cloudformation.amazonaws.com"
# `aws cloudformation deploy` uploads each template version under a new key; old ones are
# of no use once deployed.
TEMPLATE_EXPIRY_DAYS = 90
# Deploys of a database can outlast the default hour; a session from role chaining still
# ends after one hour whatever this says.
MANAGEMENT_SESSION_SECONDS = 4 * 3600

OUTPUTS = {
    "ManagementRoleArn": "Role the team assumes to deploy this project's stacks",
    "ExecutionRoleArn": "CloudFormation execution role: pass as --role-arn to every deploy",
    "StackSetAdministrationRoleArn": "--administration-role-arn of create-stack-set",
    "StackSetExecutionRoleName": "--execution-role-name of create-stack-set",
    "TemplateBucketName": "--s3-bucket of aws cloudformation deploy (templates over 51,200 bytes)",
}

# What deploying a stack takes, with or without change sets (`aws cloudformation deploy`).
STACK_ACTIONS = [
    "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource", "cloudformation:DescribeStackResources",
    "cloudformation:ListStackResources", "cloudformation:GetTemplate",
    "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
    "cloudformation:ListChangeSets", "cloudformation:CancelUpdateStack",
    "cloudformation:ContinueUpdateRollback", "cloudformation:RollbackStack",
    "cloudformation:DetectStackDrift", "cloudformation:DescribeStackResourceDrifts",
    "cloudformation:UpdateTerminationProtection", "cloudformation:TagResource",
    "cloudformation:UntagResource",
    # deploy.sh protects each stack's stateful resources with a stack policy.
    "cloudformation:SetStackPolicy", "cloudformation:GetStackPolicy",
]  # fmt: skip


def role_name(spec: InfraSpec, short_name: str) -> str:
    # Fixed names in the global stack's namespace, which the deploy roles may not change.
    return naming.global_resource_name(spec, short_name)


def management_trust(spec: InfraSpec) -> dict:
    statement = {
        "Sid": "TeamAssumesManagementRole",
        "Effect": "Allow",
        "Principal": {"AWS": list(spec.access.admin_principals)},
        "Action": "sts:AssumeRole",
    }
    if spec.access.require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def cloudformation_trust(sid: str, condition: dict) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": CLOUDFORMATION},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def stack_role_condition() -> dict:
    """Only CloudFormation acting for this account. CloudFormation's guide documents the
    confused-deputy keys for the StackSet administration role, not for stack service roles:
    `IfExists` refuses another account whenever the key is sent and never breaks a deploy."""
    return {"StringEqualsIfExists": {"aws:SourceAccount": Ref("AWS::AccountId")}}


def stack_set_role_condition(spec: InfraSpec) -> dict:
    """StackSets sends both keys when it assumes the administration role (its guide's
    confused-deputy example): this account, and this project's stack set only."""
    return {
        "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
        "StringLike": {
            "aws:SourceArn": arn("cloudformation", f"stackset/{naming.stack_set_name(spec)}:*")
        },
    }


def management_policy(spec: InfraSpec, pass_roles: list, bucket_arn, zone_id) -> dict:
    stack_set = naming.stack_set_name(spec)
    stacks = [arn("cloudformation", f"stack/{prefix}*/*") for prefix in stack_name_prefixes(spec)]
    stack_set_actions = [
        "cloudformation:CreateStackSet", "cloudformation:UpdateStackSet",
        "cloudformation:DeleteStackSet", "cloudformation:DescribeStackSet",
        "cloudformation:DescribeStackSetOperation", "cloudformation:ListStackSetOperations",
        "cloudformation:ListStackSetOperationResults", "cloudformation:StopStackSetOperation",
        "cloudformation:CreateStackInstances", "cloudformation:UpdateStackInstances",
        "cloudformation:DeleteStackInstances", "cloudformation:DescribeStackInstance",
        "cloudformation:ListStackInstances",
    ]  # fmt: skip
    read_only = [
        "cloudformation:ListStacks", "cloudformation:ListStackSets", "cloudformation:ListExports",
        "cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary",
        "cloudformation:EstimateTemplateCost", "cloudformation:DescribeAccountLimits",
        "ec2:DescribeImages", "ec2:DescribeAvailabilityZones",
        # deploy.sh's preflight: regions enabled, and the quotas a first create hits.
        "ec2:DescribeRegions", "ec2:DescribeAddresses", "ec2:DescribeNatGateways",
        "ec2:DescribeSubnets", "ec2:DescribeVpcs", "servicequotas:GetServiceQuota",
        "lambda:GetAccountSettings",
    ]  # fmt: skip
    regions = in_regions(spec)
    return {
        "Version": "2012-10-17",
        "Statement": [
            allow("ProjectStacksOnly", STACK_ACTIONS, stacks, regions),
            allow(
                # Stack instances act on AWS's public resource types as well.
                "ProjectStackSetsOnly",
                stack_set_actions,
                [
                    arn("cloudformation", f"stackset/{stack_set}:*"),
                    arn("cloudformation", f"stackset-target/{stack_set}:*"),
                    arn("cloudformation", "type/resource/*", account="*"),
                ],
                regions,
            ),
            # Listing, validating and parameter look-ups are authorised per account only.
            allow("ReadOnlyCallsAwsDoesNotScopeByResource", read_only, "*", regions),
            allow("ListHostedZonesAwsDoesNotScopeByResource", ["route53:ListHostedZones"], "*"),
            allow(
                "ReadTheZone",
                ["route53:GetHostedZone"],
                Sub("arn:${AWS::Partition}:route53:::hostedzone/${Zone}", Zone=zone_id),
            ),
            resolve_image_parameter(spec),
            allow(
                "HandCloudFormationTheDeployRoles",
                ["iam:PassRole"],
                pass_roles,
                {"StringEquals": {"iam:PassedToService": CLOUDFORMATION}},
            ),
            allow(
                # The global stack's bucket, and the one deploy.sh bootstraps in each region.
                "UploadTemplates",
                ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                [
                    bucket_arn,
                    Sub("${Arn}/*", Arn=bucket_arn),
                    *_bootstrap_bucket_arns(spec),
                ],
            ),
        ],
    }


def _bootstrap_bucket_arns(spec: InfraSpec) -> list[Sub]:
    """The template bucket of deploy.sh's bootstrap stack in each of the spec's regions,
    sorted: reordering the regions (a failover step) must leave the global stack unchanged."""
    prefix = f"{naming.name_prefix(spec)}-{BOOTSTRAP_BUCKET}"
    arns = []
    for region in sorted(r.name for r in spec.regions):
        bucket = f"arn:${{AWS::Partition}}:s3:::{prefix}-${{AWS::AccountId}}-{region}"
        arns += [Sub(bucket), Sub(f"{bucket}/*")]
    return arns


def _template_bucket(spec: InfraSpec, audit: AuditHandle) -> tuple[s3.Bucket, s3.BucketPolicy]:
    bucket, policy = private_bucket(
        TEMPLATE_BUCKET_ID,
        naming.bucket_name(spec, TEMPLATE_BUCKET),
        # Templates are no secret, and S3-managed keys let CloudFormation read them with
        # the caller's rights alone (no KMS grant).
        S3_MANAGED_ENCRYPTION,
        7,
        "Templates `aws cloudformation deploy --s3-bucket` uploads (over 51,200 bytes)",
        logging=s3.LoggingConfiguration(
            DestinationBucketName=audit.access_logs.name,
            LogFilePrefix=f"{audit.access_log_prefix}/{TEMPLATE_BUCKET}/",
        ),
        expire_days=TEMPLATE_EXPIRY_DAYS,
    )
    bucket.DependsOn = [audit.access_logs_policy_id]
    return bucket, policy


def build_access(
    spec: InfraSpec,
    ctx: RegionContext,
    zone: PublicZoneHandle,
    audit: AuditHandle,
    attachable_policies: list,
) -> Built[AccessHandle]:
    """`attachable_policies`: the AWS managed policy ARNs the regional templates attach."""
    bucket, bucket_policy = _template_bucket(spec, audit)
    execution = purpose(
        iam.Role(
            EXECUTION_ROLE_ID,
            RoleName=role_name(spec, "cfn-execution"),
            Description=f"CloudFormation deploys the {naming.name_prefix(spec)} stacks as this role",
            AssumeRolePolicyDocument=cloudformation_trust(
                "CloudFormationDeploysProjectStacks", stack_role_condition()
            ),
        ),
        "Service role of the project's stacks: what their resources need, scoped by name",
    )
    stack_set_admin = purpose(
        iam.Role(
            STACK_SET_ADMIN_ROLE_ID,
            RoleName=role_name(spec, "stackset-admin"),
            Description=f"Administers the {naming.stack_set_name(spec)} stack set",
            AssumeRolePolicyDocument=cloudformation_trust(
                "CloudFormationAdministersStackSet", stack_set_role_condition(spec)
            ),
            Policies=[
                iam.Policy(
                    PolicyName="assume-stack-set-execution-role",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            allow(
                                "AssumeTheStackSetExecutionRole",
                                ["sts:AssumeRole"],
                                arn("iam", f"role/{role_name(spec, 'stackset-exec')}", region=""),
                            )
                        ],
                    },
                )
            ],
        ),
        "StackSet administration role (self-managed permissions, this account only)",
    )
    stack_set_execution = purpose(
        iam.Role(
            STACK_SET_EXECUTION_ROLE_ID,
            RoleName=role_name(spec, "stackset-exec"),
            Description=f"Deploys the {naming.stack_set_name(spec)} stack instances",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "StackSetAdministrationRoleOnly",
                        "Effect": "Allow",
                        "Principal": {"AWS": GetAtt(stack_set_admin, "Arn")},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            Policies=[
                iam.Policy(
                    PolicyName="manage-stack-instances",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            allow(
                                # StackSets runs each instance as a stack in the target region.
                                "StackSetInstanceStacks",
                                STACK_ACTIONS,
                                arn(
                                    "cloudformation",
                                    f"stack/{naming.stack_set_instance_name_prefix(spec)}*/*",
                                ),
                                in_regions(spec),
                            )
                        ],
                    },
                )
            ],
        ),
        "StackSet execution role: the execution role's permissions, trusted by the admin role",
    )
    deploy_roles = [Ref(execution), Ref(stack_set_execution)]
    protected = [
        GetAtt(bucket, "Arn"),
        Sub("${Arn}/*", Arn=GetAtt(bucket, "Arn")),
        audit.access_logs.arn,
        Sub("${Arn}/*", Arn=audit.access_logs.arn),
        *audit.protected_arns,
    ]
    groups = {
        "ReadOnly": read_only(spec),
        "Network": network(spec),
        "Compute": compute(spec),
        "DataAndKeys": data_and_keys(spec),
        "Identity": identity(spec, attachable_policies, protected),
        "Operations": operations(spec),
        "Application": application(spec),
        "DnsCertificatesAndAudit": dns_certificates_and_audit(spec, zone.hosted_zone_id),
    }
    # A managed policy holds 6,144 characters (whitespace aside): one per group keeps each
    # well under, and a role takes ten (eight used here).
    policies = [
        purpose(
            iam.ManagedPolicy(
                naming.logical_id("execution", group, "policy"),
                Description=f"{naming.name_prefix(spec)} deploys: {group}",
                PolicyDocument={"Version": "2012-10-17", "Statement": statements},
                Roles=deploy_roles,
            ),
            f"What the project's stacks may create and change: {group}",
        )
        for group, statements in groups.items()
    ]
    management = purpose(
        iam.Role(
            MANAGEMENT_ROLE_ID,
            RoleName=role_name(spec, "management"),
            Description=f"Deploys the {naming.name_prefix(spec)} stacks; assumed by the team",
            AssumeRolePolicyDocument=management_trust(spec),
            MaxSessionDuration=MANAGEMENT_SESSION_SECONDS,
            Policies=[
                iam.Policy(
                    PolicyName="deploy-project-stacks",
                    PolicyDocument=management_policy(
                        spec,
                        [GetAtt(execution, "Arn"), GetAtt(stack_set_admin, "Arn")],
                        GetAtt(bucket, "Arn"),
                        zone.hosted_zone_id,
                    ),
                )
            ],
        ),
        "The team's role for deploys: project stacks and stack sets only",
    )
    values = {
        "ManagementRoleArn": GetAtt(management, "Arn"),
        "ExecutionRoleArn": GetAtt(execution, "Arn"),
        "StackSetAdministrationRoleArn": GetAtt(stack_set_admin, "Arn"),
        "StackSetExecutionRoleName": Ref(stack_set_execution),
        "TemplateBucketName": Ref(bucket),
    }
    outputs = [
        Output(
            name,
            Description=OUTPUTS[name],
            Value=value,
            Export=Export(naming.export_name(spec, name)),
        )
        for name, value in values.items()
    ]
    resources = [
        bucket,
        bucket_policy,
        execution,
        stack_set_admin,
        stack_set_execution,
        *policies,
        management,
    ]
    handle = AccessHandle(values["ManagementRoleArn"], values["ExecutionRoleArn"], Ref(bucket))
    return Built(resources, handle, outputs)
