"""Small typed handles that carry references from one builder to the next.

Immutable records here and elsewhere on the compile path are `typing.NamedTuple`s, not
frozen dataclasses: a frozen `@dataclass` costs ~0.7 ms of import time per class (it
exec()s generated methods), a NamedTuple ~0.1 ms, measured as `infra compile` start-up
by benchmarks/compile_bench.py. Records that need `default_factory`, `__post_init__`,
mutation or a `count`/`index` field stay dataclasses.
"""

from __future__ import annotations

from typing import NamedTuple

from troposphere import AWSHelperFn

Reference = AWSHelperFn


class KeyHandle(NamedTuple):
    key_arn: Reference
    key_id: Reference


class NetworkHandle(NamedTuple):
    vpc_id: Reference
    public_subnet_ids: list[Reference]
    private_subnet_ids: list[Reference]
    database_subnet_ids: list[Reference]
    nat_gateway_ids: list[Reference]
    flow_log_group_name: Reference  # VPC flow logs, default format


class SecurityGroupsHandle(NamedTuple):
    load_balancer: Reference
    app: Reference
    database: Reference


class BucketRef(NamedTuple):
    short_name: str
    name: Reference
    arn: Reference


class StorageHandle(NamedTuple):
    buckets: list[BucketRef]  # the spec's application buckets
    logs: BucketRef  # the region's access-log bucket (S3-managed encryption, see storage)
    logs_policy_id: str  # writers must wait for this policy: delivery is checked on creation
    patching_log_prefix: str  # key prefix in `logs` where patching output goes


class HostedZoneHandle(NamedTuple):
    hosted_zone_id: Reference  # Ref to the regional template's hosted zone parameter
    parameter_name: str  # that parameter: the deploy manifest says where its value comes from
    given_in_spec: bool  # True: dns.hosted_zone_id (the default); False: the global stack's zone


class CertificateHandle(NamedTuple):
    certificate_arn: Reference | str  # the HTTPS listener's certificate in this region


class LoadBalancerHandle(NamedTuple):
    arn: Reference
    full_name: Reference
    dns_name: Reference
    canonical_hosted_zone_id: Reference
    target_group_arn: Reference
    target_group_full_name: Reference


class DnsHandle(NamedTuple):
    health_check_id: Reference  # Route 53's view of this region's ALB
    record_name: str  # the alias record's name, the same in every region


class ComputeHandle(NamedTuple):
    auto_scaling_group_name: Reference
    instance_role_name: Reference
    patch_group: str  # the instances' PatchGroup tag, which selects their patch baseline


class DatabaseHandle(NamedTuple):
    instance_id: Reference
    endpoint_address: Reference
    endpoint_port: Reference
    name: str  # the database created at launch
    # The master user's Secrets Manager secret: RDS's own, or with replicas the writer
    # stack's (RDS creates no replica of a database whose password it manages; see database).
    secret_arn: Reference  # in the stack's own region: a replica region's copy of it
    secret_key_arn: Reference  # the KMS key that secret is encrypted with (see database)
    # What the region's database is to the application: "writer", or "replica" where it
    # follows another region's (a region value, for the StackSet); replicas are read-only.
    role: Reference | str
    replica_condition: str | None = None  # template condition true where it is a replica
    # The secret ARNs Secrets Manager may name in the KMS encryption context when it
    # decrypts `secret_arn` (see database.master_secret); None: `secret_arn` alone.
    secret_context_arns: Reference | None = None
    # What the instance role may read, when not `secret_arn` (which may be a partial ARN,
    # see database.named_master_secret); None: `secret_arn`.
    secret_policy_arn: Reference | None = None
    # `secret_context_arns` are ARN patterns (`-??????` for the suffix): matched with StringLike.
    secret_context_is_pattern: bool = False


class AppConfigHandle(NamedTuple):
    parameter_path: str  # /<project>/<environment>/, where the instances find their settings


class WafHandle(NamedTuple):
    web_acl_arn: Reference
    web_acl_name: str  # the `WebACL` dimension of the AWS/WAFV2 metrics
    log_group_name: Reference


class NotificationsHandle(NamedTuple):
    alarm_topic_arn: Reference  # the region's SNS topic every alarm notifies
    # Its policy: a service that publishes (RDS events) waits for it, or loses what it
    # sends before the policy lets it in.
    alarm_topic_policy_id: str | None = None


class ChangeEventsHandle(NamedTuple):
    topic_arn: Reference  # the region's SNS topic of infrastructure changes (notifications.slack)


class PatchingHandle(NamedTuple):
    maintenance_window_id: Reference
    patch_baseline_id: Reference


class ScheduledTaskRef(NamedTuple):
    name: str  # the spec's task name
    function_name: str  # physical name; its log group is /aws/lambda/<function_name>
    function_arn: Reference
    dead_letter_queue_name: Reference  # alarm on its depth: a task that failed every retry


class ScheduledTasksHandle(NamedTuple):
    tasks: list[ScheduledTaskRef]


class PublicZoneHandle(NamedTuple):
    """The global stack's view of the site's public hosted zone."""

    hosted_zone_id: Reference | str  # the zone created here, or dns.hosted_zone_id
    created: bool  # True: the global stack owns the zone and outputs its ID


class AuditHandle(NamedTuple):
    access_logs: BucketRef  # the global stack's access-log bucket (S3-managed encryption)
    access_logs_policy_id: str  # buckets logging there wait for it: S3 checks on creation
    access_log_prefix: str  # key prefix under which other global buckets log
    trail_arn: Reference | None  # None with audit.trail: false (an organisation trail)
    protected_arns: list[Reference]  # trail, its bucket and key: no deploy role may touch them


class AccessHandle(NamedTuple):
    management_role_arn: Reference
    execution_role_arn: Reference  # CloudFormation deploys the project's stacks as this role
    template_bucket_name: Reference  # `aws cloudformation deploy --s3-bucket` for large templates
