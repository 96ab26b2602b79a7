"""What CloudFormation may do when it deploys this project's stacks: the execution policies.

Not a builder: the permission tables that builders/access.py attaches to the deploy roles.
One statement per service and purpose, each with a Sid that says how it is scoped:

- by name, where the service's ARNs carry one and the templates set it: buckets,
  functions, queues, topics, rules, log groups, parameters, documents, alarms. Names
  CloudFormation generates start with the stack name and are cut to the service's limit
  (a StackSet instance's stack name alone is 76 characters and more), so nothing is
  scoped by a generated name: roles and instance profiles by their IAM path instead
  (`naming.iam_path`), the rest are named explicitly;
- by the project tag (`naming.PROJECT_TAG`) for EC2, Elastic Load Balancing, RDS and
  KMS, whose resources have IDs, not names: changes only to resources that carry it
  (`aws:ResourceTag`), creation only with it (`aws:RequestTag`), tags added only on
  creation or to the project's own resources;
- by region: one Deny (`only_spec_regions`) refuses every request outside the spec's
  regions, except to IAM, Route 53 and Chatbot, global services whose requests name
  us-east-1.

tests/iam proves these tables against the calls CloudFormation's handlers declare.

Every `*` that remains sits in a statement whose Sid says why. The global stack's own
resources are denied outright: it is deployed by an account administrator, never by these
roles, so a template deployed with them cannot widen its own permissions.
"""

from __future__ import annotations

from collections.abc import Iterable

from troposphere import AWSHelperFn, Sub

from compiler import naming
from compiler.spec import InfraSpec

Statement = dict


def arn(service: str, resource: str, *, region: str = "*", account: str = "${AWS::AccountId}"):
    return Sub(f"arn:${{AWS::Partition}}:{service}:{region}:{account}:{resource}")


def allow(sid: str, actions: list[str], resources, condition: dict | None = None) -> Statement:
    statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def spec_regions(spec: InfraSpec) -> list[str]:
    """Sorted: a failover reorders the regions, and the global stack must not change then."""
    return sorted(region.name for region in spec.regions)


def in_regions(spec: InfraSpec) -> dict:
    return {"StringEquals": {"aws:RequestedRegion": spec_regions(spec)}}


def stack_name_prefixes(spec: InfraSpec) -> list[str]:
    """Every stack of the project is named with one of these (global, regions, StackSet
    instances)."""
    return naming.stack_name_prefixes(spec)


def equals(**more: str | list[str]) -> dict:
    """A `StringEquals` condition (the region is held by `only_spec_regions`)."""
    return {"StringEquals": dict(more)}


# Global services: their requests name us-east-1 whatever the spec's regions.
GLOBAL_SERVICE_ACTIONS = ["iam:*", "route53:*", "chatbot:*"]


def only_spec_regions(spec: InfraSpec) -> Statement:
    """One Deny instead of a region condition on every Allow: nothing outside the spec's
    regions (the global services aside)."""
    return {
        "Sid": "NothingOutsideTheSpecsRegions",
        "Effect": "Deny",
        "NotAction": GLOBAL_SERVICE_ACTIONS,
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": spec_regions(spec)}},
    }


def tagged(spec: InfraSpec) -> dict:
    """Only resources that carry the project tag."""
    return equals(**{f"aws:ResourceTag/{naming.PROJECT_TAG}": naming.project_tag_value(spec)})


def created_tagged(spec: InfraSpec) -> dict:
    """Only when the request tags the new resource as the project's."""
    return equals(**{f"aws:RequestTag/{naming.PROJECT_TAG}": naming.project_tag_value(spec)})


def tags_only_ours(spec: InfraSpec) -> dict:
    """Tagging with the project tag, on a new resource or one already the project's: a
    resource of another project keeps its own tag, so it cannot be taken over."""
    value = naming.project_tag_value(spec)
    condition = created_tagged(spec)
    condition["StringEqualsIfExists"] = {f"aws:ResourceTag/{naming.PROJECT_TAG}": value}
    return condition


def iam_arn(spec: InfraSpec, kind: str) -> AWSHelperFn:
    """The regional stacks' roles or instance profiles: everything under the project's path."""
    return arn("iam", f"{kind}{naming.iam_path(spec)}*", region="")


def resolve_image_parameter(spec: InfraSpec) -> Statement:
    """The AMI's SSM parameter, public (no account in its ARN) or the account's own;
    CloudFormation resolves it with the rights of whoever deploys."""
    return allow(
        "ResolveImageParameter",
        ["ssm:GetParameter", "ssm:GetParameters"],
        [
            arn("ssm", f"parameter{spec.compute.image_parameter}", account=""),
            arn("ssm", f"parameter{spec.compute.image_parameter}"),
        ],
        in_regions(spec),
    )


def read_only(spec: InfraSpec) -> list[Statement]:
    regional = [
        "ec2:Describe*", "elasticloadbalancing:Describe*", "autoscaling:Describe*",
        "rds:Describe*", "cloudwatch:Describe*", "cloudwatch:ListTagsForResource",
        "logs:Describe*", "ssm:Describe*", "ssm:List*", "lambda:GetAccountSettings",
        "lambda:ListFunctions", "sns:ListTopics", "sqs:ListQueues", "kms:ListAliases",
        "kms:ListKeys", "wafv2:ListWebACLs", "wafv2:ListAvailableManagedRuleGroups",
        "acm:ListCertificates", "cloudtrail:DescribeTrails", "events:ListRules",
        "secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword",
        "xray:GetGroups", "xray:GetSamplingRules", "cloudwatch:GetMetricData",
        "cloudwatch:ListDashboards", "sns:ListSubscriptions", "wafv2:ListLoggingConfigurations",
        "s3:ListAllMyBuckets",
    ]  # fmt: skip
    global_ = [
        "route53:ListHostedZones", "route53:GetChange", "route53:ListHealthChecks",
        "chatbot:Describe*", "iam:ListRoles", "iam:ListInstanceProfiles",
    ]  # fmt: skip
    return [
        # Describe/List calls are authorised per account: AWS offers no resource to name.
        only_spec_regions(spec),
        allow("ReadOnlyCallsAwsDoesNotScopeByResource", regional, "*"),
        allow("ReadOnlyGlobalCallsAwsDoesNotScopeByResource", global_, "*"),
    ]


# What each EC2 create call makes, allowed only with the project tag in the request.
EC2_CREATES = {
    "ec2:CreateVpc": "vpc",
    "ec2:CreateSubnet": "subnet",
    "ec2:CreateRouteTable": "route-table",
    "ec2:CreateInternetGateway": "internet-gateway",
    "ec2:AllocateAddress": "elastic-ip",
    "ec2:CreateNatGateway": "natgateway",
    "ec2:CreateFlowLogs": "vpc-flow-log",
    "ec2:CreateLaunchTemplate": "launch-template",
}


def network(spec: InfraSpec) -> list[Statement]:
    """EC2: creation with the project tag, changes to the project's tagged resources only."""
    changes = [
        # on the project's own resources, and on the VPC, subnets, route tables and
        # gateways a new resource is put in or attached to (which must be the project's)
        "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:CreateNatGateway",
        "ec2:CreateSecurityGroup", "ec2:CreateFlowLogs", "ec2:DeleteVpc",
        "ec2:ModifyVpcAttribute", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
        "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute",
        "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation", "ec2:DeleteInternetGateway",
        "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:ReleaseAddress",
        "ec2:DeleteNatGateway", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress", "ec2:DeleteFlowLogs",
        "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate",
        "ec2:DeleteLaunchTemplateVersions", "ec2:ModifyLaunchTemplate",
        "ec2:GetLaunchTemplateData", "ec2:RunInstances", "ec2:CreateTags", "ec2:DeleteTags",
    ]  # fmt: skip
    value = naming.project_tag_value(spec)
    creations = [
        allow(
            f"Ec2{action.split(':')[1]}OnlyWithProjectTag",
            [action],
            arn("ec2", f"{kind}/*"),
            created_tagged(spec),
        )
        for action, kind in EC2_CREATES.items()
    ]
    return [
        *creations,
        allow(
            # Tags on creation only in the create call itself (a tag specification).
            "Ec2TagsOnCreation",
            ["ec2:CreateTags"],
            arn("ec2", "*/*"),
            equals(
                **{
                    # RunInstances: the launch template tags instances and volumes.
                    "ec2:CreateAction": [a.split(":")[1] for a in EC2_CREATES]
                    + ["CreateSecurityGroup", "RunInstances"],
                    f"aws:RequestTag/{naming.PROJECT_TAG}": value,
                },
            ),
        ),
        allow("Ec2ChangesOnlyToProjectTaggedResources", changes, arn("ec2", "*/*"), tagged(spec)),
        # CloudFormation creates a security group untagged, sets its rules, then tags it
        # (cloudformation-coverage-roadmap#714): the new group is allowed in a project VPC
        # (CreateSecurityGroup on the VPC needs its tag, above), and its rules and tags
        # while it carries no project tag yet or ours, never another project's.
        allow(
            "Ec2SecurityGroupsInProjectVpcs",
            ["ec2:CreateSecurityGroup"],
            arn("ec2", "security-group/*"),
        ),
        allow(
            "Ec2SecurityGroupRulesUntaggedOrOurs",
            [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            ],
            [arn("ec2", "security-group/*"), arn("ec2", "security-group-rule/*")],
            {"StringEqualsIfExists": {f"aws:ResourceTag/{naming.PROJECT_TAG}": value}},
        ),
        allow(
            "Ec2SecurityGroupTagsOnlyOurs",
            ["ec2:CreateTags"],
            arn("ec2", "security-group/*"),
            tags_only_ours(spec),
        ),
        allow(
            # What the launch template launches (tagged by its tag specifications) and the
            # AWS-owned image it launches from, which carries no tag of ours.
            "LaunchInstancesFromProjectTemplates",
            ["ec2:RunInstances"],
            [
                arn("ec2", "instance/*"),
                arn("ec2", "volume/*"),
                arn("ec2", "network-interface/*"),
                arn("ec2", "image/*", account=""),
                arn("ec2", "image/*"),
            ],
        ),
    ]


def compute(spec: InfraSpec) -> list[Statement]:
    """Load balancers, Auto Scaling and databases."""
    load_balancing = [
        "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:RemoveTags", "elasticloadbalancing:CreateWebACLAssociation",
        "elasticloadbalancing:DeleteWebACLAssociation",
        "elasticloadbalancing:GetLoadBalancerWebACL",
    ]  # fmt: skip
    auto_scaling = [
        "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
        "autoscaling:DeleteAutoScalingGroup", "autoscaling:PutScalingPolicy",
        "autoscaling:DeletePolicy", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
        "autoscaling:AttachLoadBalancerTargetGroups",
        "autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:AttachTrafficSources",
        "autoscaling:DetachTrafficSources", "autoscaling:SuspendProcesses",
        "autoscaling:ResumeProcesses", "autoscaling:SetDesiredCapacity",
        "autoscaling:EnableMetricsCollection", "autoscaling:DisableMetricsCollection",
        "autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh",
    ]  # fmt: skip
    databases = [
        "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance",
        "rds:RebootDBInstance", "rds:ModifyDBSubnetGroup", "rds:DeleteDBSubnetGroup",
        "rds:ModifyDBParameterGroup", "rds:ResetDBParameterGroup", "rds:DeleteDBParameterGroup",
        "rds:CreateDBSnapshot", "rds:RemoveTagsFromResource", "rds:ListTagsForResource",
        # a replica region's database after a failover (database.promoted)
        "rds:PromoteReadReplica",
    ]  # fmt: skip
    return [
        allow(
            "CreateLoadBalancersOnlyWithProjectTag",
            ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            [
                arn("elasticloadbalancing", "loadbalancer/app/*"),
                arn("elasticloadbalancing", "targetgroup/*"),
            ],
            created_tagged(spec),
        ),
        allow(
            "LoadBalancingChangesOnlyToProjectTaggedResources",
            load_balancing,
            [
                arn("elasticloadbalancing", "loadbalancer/app/*"),
                arn("elasticloadbalancing", "targetgroup/*"),
                arn("elasticloadbalancing", "listener/app/*"),
                arn("elasticloadbalancing", "listener-rule/app/*"),
            ],
            tagged(spec),
        ),
        allow(
            "LoadBalancingTagsOnlyOurs",
            ["elasticloadbalancing:AddTags"],
            [
                arn("elasticloadbalancing", "loadbalancer/app/*"),
                arn("elasticloadbalancing", "targetgroup/*"),
                arn("elasticloadbalancing", "listener/app/*"),
            ],
            tags_only_ours(spec),
        ),
        # SetWebAcl is authorised on no resource (Service Authorization Reference).
        allow(
            "AttachWebAclAwsDoesNotScopeByResource",
            ["elasticloadbalancing:SetWebAcl"],
            "*",
        ),
        allow(
            # Group names are generated from the stack name; at most 255 characters, they
            # are never cut, so the stack name prefix holds.
            "ProjectAutoScalingGroups",
            auto_scaling,
            [
                arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{prefix}*")
                for prefix in stack_name_prefixes(spec)
            ],
        ),
        allow(
            # A replica region's database is a read replica of the writer's: the request is
            # also authorised on the writer instance, which carries the tag too.
            "CreateDatabasesOnlyWithProjectTag",
            [
                "rds:CreateDBInstance",
                "rds:CreateDBInstanceReadReplica",
                "rds:CreateDBSubnetGroup",
                "rds:CreateDBParameterGroup",
            ],  # fmt: skip
            [arn("rds", "db:*"), arn("rds", "subgrp:*"), arn("rds", "pg:*")],
            created_tagged(spec),
        ),
        allow(
            "DatabaseChangesOnlyToProjectTaggedResources",
            databases,
            [arn("rds", "db:*"), arn("rds", "subgrp:*"), arn("rds", "pg:*")],
            tagged(spec),
        ),
        allow(
            "DatabaseTagsOnlyOurs",
            ["rds:AddTagsToResource"],
            [arn("rds", "db:*"), arn("rds", "subgrp:*"), arn("rds", "pg:*")],
            tags_only_ours(spec),
        ),
        allow(
            # The engine's default option group is AWS's (no tags); the final snapshot a
            # delete takes is new.
            "DatabaseDefaultOptionGroupAndFinalSnapshot",
            [
                "rds:CreateDBInstance",
                "rds:CreateDBInstanceReadReplica",
                "rds:ModifyDBInstance",
                "rds:CreateDBSnapshot",
            ],  # fmt: skip
            [arn("rds", "og:default:*"), arn("rds", "snapshot:*")],
        ),
        allow(
            # The database event subscription (database_events), by its name: what the
            # handlers of AWS::RDS::EventSubscription call. Describe is in read_only.
            "ProjectDatabaseEventSubscriptions",
            [
                "rds:CreateEventSubscription",
                "rds:ModifyEventSubscription",
                "rds:DeleteEventSubscription",
                "rds:AddSourceIdentifierToSubscription",
                "rds:RemoveSourceIdentifierFromSubscription",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
                "rds:ListTagsForResource",
            ],  # fmt: skip
            arn("rds", f"es:{naming.name_prefix(spec)}-*"),
        ),
    ]


def data_and_keys(spec: InfraSpec) -> list[Statement]:
    prefix = naming.name_prefix(spec)
    buckets = [
        "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*",
        "s3:PutBucketPolicy", "s3:PutBucketVersioning", "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls", "s3:PutBucketLogging", "s3:PutBucketTagging",
        "s3:PutBucketNotification", "s3:DeleteBucketPolicy", "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration", "s3:GetAccelerateConfiguration",
        "s3:GetReplicationConfiguration", "s3:GetAnalyticsConfiguration",
        "s3:GetIntelligentTieringConfiguration", "s3:GetInventoryConfiguration",
        "s3:GetMetricsConfiguration", "s3:ListTagsForResource", "s3:TagResource",
        "s3:UntagResource",
        # the writer region's buckets replicate to the other regions' (storage.buckets)
        "s3:PutReplicationConfiguration",
    ]  # fmt: skip
    key_admin = [
        "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:EnableKeyRotation",
        "kms:DisableKeyRotation", "kms:GetKeyRotationStatus", "kms:UpdateKeyDescription",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:EnableKey", "kms:DisableKey",
        "kms:UntagResource", "kms:ListResourceTags", "kms:CreateAlias", "kms:DeleteAlias",
        "kms:UpdateAlias",
    ]  # fmt: skip
    aliases = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    key_use = [
        "kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
    ]  # fmt: skip
    secrets = [
        "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
        "secretsmanager:UpdateSecret", "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource", "secretsmanager:UntagResource",
        "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy",
    ]  # fmt: skip
    services_using_keys = [
        f"{service}.*.amazonaws.com"
        for service in ("rds", "secretsmanager", "lambda", "logs", "sns", "sqs", "ec2")
    ]
    return [
        allow("ProjectBuckets", buckets, Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}-*")),
        # CreateKey names no key yet: only with the project tag.
        allow("CreateKeysByProjectTagOnly", ["kms:CreateKey"], "*", created_tagged(spec)),
        allow(
            # Keys carry no name: the project's are those with its tag. PutKeyPolicy and
            # ScheduleKeyDeletion reach no other key. The global stack's key is denied.
            "AdministerOnlyProjectTaggedKeys",
            key_admin,
            arn("kms", "key/*"),
            tagged(spec),
        ),
        allow("KeyTagsOnlyOurs", ["kms:TagResource"], arn("kms", "key/*"), tags_only_ours(spec)),
        allow("ProjectAliases", aliases, arn("kms", f"alias/{prefix}/*")),
        allow(
            "UseProjectKeysOnlyThroughTheServicesThatEncrypt",
            key_use,
            arn("kms", "key/*"),
            {**tagged(spec), "StringLike": {"kms:ViaService": services_using_keys}},
        ),
        {
            # A grant made directly would hand a key to any principal; the services that
            # encrypt make theirs on the caller's behalf, with this key set to true.
            "Sid": "NoKeyGrantsExceptForAwsResources",
            "Effect": "Deny",
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "false"}},
        },
        allow(
            # RDS names the master password secrets it manages `rds!...`.
            "ProjectSecrets",
            secrets,
            [arn("secretsmanager", f"secret:{prefix}-*"), arn("secretsmanager", "secret:rds!*")],
        ),
        # The writer's master secret when the database has read replicas: its name is
        # generated, so the project's are those with its tag. GetSecretValue is how
        # CloudFormation resolves the {{resolve:secretsmanager:...}} it gives RDS; the
        # replication calls keep its copies in the other regions (ReplicaRegions).
        allow(
            "CreateSecretsOnlyWithProjectTag",
            ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
            arn("secretsmanager", "secret:*"),
            created_tagged(spec),
        ),
        allow(
            "SecretChangesOnlyToProjectTaggedSecrets",
            [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:UpdateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:ReplicateSecretToRegions",
                "secretsmanager:RemoveRegionsFromReplication",
            ],  # fmt: skip
            arn("secretsmanager", "secret:*"),
            tagged(spec),
        ),
    ]


# The services the regional stacks' roles are for: EC2 instances, Lambda tasks, RDS
# enhanced monitoring, the patching window's tasks, VPC flow logs.
PASSED_TO_SERVICES = [
    "ec2.amazonaws.com", "lambda.amazonaws.com", "monitoring.rds.amazonaws.com",
    "s3.amazonaws.com", "ssm.amazonaws.com", "vpc-flow-logs.amazonaws.com",
]  # fmt: skip


def identity(spec: InfraSpec, attachable_policies: list, protected: list) -> list[Statement]:
    """IAM for the project's roles; `protected`: ARNs of the global stack's other resources."""
    roles = [
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole",
        "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
        "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies", "iam:TagRole", "iam:UntagRole",
        "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
        "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
    ]  # fmt: skip
    project_roles = iam_arn(spec, "role")
    statements = [
        allow(
            # Role and profile names are generated from the stack name and cut to 64
            # characters: scoped by the project's IAM path, which the regional stacks set.
            "ProjectRolesAndInstanceProfilesByPath",
            roles,
            [project_roles, iam_arn(spec, "instance-profile")],
        ),
        allow(
            # Roles are handed only to the services they are made for.
            "PassProjectRolesToTheirServices",
            ["iam:PassRole"],
            project_roles,
            {"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICES}},
        ),
        allow(
            "ServiceLinkedRolesOfServicesWeUse",
            ["iam:CreateServiceLinkedRole"],
            arn("iam", "role/aws-service-role/*", region=""),
            {
                "StringEquals": {
                    "iam:AWSServiceName": [
                        "autoscaling.amazonaws.com",
                        "elasticloadbalancing.amazonaws.com",
                        "rds.amazonaws.com",
                        "ssm.amazonaws.com",
                        "management.chatbot.amazonaws.com",
                    ]
                }
            },
        ),
        protect_global_stack(spec, protected),
    ]
    if attachable_policies:
        statements.insert(
            1,
            allow(
                # Only the AWS managed policies the regional templates attach.
                "AttachOnlyTheManagedPoliciesOurTemplatesUse",
                ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                project_roles,
                {"ArnEquals": {"iam:PolicyARN": attachable_policies}},
            ),
        )
    return statements


def database_log_groups(spec: InfraSpec) -> list[Sub]:
    """The log groups of the databases' exported logs, which the stacks make before RDS
    writes to them: named after the writer's identifier and the replicas' (which begin
    with `<prefix>-db-`; a promoted writer keeps its replica's). Not after a promoted
    writer named by CloudFormation before identifiers were fixed: naming it replaces it
    (data_hazards refuses that), and the global stack must not change on a failover."""
    prefix = naming.name_prefix(spec)
    return [
        arn("logs", f"log-group:/aws/rds/instance/{name}/*")
        for name in (f"{prefix}-db", f"{prefix}-db-*")
    ]


def operations(spec: InfraSpec) -> list[Statement]:
    """Log groups, parameters, SSM documents and patching."""
    project, environment = spec.project, spec.environment
    prefix = naming.name_prefix(spec)
    log_groups = [
        "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
        "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup", "logs:UntagLogGroup",
        "logs:ListTagsForResource", "logs:ListTagsLogGroup", "logs:PutMetricFilter",
        "logs:DeleteMetricFilter", "logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter",
        "logs:GetDataProtectionPolicy",
    ]  # fmt: skip
    log_delivery = [
        "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:GetLogDelivery",
        "logs:UpdateLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
    ]  # fmt: skip
    parameters = [
        "ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameter", "ssm:GetParameters",
        "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource",
    ]  # fmt: skip
    documents = [
        "ssm:CreateDocument", "ssm:UpdateDocument", "ssm:DeleteDocument", "ssm:GetDocument",
        "ssm:UpdateDocumentDefaultVersion", "ssm:AddTagsToResource",
        "ssm:RemoveTagsFromResource",
    ]  # fmt: skip
    patching = [
        "ssm:CreateAssociation", "ssm:UpdateAssociation", "ssm:DeleteAssociation",
        "ssm:CreateMaintenanceWindow", "ssm:UpdateMaintenanceWindow",
        "ssm:DeleteMaintenanceWindow", "ssm:GetMaintenanceWindow",
        "ssm:RegisterTargetWithMaintenanceWindow", "ssm:DeregisterTargetFromMaintenanceWindow",
        "ssm:UpdateMaintenanceWindowTarget", "ssm:RegisterTaskWithMaintenanceWindow",
        "ssm:DeregisterTaskFromMaintenanceWindow", "ssm:UpdateMaintenanceWindowTask",
        "ssm:GetMaintenanceWindowTask", "ssm:CreatePatchBaseline", "ssm:UpdatePatchBaseline",
        "ssm:DeletePatchBaseline", "ssm:GetPatchBaseline", "ssm:GetDefaultPatchBaseline",
        "ssm:RegisterPatchBaselineForPatchGroup", "ssm:DeregisterPatchBaselineForPatchGroup",
        "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
    ]  # fmt: skip
    return [
        allow(
            "ProjectLogGroups",
            log_groups,
            [
                arn("logs", f"log-group:{naming.log_group_name(spec)}/*"),
                arn("logs", f"log-group:/aws/lambda/{prefix}-*"),
                arn("logs", f"log-group:aws-waf-logs-{prefix}*"),
                *database_log_groups(spec),
            ],
        ),
        # Log delivery (WAF to CloudWatch Logs) is configured per account, not per group.
        allow("LogDeliveryAwsDoesNotScopeByResource", log_delivery, "*"),
        allow(
            "ProjectParameters",
            parameters,
            arn("ssm", f"parameter/{project}/{environment}/*"),
        ),
        resolve_image_parameter(spec),
        allow("ProjectDocuments", documents, arn("ssm", f"document/{prefix}-*")),
        # Windows and baselines have IDs AWS makes up: creating one names no resource.
        allow(
            "CreatePatchingAwsDoesNotScopeByResource",
            ["ssm:CreateMaintenanceWindow", "ssm:CreatePatchBaseline"],
            "*",
        ),
        allow(
            # Maintenance windows, patch baselines and associations have IDs, not names;
            # associations run AWS-owned documents on the account's instances.
            "PatchingByAccountAndRegion",
            patching,
            [
                arn("ssm", "*"),
                arn("ssm", "document/*", account=""),
                arn("ec2", "instance/*"),
            ],
        ),
    ]


def application(spec: InfraSpec) -> list[Statement]:
    """Firewall, alarms and dashboards, topics, queues, functions and schedules."""
    prefix = naming.name_prefix(spec)
    web_acls = [
        "wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL", "wafv2:GetWebACL",
        "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL", "wafv2:GetWebACLForResource",
        "wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration",
        "wafv2:GetLoggingConfiguration", "wafv2:TagResource", "wafv2:UntagResource",
        "wafv2:ListTagsForResource",
    ]  # fmt: skip
    alarms = [
        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource",
        "cloudwatch:UntagResource", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards",
        "cloudwatch:GetDashboard",
    ]  # fmt: skip
    topics = [
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
        "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:TagResource",
        "sns:UntagResource", "sns:ListTagsForResource", "sns:GetDataProtectionPolicy",
    ]  # fmt: skip
    queues = [
        "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
        "sqs:GetQueueUrl", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
    ]  # fmt: skip
    functions = [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
        "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration", "lambda:AddPermission", "lambda:RemovePermission",
        "lambda:GetPolicy", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
        "lambda:GetFunctionConcurrency", "lambda:TagResource", "lambda:UntagResource",
        "lambda:ListTags", "lambda:PublishVersion", "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionRecursionConfig", "lambda:PutFunctionRecursionConfig",
        "lambda:GetRuntimeManagementConfig", "lambda:PutRuntimeManagementConfig",
        "lambda:GetFunctionScalingConfig",
    ]  # fmt: skip
    rules = [
        "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule",
        "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
        "events:ListTargetsByRule", "events:TagResource", "events:UntagResource",
        "events:ListTagsForResource",
    ]  # fmt: skip
    return [
        allow(
            "ProjectWebAclsOnTheAccountsLoadBalancers",
            web_acls,
            [
                arn("wafv2", f"regional/webacl/{prefix}-*/*"),
                arn("wafv2", "regional/managedruleset/*/*"),
                arn("elasticloadbalancing", "loadbalancer/app/*"),
            ],
        ),
        allow(
            "ProjectAlarmsAndDashboards",
            alarms,
            [
                arn("cloudwatch", f"alarm:{prefix}-*"),
                arn("cloudwatch", f"dashboard/{prefix}-*", region=""),
            ],
        ),
        allow("ProjectTopics", topics, arn("sns", f"{prefix}-*")),
        allow("ProjectQueues", queues, arn("sqs", f"{prefix}-*")),
        allow("ProjectFunctions", functions, arn("lambda", f"function:{prefix}-*")),
        allow("ProjectEventRules", rules, arn("events", f"rule/{prefix}-*")),
    ]


def dns_certificates_and_audit(spec: InfraSpec, hosted_zone_id) -> list[Statement]:
    """Route 53 records and health checks, ACM, CloudTrail, Chatbot and X-Ray."""
    prefix = naming.name_prefix(spec)
    record = spec.dns.record_name
    zone = Sub("arn:${AWS::Partition}:route53:::hostedzone/${Zone}", Zone=hosted_zone_id)
    health_checks = [
        "route53:UpdateHealthCheck", "route53:DeleteHealthCheck", "route53:GetHealthCheck",
        "route53:ChangeTagsForResource", "route53:ListTagsForResource",
    ]  # fmt: skip
    certificates = [
        "acm:DescribeCertificate", "acm:DeleteCertificate", "acm:AddTagsToCertificate",
        "acm:RemoveTagsFromCertificate", "acm:ListTagsForCertificate",
        "acm:UpdateCertificateOptions",
    ]  # fmt: skip
    trails = [
        "cloudtrail:CreateTrail", "cloudtrail:UpdateTrail", "cloudtrail:DeleteTrail",
        "cloudtrail:StartLogging", "cloudtrail:StopLogging", "cloudtrail:GetTrailStatus",
        "cloudtrail:PutEventSelectors", "cloudtrail:GetEventSelectors",
        "cloudtrail:AddTags", "cloudtrail:RemoveTags", "cloudtrail:ListTags",
    ]  # fmt: skip
    chatbot = [
        "chatbot:CreateSlackChannelConfiguration", "chatbot:UpdateSlackChannelConfiguration",
        "chatbot:DeleteSlackChannelConfiguration", "chatbot:TagResource",
        "chatbot:UntagResource",
    ]  # fmt: skip
    tracing = [
        "xray:CreateGroup", "xray:UpdateGroup", "xray:DeleteGroup", "xray:CreateSamplingRule",
        "xray:UpdateSamplingRule", "xray:DeleteSamplingRule", "xray:TagResource",
        "xray:UntagResource",
    ]  # fmt: skip
    return [
        allow(
            # Only the site's record and ACM's validation records (`_<token>.<record>`).
            "SiteRecordsInTheZone",
            ["route53:ChangeResourceRecordSets"],
            zone,
            {
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                        record,
                        f"_*.{record}",
                    ]
                }
            },
        ),
        allow("ReadTheZone", ["route53:GetHostedZone", "route53:ListResourceRecordSets"], zone),
        # Health checks have generated IDs: any of the account's.
        allow(
            "HealthChecksByAccount",
            health_checks,
            Sub("arn:${AWS::Partition}:route53:::healthcheck/*"),
        ),
        # CreateHealthCheck names no resource yet.
        allow("CreateHealthChecksAwsDoesNotScopeByResource", ["route53:CreateHealthCheck"], "*"),
        # RequestCertificate names no certificate yet; certificates have IDs, not names.
        allow("RequestCertificatesByRegionOnly", ["acm:RequestCertificate"], "*"),
        allow("CertificatesByRegion", certificates, arn("acm", "certificate/*")),
        allow("ProjectTrails", trails, arn("cloudtrail", f"trail/{prefix}-*")),
        allow(
            "ProjectSlackChannels",
            chatbot,
            arn("chatbot", f"chat-configuration/slack-channel/{prefix}-*", region=""),
        ),
        allow(
            "ProjectTracing",
            tracing,
            [arn("xray", f"group/{prefix}-*/*"), arn("xray", f"sampling-rule/{prefix}-*")],
        ),
    ]


def protect_global_stack(spec: InfraSpec, protected: Iterable) -> Statement:
    """Deny every change to the global stack's roles, policies, buckets, trail, key and
    CIS monitoring (log group, metric filters, alarms)."""
    own = naming.global_resource_name(spec, "")  # `<prefix>-global-`
    return {
        "Sid": "NeverTheGlobalStacksOwnResources",
        "Effect": "Deny",
        "Action": ["iam:*", "s3:*", "cloudtrail:*", "kms:*", "logs:*", "cloudwatch:*"],
        "Resource": [
            arn("iam", f"role/{own}*", region=""),
            arn("iam", f"policy/{own}*", region=""),
            *protected,
        ],
    }
