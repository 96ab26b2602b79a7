"""Small typed handles that carry references from one builder to the next."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import AWSHelperFn

Reference = AWSHelperFn


@dataclass(frozen=True)
class KeyHandle:
    key_arn: Reference
    key_id: Reference


@dataclass(frozen=True)
class NetworkHandle:
    vpc_id: Reference
    public_subnet_ids: list[Reference]
    private_subnet_ids: list[Reference]
    database_subnet_ids: list[Reference]
    nat_gateway_ids: list[Reference]
    flow_log_group_name: Reference  # VPC flow logs, default format


@dataclass(frozen=True)
class SecurityGroupsHandle:
    load_balancer: Reference
    app: Reference
    database: Reference


@dataclass(frozen=True)
class BucketRef:
    short_name: str
    name: Reference
    arn: Reference


@dataclass(frozen=True)
class StorageHandle:
    buckets: list[BucketRef]  # the spec's application buckets
    logs: BucketRef  # the region's access-log bucket (S3-managed encryption, see storage)
    logs_policy_id: str  # writers must wait for this policy: delivery is checked on creation
    patching_log_prefix: str  # key prefix in `logs` where patching output goes


@dataclass(frozen=True)
class HostedZoneHandle:
    hosted_zone_id: Reference  # Ref to the regional template's hosted zone parameter
    parameter_name: str  # that parameter: the deploy manifest says where its value comes from
    given_in_spec: bool  # True: dns.hosted_zone_id (the default); False: the global stack's zone


@dataclass(frozen=True)
class CertificateHandle:
    certificate_arn: Reference | str  # the HTTPS listener's certificate in this region


@dataclass(frozen=True)
class LoadBalancerHandle:
    arn: Reference
    full_name: Reference
    dns_name: Reference
    canonical_hosted_zone_id: Reference
    target_group_arn: Reference
    target_group_full_name: Reference


@dataclass(frozen=True)
class DnsHandle:
    health_check_id: Reference  # Route 53's view of this region's ALB
    record_name: str  # the alias record's name, the same in every region


@dataclass(frozen=True)
class ComputeHandle:
    auto_scaling_group_name: Reference
    instance_role_name: Reference
    patch_group: str  # the instances' PatchGroup tag, which selects their patch baseline


@dataclass(frozen=True)
class DatabaseHandle:
    instance_id: Reference
    endpoint_address: Reference


@dataclass(frozen=True)
class WafHandle:
    web_acl_arn: Reference
    web_acl_name: str  # the `WebACL` dimension of the AWS/WAFV2 metrics
    log_group_name: Reference


@dataclass(frozen=True)
class NotificationsHandle:
    alarm_topic_arn: Reference  # the region's SNS topic every alarm notifies


@dataclass(frozen=True)
class ChangeEventsHandle:
    topic_arn: Reference  # the region's SNS topic of infrastructure changes (notifications.slack)


@dataclass(frozen=True)
class PatchingHandle:
    maintenance_window_id: Reference
    patch_baseline_id: Reference


@dataclass(frozen=True)
class ScheduledTaskRef:
    name: str  # the spec's task name
    function_name: str  # physical name; its log group is /aws/lambda/<function_name>
    function_arn: Reference
    dead_letter_queue_name: Reference  # alarm on its depth: a task that failed every retry


@dataclass(frozen=True)
class ScheduledTasksHandle:
    tasks: list[ScheduledTaskRef]


@dataclass(frozen=True)
class PublicZoneHandle:
    """The global stack's view of the site's public hosted zone."""

    hosted_zone_id: Reference | str  # the zone created here, or dns.hosted_zone_id
    created: bool  # True: the global stack owns the zone and outputs its ID


@dataclass(frozen=True)
class AuditHandle:
    access_logs: BucketRef  # the global stack's access-log bucket (S3-managed encryption)
    access_logs_policy_id: str  # buckets logging there wait for it: S3 checks on creation
    access_log_prefix: str  # key prefix under which other global buckets log
    trail_arn: Reference | None  # None with audit.trail: false (an organisation trail)
    protected_arns: list[Reference]  # trail, its bucket and key: no deploy role may touch them


@dataclass(frozen=True)
class AccessHandle:
    management_role_arn: Reference
    execution_role_arn: Reference  # CloudFormation deploys the project's stacks as this role
    template_bucket_name: Reference  # `aws cloudformation deploy --s3-bucket` for large templates
