"""S3 buckets: versioned, KMS-encrypted, private, TLS-only, old versions expired."""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Or, Output, Ref, Sub, s3

from compiler import naming
from compiler.builders import Built, skip_check
from compiler.builders.bucket_replication import (
    replication_conditions,
    replication_configuration,
    replication_parameter,
    replication_role,
)
from compiler.builders.buckets import S3_MANAGED_ENCRYPTION, kms_encryption, private_bucket
from compiler.builders.handles import BucketRef, KeyHandle, StorageHandle
from compiler.context import (
    WRITER_CONDITION,
    RegionContext,
    replicated_bucket_names,
    replicates_database,
)
from compiler.spec import InfraSpec
from compiler.spec.regions import ALB_LOG_DELIVERY_SERVICE, alb_log_delivery
from compiler.spec.storage import BucketSpec

# True where a regional ELB account writes the ALB logs (regions opened before August
# 2022); false where the log delivery service does. Only a spec whose regions include both
# kinds has it, and then in every template (see `load_balancer_log_writer`).
ELB_LOG_ACCOUNT_CONDITION = "LoadBalancerLogsFromElbAccount"


def load_balancer_log_writer(spec: InfraSpec, ctx: RegionContext) -> tuple[object, dict]:
    """The principal that delivers ALB access logs in the template's region(s), and the
    template conditions it needs. Regions opened before August 2022 deliver them as an
    ELB account of their own, newer ones as the log delivery service principal."""
    # Decided over every region of the spec, not only the template's: each regional
    # template then has the StackSet template's shape (they are equal, region by region).
    by_account = [r.name for r in spec.regions if alb_log_delivery(r.name).kind == "account"]
    service = {"Service": ALB_LOG_DELIVERY_SERVICE}
    if not by_account:
        return service, {}
    account = {
        "AWS": Sub("arn:${AWS::Partition}:iam::${Account}:root", Account=ctx.elb_log_account())
    }
    if len(by_account) == len(spec.regions):
        return account, {}
    # By the region itself: an Fn::Equals of two literals (what a lookup becomes in a
    # regional template) is flagged by cfn-lint (W8003).
    condition = _region_is_one_of(by_account)
    return If(ELB_LOG_ACCOUNT_CONDITION, account, service), {ELB_LOG_ACCOUNT_CONDITION: condition}


def _region_is_one_of(names: list[str]):
    """A condition true in the regions `names`: Fn::Or takes 2 to 10 conditions, so
    longer lists nest."""
    conditions = [Equals(Ref("AWS::Region"), name) for name in names]
    while len(conditions) > 1:
        groups = [conditions[i : i + 10] for i in range(0, len(conditions), 10)]
        conditions = [group[0] if len(group) == 1 else Or(*group) for group in groups]
    return conditions[0]


def log_delivery_statements(load_balancer_writer, bucket_arn) -> list[dict]:
    """Who may write into the log bucket: the region's load balancer log delivery and the
    S3 logging service, each only under its prefix and for this account."""
    return [
        {
            "Sid": "LoadBalancerAccessLogs",
            "Effect": "Allow",
            "Principal": load_balancer_writer,
            "Action": "s3:PutObject",
            "Resource": Sub(
                f"${{Arn}}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*", Arn=bucket_arn
            ),
        },
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": Sub("${Arn}/s3/*", Arn=bucket_arn),
            "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
        },
    ]


LOGS_BUCKET_ID = "LogsBucket"
LOAD_BALANCER_LOG_PREFIX = "load-balancer"
PATCHING_LOG_PREFIX = "patching"


def _bucket_id(bucket: BucketSpec) -> str:
    return naming.logical_id(bucket.name, "bucket")


def build_storage(spec: InfraSpec, ctx: RegionContext, key: KeyHandle) -> Built[StorageHandle]:
    load_balancer_writer, conditions = load_balancer_log_writer(spec, ctx)
    logs_bucket, logs_policy = private_bucket(
        LOGS_BUCKET_ID,
        naming.bucket_name(spec, "logs"),
        S3_MANAGED_ENCRYPTION,
        30,
        "Access logs of the load balancer and the buckets, and patching output",
        extra_statements=log_delivery_statements(
            load_balancer_writer, GetAtt(LOGS_BUCKET_ID, "Arn")
        ),
        expire_days=spec.storage.access_log_retention_days,
    )
    skip_check(
        logs_bucket,
        "CKV_AWS_18",
        "This is the access-log bucket the other buckets log to: logging it into itself would "
        "log its own log deliveries without end, and another log bucket would need one too.",
    )
    resources: list = [logs_bucket, logs_policy]
    refs: list[BucketRef] = []
    outputs: list[Output] = []
    replicated = replicated_bucket_names(spec)
    for bucket_spec in spec.storage.buckets:
        replication = (
            {"replication": replication_configuration(spec, ctx, bucket_spec.name)}
            if bucket_spec.name in replicated
            else {}
        )
        bucket, policy = private_bucket(
            _bucket_id(bucket_spec),
            naming.bucket_name(spec, bucket_spec.name),
            kms_encryption(key),
            bucket_spec.noncurrent_version_expiry_days,
            f"Application bucket '{bucket_spec.name}'",
            logging=s3.LoggingConfiguration(
                DestinationBucketName=Ref(logs_bucket), LogFilePrefix=f"s3/{bucket_spec.name}/"
            ),
            **replication,
        )
        resources += [bucket, policy]
        refs.append(BucketRef(bucket_spec.name, Ref(bucket), GetAtt(bucket, "Arn")))
        outputs.append(
            Output(
                naming.logical_id(bucket_spec.name, "bucket", "name"),
                Description=f"Name of the '{bucket_spec.name}' bucket",
                Value=Ref(bucket),
            )
        )
    logs = BucketRef("logs", Ref(logs_bucket), GetAtt(logs_bucket, "Arn"))
    handle = StorageHandle(refs, logs, logs_policy.title, PATCHING_LOG_PREFIX)
    if not replicated:
        return Built(resources, handle, outputs, conditions=conditions)
    resources.append(replication_role(spec, ctx, key, replicated))
    return Built(
        resources,
        handle,
        outputs,
        parameters=[replication_parameter()],
        conditions={**conditions, **_writer_conditions(spec, ctx), **replication_conditions()},
    )


def _writer_conditions(spec: InfraSpec, ctx: RegionContext) -> dict:
    """Replication needs the writer condition only; the replica one is the database's, and
    left unused (database.replicas: false) cfn-lint flags it (W8001). Both are added when the
    database uses them, in the order the database's builder would, so templates do not move."""
    conditions = ctx.writer_conditions()
    if replicates_database(spec):
        return conditions
    return {WRITER_CONDITION: conditions[WRITER_CONDITION]}
