"""What CloudFormation may do when it deploys this project's stacks: the execution policies.

Not a builder: the permission tables that builders/access.py attaches to the deploy roles.
One statement per service and purpose, each with a Sid that says how it is scoped:

- by name, where the service's ARNs carry one: roles, buckets, functions, queues, topics,
  log groups, parameters, alarms... CloudFormation names what we leave unnamed
  `<stack name>-<logical ID>-<random>`, and every stack name starts with one of
  `stack_name_prefixes` (StackSet instances are `StackSet-<stack set>-<id>`);
- by region (`aws:RequestedRegion` in the spec's regions), where AWS scopes no further:
  EC2 creates, RDS, KMS key creation. IAM, Route 53 and Chatbot are global services
  (their requests name us-east-1), so their statements carry no region condition.

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


def in_regions(spec: InfraSpec) -> dict:
    return {"StringEquals": {"aws:RequestedRegion": [region.name for region in spec.regions]}}


def stack_name_prefixes(spec: InfraSpec) -> list[str]:
    """Every stack of the project is named with one of these (global, regions, StackSet
    instances)."""
    return [f"{naming.name_prefix(spec)}-", naming.stack_set_instance_name_prefix(spec)]


def generated_names(spec: InfraSpec, service: str, pattern: str, **kwargs) -> list[AWSHelperFn]:
    """ARNs of resources CloudFormation names after their stack: `pattern` has `{}` where
    the name starts, e.g. `function:{}*`."""
    return [arn(service, pattern.format(prefix), **kwargs) for prefix in stack_name_prefixes(spec)]


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


def _read_only(spec: InfraSpec) -> list[Statement]:
    regional = [
        "ec2:Describe*", "elasticloadbalancing:Describe*", "autoscaling:Describe*",
        "rds:Describe*", "cloudwatch:Describe*", "cloudwatch:ListTagsForResource",
        "logs:Describe*", "ssm:Describe*", "ssm:List*", "lambda:GetAccountSettings",
        "lambda:ListFunctions", "sns:ListTopics", "sqs:ListQueues", "kms:ListAliases",
        "kms:ListKeys", "wafv2:ListWebACLs", "wafv2:ListAvailableManagedRuleGroups",
        "acm:ListCertificates", "cloudtrail:DescribeTrails", "events:ListRules",
        "secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword",
        "xray:GetGroups", "xray:GetSamplingRules",
    ]  # fmt: skip
    global_ = ["route53:ListHostedZones", "route53:GetChange", "chatbot:Describe*"]
    return [
        # Describe/List calls are authorised per account: AWS offers no resource to name.
        allow("ReadOnlyCallsAwsDoesNotScopeByResource", regional, "*", in_regions(spec)),
        allow("ReadOnlyGlobalCallsAwsDoesNotScopeByResource", global_, "*"),
    ]


def network_and_compute(spec: InfraSpec) -> list[Statement]:
    ec2 = [
        "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet",
        "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute",
        "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:CreateInternetGateway",
        "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
        "ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:CreateNatGateway",
        "ec2:DeleteNatGateway", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress", "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs", "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
        "ec2:DeleteLaunchTemplate", "ec2:DeleteLaunchTemplateVersions",
        "ec2:ModifyLaunchTemplate", "ec2:GetLaunchTemplateData", "ec2:RunInstances",
        "ec2:CreateTags", "ec2:DeleteTags",
    ]  # fmt: skip
    load_balancing = [
        "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:CreateRule",
        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:SetWebAcl",
    ]  # fmt: skip
    auto_scaling = [
        "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
        "autoscaling:DeleteAutoScalingGroup", "autoscaling:PutScalingPolicy",
        "autoscaling:DeletePolicy", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
        "autoscaling:AttachLoadBalancerTargetGroups",
        "autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:SuspendProcesses",
        "autoscaling:ResumeProcesses", "autoscaling:SetDesiredCapacity",
    ]  # fmt: skip
    databases = [
        "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance",
        "rds:RebootDBInstance", "rds:CreateDBSubnetGroup", "rds:ModifyDBSubnetGroup",
        "rds:DeleteDBSubnetGroup", "rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup",
        "rds:DeleteDBParameterGroup", "rds:CreateDBSnapshot", "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource", "rds:ListTagsForResource",
    ]  # fmt: skip
    regions = in_regions(spec)
    return [
        *_read_only(spec),
        # EC2 creates name no resource that could carry the project's name (IDs only).
        allow("Ec2NetworkAndLaunchByRegionOnly", ec2, "*", regions),
        allow(
            # Load balancer and target group names are generated short (32 characters) and
            # do not keep the stack name: scoped to the account's ALBs in the regions.
            "ApplicationLoadBalancersInSpecRegions",
            load_balancing,
            [
                arn("elasticloadbalancing", "loadbalancer/app/*"),
                arn("elasticloadbalancing", "targetgroup/*"),
                arn("elasticloadbalancing", "listener/app/*"),
                arn("elasticloadbalancing", "listener-rule/app/*"),
            ],
            regions,
        ),
        allow(
            "ProjectAutoScalingGroups",
            auto_scaling,
            generated_names(spec, "autoscaling", "autoScalingGroup:*:autoScalingGroupName/{}*"),
            regions,
        ),
        # RDS identifiers are generated lower-case and shortened: scoped by account and region.
        allow("DatabasesInSpecRegions", databases, arn("rds", "*"), regions),
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
        "s3:GetReplicationConfiguration",
    ]  # fmt: skip
    key_admin = [
        "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:EnableKeyRotation",
        "kms:DisableKeyRotation", "kms:GetKeyRotationStatus", "kms:UpdateKeyDescription",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:EnableKey", "kms:DisableKey",
        "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:CreateAlias",
        "kms:DeleteAlias", "kms:UpdateAlias",
    ]  # fmt: skip
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
    regions = in_regions(spec)
    services_using_keys = [
        f"{service}.*.amazonaws.com"
        for service in ("rds", "secretsmanager", "lambda", "logs", "sns", "sqs", "ec2")
    ]
    return [
        allow("ProjectBuckets", buckets, Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}-*"), regions),
        # CreateKey names no key yet, and keys have IDs, not names.
        allow("CreateKeysByRegionOnly", ["kms:CreateKey"], "*", regions),
        allow(
            # Keys carry no name; aliases do. The global stack's key is denied below.
            "AdministerKeysAndProjectAliases",
            key_admin,
            [arn("kms", "key/*"), arn("kms", f"alias/{prefix}/*")],
            regions,
        ),
        allow(
            "UseKeysOnlyThroughTheServicesThatEncrypt",
            key_use,
            arn("kms", "key/*"),
            {**regions, "StringLike": {"kms:ViaService": services_using_keys}},
        ),
        allow(
            # RDS names the master password secrets it manages `rds!...`.
            "ProjectSecrets",
            secrets,
            [arn("secretsmanager", f"secret:{prefix}-*"), arn("secretsmanager", "secret:rds!*")],
            regions,
        ),
    ]


def identity(spec: InfraSpec, attachable_policies: list, protected: list) -> list[Statement]:
    """IAM for the project's roles; `protected`: ARNs of the global stack's other resources."""
    roles = [
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole",
        "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
        "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies", "iam:TagRole", "iam:UntagRole",
        "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
        "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile", "iam:UntagInstanceProfile", "iam:CreatePolicy",
        "iam:DeletePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion", "iam:ListPolicyVersions", "iam:TagPolicy", "iam:UntagPolicy",
    ]  # fmt: skip
    project_roles = generated_names(spec, "iam", "role/{}*", region="")
    identities = [
        *project_roles,
        *generated_names(spec, "iam", "instance-profile/{}*", region=""),
        *generated_names(spec, "iam", "policy/{}*", region=""),
    ]
    statements = [
        allow("ProjectRolesPoliciesAndInstanceProfiles", roles, identities),
        # Roles are handed to the services they are made for (EC2, Lambda, RDS monitoring,
        # SSM, flow logs): only the project's own roles.
        allow("PassProjectRolesToTheirServices", ["iam:PassRole"], project_roles),
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
        "ssm:DeletePatchBaseline", "ssm:GetPatchBaseline",
        "ssm:RegisterPatchBaselineForPatchGroup", "ssm:DeregisterPatchBaselineForPatchGroup",
        "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
    ]  # fmt: skip
    regions = in_regions(spec)
    return [
        allow(
            "ProjectLogGroups",
            log_groups,
            [
                arn("logs", f"log-group:{naming.log_group_name(spec)}/*"),
                arn("logs", f"log-group:/aws/lambda/{prefix}-*"),
                arn("logs", f"log-group:aws-waf-logs-{prefix}*"),
            ],
            regions,
        ),
        # Log delivery (WAF to CloudWatch Logs) is configured per account, not per group.
        allow("LogDeliveryAwsDoesNotScopeByResource", log_delivery, "*", regions),
        allow(
            "ProjectParameters",
            parameters,
            arn("ssm", f"parameter/{project}/{environment}/*"),
            regions,
        ),
        resolve_image_parameter(spec),
        allow("ProjectDocuments", documents, generated_names(spec, "ssm", "document/{}*"), regions),
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
            regions,
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
        "sns:UntagResource", "sns:ListTagsForResource",
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
        "lambda:ListTags", "lambda:PublishVersion",
    ]  # fmt: skip
    rules = [
        "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule",
        "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
        "events:ListTargetsByRule", "events:TagResource", "events:UntagResource",
        "events:ListTagsForResource",
    ]  # fmt: skip
    regions = in_regions(spec)
    return [
        allow(
            "ProjectWebAclsOnTheAccountsLoadBalancers",
            web_acls,
            [
                arn("wafv2", f"regional/webacl/{prefix}-*/*"),
                arn("wafv2", "regional/managedruleset/*/*"),
                arn("elasticloadbalancing", "loadbalancer/app/*"),
            ],
            regions,
        ),
        allow(
            "ProjectAlarmsAndDashboards",
            alarms,
            [
                arn("cloudwatch", f"alarm:{prefix}-*"),
                arn("cloudwatch", f"dashboard/{prefix}-*", region=""),
            ],
            regions,
        ),
        allow("ProjectTopics", topics, arn("sns", f"{prefix}-*"), regions),
        allow("ProjectQueues", queues, generated_names(spec, "sqs", "{}*"), regions),
        allow("ProjectFunctions", functions, arn("lambda", f"function:{prefix}-*"), regions),
        allow("ProjectEventRules", rules, generated_names(spec, "events", "rule/{}*"), regions),
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
    regions = in_regions(spec)
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
        allow("RequestCertificatesByRegionOnly", ["acm:RequestCertificate"], "*", regions),
        allow("CertificatesByRegion", certificates, arn("acm", "certificate/*"), regions),
        allow("ProjectTrails", trails, arn("cloudtrail", f"trail/{prefix}-*"), regions),
        allow(
            "ProjectSlackChannels",
            chatbot,
            arn("chatbot", f"chat-configuration/slack-channel/{prefix}-*", region=""),
        ),
        allow(
            "ProjectTracing",
            tracing,
            [arn("xray", f"group/{prefix}-*/*"), arn("xray", f"sampling-rule/{prefix}-*")],
            regions,
        ),
    ]


def protect_global_stack(spec: InfraSpec, protected: Iterable) -> Statement:
    """Deny every change to the global stack's roles, policies, buckets, trail and key."""
    own = naming.global_resource_name(spec, "")  # `<prefix>-global-`
    return {
        "Sid": "NeverTheGlobalStacksOwnResources",
        "Effect": "Deny",
        "Action": ["iam:*", "s3:*", "cloudtrail:*", "kms:*"],
        "Resource": [
            arn("iam", f"role/{own}*", region=""),
            arn("iam", f"policy/{own}*", region=""),
            *protected,
        ],
    }
