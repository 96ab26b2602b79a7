"""The one place for handler actions the deploy roles leave out on purpose, with why.

A resource provider schema declares every call its handlers may make for any setting of
the type; the templates use a few settings. An action is waived for a resource type
when the compiled templates never take the path that calls it (the reason names the
property they leave unset). The proof fails on a waiver no compiled spec needs, so this
list cannot outgrow the templates; an action the templates start to need fails the proof
until it is granted, or waived here with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.iam.policy import matches


@dataclass(frozen=True)
class Waiver:
    resource_type: str
    actions: tuple[str, ...]  # patterns, IAM wildcards
    reason: str
    # Properties whose presence (in any branch of an Fn::If) takes the path the reason
    # says the templates never take: a resource that sets one gets no waiver.
    unless: tuple[str, ...] = ()


def _waive(resource_type: str, reason: str, *actions: str, unless: tuple[str, ...] = ()) -> Waiver:
    return Waiver(resource_type, actions, reason, unless)


NOT_AN_IAM_ACTION = (
    "not an action of the Service Authorization Reference (S3 authorises these calls as "
    "the matching Put*Configuration, or they are log names): nothing to grant"
)

WAIVERS: tuple[Waiver, ...] = (
    # Auto Scaling
    _waive("AWS::AutoScaling::AutoScalingGroup", "no NotificationConfigurations",
           "autoscaling:PutNotificationConfiguration", "autoscaling:DeleteNotificationConfiguration"),
    _waive("AWS::AutoScaling::AutoScalingGroup", "no LifecycleHookSpecificationList",
           "autoscaling:PutLifecycleHook", "autoscaling:DeleteLifecycleHook"),
    _waive("AWS::AutoScaling::AutoScalingGroup",
           "no Classic Load Balancers (LoadBalancerNames): target groups are attached instead",
           "autoscaling:AttachLoadBalancers", "autoscaling:DetachLoadBalancers"),
    _waive("AWS::AutoScaling::AutoScalingGroup",
           "no VPC Lattice traffic sources and no managed fleets",
           "vpc-lattice:*", "managed-fleets:*"),
    _waive("AWS::AutoScaling::AutoScalingGroup",
           "the template's alarms are AWS::CloudWatch::Alarm resources of their own; the group "
           "sets no property that makes its handler create one",
           "cloudwatch:PutMetricAlarm"),
    _waive("AWS::AutoScaling::AutoScalingGroup",
           "ec2:Get* would include GetPasswordData and GetConsoleOutput: the one the launch "
           "template needs, ec2:GetLaunchTemplateData, is granted on project-tagged templates",
           "ec2:Get*"),
    _waive("AWS::AutoScaling::AutoScalingGroup",
           "for launch templates whose ImageId is `resolve:ssm:`; ours comes from the ImageId "
           "parameter, which the deploy roles resolve (ResolveImageParameter)",
           "ssm:Get*"),
    # EC2
    _waive("AWS::EC2::EIP", "addresses are for NAT gateways (AllocationId), never associated "
           "with an instance or transferred", "ec2:AssociateAddress", "ec2:DisassociateAddress",
           "ec2:AcceptAddressTransfer"),
    _waive("AWS::EC2::FlowLog", "the destination is a CloudWatch Logs group with "
           "DeliverLogsPermissionArn: no S3 bucket policy, no service-linked role",
           "s3:GetBucketPolicy", "s3:PutBucketPolicy", "iam:CreateServiceLinkedRole"),
    _waive("AWS::EC2::NatGateway", "public NAT gateways with one address each: no secondary "
           "or private addresses", "ec2:AssignPrivateNatGatewayAddress",
           "ec2:UnassignPrivateNatGatewayAddress", "ec2:AssociateNatGatewayAddress",
           "ec2:DisassociateNatGatewayAddress"),
    _waive("AWS::EC2::Subnet", "IPv4 only: no Ipv6CidrBlock", "ec2:AssociateSubnetCidrBlock",
           "ec2:DisassociateSubnetCidrBlock"),
    _waive("AWS::EC2::VPC", "no VPC encryption controls, default tenancy only",
           "ec2:CreateVpcEncryptionControl", "ec2:ModifyVpcTenancy"),
    _waive("AWS::EC2::VPCGatewayAttachment", "attaches an internet gateway, never a VPN gateway",
           "ec2:AttachVpnGateway", "ec2:DetachVpnGateway"),
    # Elastic Load Balancing
    _waive("AWS::ElasticLoadBalancingV2::Listener", "no authenticate-cognito actions",
           "cognito-idp:DescribeUserPoolClient"),
    _waive("AWS::ElasticLoadBalancingV2::LoadBalancer", "no MinimumLoadBalancerCapacity, no IPAM "
           "pools, IpAddressType never changes", "elasticloadbalancing:ModifyCapacityReservation",
           "elasticloadbalancing:ModifyIpPools", "elasticloadbalancing:SetIpAddressType"),
    _waive("AWS::ElasticLoadBalancingV2::TargetGroup", "no Targets: the Auto Scaling group "
           "registers its instances itself", "elasticloadbalancing:RegisterTargets",
           "elasticloadbalancing:DeregisterTargets"),
    # EventBridge, IAM
    _waive("AWS::Events::Rule", "targets are Lambda functions invoked through their resource "
           "policy: no target RoleArn to pass", "iam:PassRole"),
    _waive("AWS::IAM::Policy", "inline policies are put on roles only (Roles), never on groups "
           "or users", "iam:*GroupPolicy", "iam:*UserPolicy"),
    _waive("AWS::IAM::Role", "no PermissionsBoundary", "iam:PutRolePermissionsBoundary",
           "iam:DeleteRolePermissionsBoundary"),
    # Lambda
    _waive("AWS::Lambda::Function", "code is inline (ZipFile): no S3 object, no layers",
           "s3:GetObject", "s3:GetObjectVersion", "lambda:GetLayerVersion"),
    _waive("AWS::Lambda::Function", "no file systems (FileSystemConfigs)",
           "elasticfilesystem:DescribeMountTargets", "s3files:*"),
    _waive("AWS::Lambda::Function", "no CodeSigningConfigArn", "lambda:GetCodeSigningConfig",
           "lambda:PutFunctionCodeSigningConfig", "lambda:DeleteFunctionCodeSigningConfig"),
    _waive("AWS::Lambda::Function", "no capacity providers, scaling configuration or runtime "
           "aliases", "lambda:PassCapacityProvider", "lambda:PutFunctionScalingConfig",
           "lambda:AssociateRuntimeAlias"),
    # CloudWatch Logs
    _waive("AWS::Logs::LogGroup", "no DataProtectionPolicy, FieldIndexPolicies, ResourcePolicy, "
           "bearer-token authentication or deletion protection",
           "logs:PutDataProtectionPolicy", "logs:DeleteDataProtectionPolicy",
           "logs:PutIndexPolicy", "logs:DeleteIndexPolicy", "logs:DeleteResourcePolicy",
           "logs:PutBearerTokenAuthentication", "logs:PutLogGroupDeletionProtection"),
    _waive("AWS::Logs::LogGroup", "no delivery to Firehose", "firehose:TagDeliveryStream"),
    _waive("AWS::Logs::LogGroup", NOT_AN_IAM_ACTION, "s3:REST.PUT.OBJECT"),
    # RDS
    _waive("AWS::RDS::DBInstance", "no snapshot or restore time: no restore",
           "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBInstanceToPointInTime",
           unless=("DBSnapshotIdentifier", "RestoreTime", "UseLatestRestorableTime")),
    _waive("AWS::RDS::DBInstance", "no AssociatedRoles", "rds:AddRoleToDBInstance",
           "rds:RemoveRoleFromDBInstance"),
    _waive("AWS::RDS::DBInstance", "no cross-region automated backup replication",
           "rds:StartDBInstanceAutomatedBackupsReplication",
           "rds:StopDBInstanceAutomatedBackupsReplication"),
    # ACM
    _waive("AWS::CertificateManager::Certificate", "public certificates: no "
           "CertificateAuthorityArn", "acm-pca:*"),
    # Route 53
    _waive("AWS::Route53::HealthCheck", "HTTPS health checks, no Application Recovery "
           "Controller routing controls", "route53-recovery-control-config:*"),
    # S3
    _waive("AWS::S3::Bucket", "no ReplicationConfiguration",
           "s3:PutReplicationConfiguration", "iam:PassRole",
           unless=("ReplicationConfiguration",)),
    _waive("AWS::S3::Bucket", "no website, CORS, object lock, accelerate, "
           "analytics, inventory, metrics or intelligent tiering configuration, no metadata "
           "or table buckets, no ACLs (BucketOwnerEnforced), no attribute-based access",
           "s3:PutBucketWebsite", "s3:DeleteBucketWebsite", "s3:PutBucketCORS",
           "s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration",
           "s3:PutAccelerateConfiguration", "s3:PutAnalyticsConfiguration",
           "s3:DeleteBucketAnalyticsConfiguration", "s3:PutInventoryConfiguration",
           "s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration",
           "s3:PutIntelligentTieringConfiguration", "s3:*BucketMetadata*",
           "s3tables:*", "s3:PutBucketAcl", "s3:PutObjectAcl", "s3:PutBucketAbac",
           "s3:DeleteObject"),
    _waive("AWS::S3::Bucket", NOT_AN_IAM_ACTION, "s3:DeleteBucketCors",
           "s3:DeleteBucketEncryption", "s3:DeleteBucketLifecycle", "s3:DeleteBucketReplication",
           "s3:PutBucketReplication"),
    # SNS
    _waive("AWS::SNS::Topic", "no delivery status logging roles, no DataProtectionPolicy",
           "iam:GetRole", "iam:PassRole", "sns:PutDataProtectionPolicy"),
    _waive("AWS::SNS::Subscription", "e-mail and Lambda subscriptions: no SubscriptionRoleArn",
           "iam:GetRole", "iam:PassRole"),
    # Systems Manager
    _waive("AWS::SSM::Association", "targets instances by tag: no resource groups, change "
           "calendars or automation role", "resource-groups:*", "ssm:GetCalendarState",
           "iam:PassRole"),
    _waive("AWS::SSM::Document", "content is inline: no Attachments in S3, no role",
           "s3:GetObject", "iam:PassRole"),
    _waive("AWS::SSM::MaintenanceWindowTask", "the task names its ServiceRoleArn: no "
           "service-linked role", "iam:CreateServiceLinkedRole"),
    _waive("AWS::SSM::PatchBaseline", "DefaultBaseline is not set: the account's default "
           "baseline stays as it is", "ssm:RegisterDefaultPatchBaseline"),
    # WAF
    _waive("AWS::WAFv2::LoggingConfiguration", "the destination is a CloudWatch Logs group "
           "(its resource policy, granted as LogDelivery): no Firehose, S3 bucket or "
           "organisation, no service-linked role", "firehose:ListDeliveryStreams",
           "s3:GetBucketPolicy", "s3:PutBucketPolicy", "iam:DescribeOrganization",
           "iam:CreateServiceLinkedRole"),
    _waive("AWS::WAFv2::WebACL", "no paid Marketplace rule groups", "payments:*"),
    _waive("AWS::WAFv2::WebACLAssociation", "associates an Application Load Balancer only: "
           "not Amplify, API Gateway, App Runner, AppSync, AgentCore, Cognito or Verified "
           "Access; no shared rule groups", "amplify:*", "apigateway:*", "apprunner:*",
           "appsync:*", "bedrock-agentcore:*", "cognito-idp:*", "ec2:*VerifiedAccess*",
           "wafv2:GetPermissionPolicy", "wafv2:PutPermissionPolicy"),
)  # fmt: skip


def waived(resource_type: str, action: str, properties: dict) -> tuple[str, str] | None:
    """(type, pattern) of the waiver that covers `action` for a resource of `resource_type`
    with `properties`, if any."""
    for waiver in WAIVERS:
        if waiver.resource_type == resource_type and not set(waiver.unless) & set(properties):
            for pattern in waiver.actions:
                if matches(pattern, action, ignore_case=True):
                    return waiver.resource_type, pattern
    return None


def every_waiver() -> set[tuple[str, str]]:
    return {(w.resource_type, pattern) for w in WAIVERS for pattern in w.actions}


# Writes the deploy roles may make on another project's resource of the same type, with
# why AWS offers nothing to tell the two apart: (resource type, action pattern) -> reason.
UNCONTAINED: dict[tuple[str, str], str] = {
    ("AWS::EC2::SecurityGroup", "ec2:CreateSecurityGroup"): (
        "CloudFormation tags a security group only after creating it, so the new group "
        "cannot be asked for the tag; the VPC it is created in must carry the project tag"
    ),
}


def uncontained(resource_type: str, action: str) -> bool:
    return any(
        kind == resource_type and matches(pattern, action, ignore_case=True)
        for kind, pattern in UNCONTAINED
    )
