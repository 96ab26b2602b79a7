"""Checks that span sections, each reported at the exact value at fault.

Pydantic validators on the root model would report these with an empty location, and
only once every section is valid; here each check names the spec path that a user has
to edit, and runs as soon as the sections it reads are valid, so one run reports the
mistakes of every section (see `SpecSections`).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from compiler.errors import SpecPath
from compiler.naming import logical_id_collisions
from compiler.spec import offerings
from compiler.spec.access import BOOTSTRAP_BUCKET, TEMPLATE_BUCKET, principal_kind
from compiler.spec.audit import GLOBAL_LOG_BUCKET, TRAIL_BUCKET
from compiler.spec.monitoring import ONE_DAY_SECONDS, SEVEN_DAYS_SECONDS
from compiler.spec.regions import ENABLED_BY_DEFAULT, az_count
from compiler.spec.root import InfraSpec, global_stack_region
from compiler.spec.stackset import check_stackset
from compiler.spec.windows import (
    DATABASE_MAINTENANCE_WINDOW,
    overlap,
    patch_window_starts,
    rds_window_minutes,
)


class Blame(tuple):
    """Keys any of which could change to fix a finding, most likely first. The finding is
    reported at the first one the user wrote (in an environment: the first its overlay
    wrote), so it points where the mistake was made rather than at a default or the base."""

    def __new__(cls, *paths: SpecPath) -> Blame:
        return super().__new__(cls, paths)


Finding = tuple[SpecPath | Blame, str]


class SectionInvalid(Exception):
    """A check read a section that did not validate: it cannot judge, so it says nothing."""


class SpecSections:
    """The sections of a spec that validated, read like an `InfraSpec`. Reading one that
    did not raises `SectionInvalid`, which ends that check only: the others still run."""

    def __init__(self, sections: dict[str, Any], region_names: list[tuple[int, str]]):
        self._sections = sections
        self.region_names = region_names

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in InfraSpec.model_fields:
            raise AttributeError(name)
        try:
            return self._sections[name]
        except KeyError:
            raise SectionInvalid(name) from None


# S3 bucket names are at most 63 characters; ours add the 12-digit account ID, the region
# and four hyphens to the project, environment and bucket names.
S3_BUCKET_NAME_MAX = 63


def check_regions(spec: InfraSpec) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    networks: list[tuple[int, ipaddress.IPv4Network]] = []
    for index, region in enumerate(spec.regions):
        if region.name in seen:
            yield (
                ("regions", index, "name"),
                f"region '{region.name}' is listed twice (also at regions[{seen[region.name]}])",
            )
        seen.setdefault(region.name, index)
        network = ipaddress.IPv4Network(region.cidr)
        for other_index, other in networks:
            if network.overlaps(other):
                yield (
                    ("regions", index, "cidr"),
                    f"{region.cidr} overlaps {other} of regions[{other_index}] "
                    f"({spec.regions[other_index].name}); region CIDRs must be disjoint so "
                    "the VPCs can be peered or reached over one network",
                )
        networks.append((index, network))
        available = az_count(region.name)
        if spec.network.availability_zones > available:
            if "availability_zones" in spec.network.model_fields_set:
                yield (
                    ("network", "availability_zones"),
                    f"{spec.network.availability_zones} AZs asked for, but {region.name} "
                    f"(regions[{index}]) offers {available}",
                )
            else:  # the default was not written down: point at the region instead
                yield (
                    ("regions", index, "name"),
                    f"{region.name} offers {available} AZs, fewer than the default "
                    f"{spec.network.availability_zones}; set `network.availability_zones: "
                    f"{available}`",
                )


def check_global_region(spec: InfraSpec) -> Iterator[Finding]:
    """The global stack goes to one of the spec's regions: the deploy roles act only there."""
    names = [region.name for region in spec.regions]
    if spec.global_region is not None and spec.global_region not in names:
        yield (
            ("global_region",),
            f"'{spec.global_region}' is not one of the spec's regions "
            f"({', '.join(dict.fromkeys(names))}); the global stack and the StackSet are "
            "deployed in one of them",
        )


def check_certificates(spec: InfraSpec) -> Iterator[Finding]:
    """Given ARNs are for the spec's regions; a region without one gets a created certificate."""
    arns = spec.load_balancer.certificate_arns
    region_names = [region.name for region in spec.regions]
    for name, arn in arns.items():
        path = ("load_balancer", "certificate_arns", name)
        if name not in region_names:
            listed = ", ".join(dict.fromkeys(region_names))
            yield path, f"'{name}' is not one of the spec's regions ({listed})"
        elif arn.split(":")[3] != name:
            yield (
                path,
                (
                    f"this certificate is in {arn.split(':')[3]}, but ACM certificates "
                    f"only work in their own region; use one issued in {name}"
                ),
            )


def check_dns(spec: InfraSpec) -> Iterator[Finding]:
    """Failover routing has one primary and one secondary record: exactly two regions."""
    if spec.dns.routing != "failover" or len(spec.regions) <= 2:
        return
    count = len(spec.regions)
    if "routing" in spec.dns.model_fields_set:
        yield (
            ("dns", "routing"),
            f"failover routing serves exactly two regions (a primary and a secondary), but "
            f"the spec has {count}; use `routing: latency` to serve all {count}",
        )
    else:  # the default was not written down: point at the first region too many
        yield (
            ("regions", 2, "name"),
            f"dns.routing defaults to failover, which serves exactly two regions, but the "
            f"spec has {count}; set `dns.routing: latency` to serve all {count}",
        )


# Bucket names the compiler itself uses: in every region, and in the global stack (which
# is deployed in one of the spec's regions, where the spec's buckets are made too).
RESERVED_BUCKET_NAMES = {
    "logs": "the region's log bucket",
    TEMPLATE_BUCKET: "the global stack's template bucket",
    BOOTSTRAP_BUCKET: "the template bucket deploy.sh bootstraps in each region",
    TRAIL_BUCKET: "the global stack's CloudTrail bucket",
    GLOBAL_LOG_BUCKET: "the global stack's access-log bucket",
}


def check_buckets(spec: InfraSpec) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for index, bucket in enumerate(spec.storage.buckets):
        path = ("storage", "buckets", index, "name")
        if bucket.name in seen:
            yield (
                path,
                f"bucket name '{bucket.name}' is already used by storage.buckets[{seen[bucket.name]}]",
            )
        seen.setdefault(bucket.name, index)
        if bucket.name in RESERVED_BUCKET_NAMES:
            yield (
                path,
                f"'{bucket.name}' is the name of {RESERVED_BUCKET_NAMES[bucket.name]}; choose another",
            )


def check_bucket_lengths(spec: InfraSpec) -> Iterator[Finding]:
    longest_region = max(len(region.name) for region in spec.regions)
    for index, bucket in enumerate(spec.storage.buckets):
        path = ("storage", "buckets", index, "name")
        length = (
            len(spec.project) + len(spec.environment) + len(bucket.name) + 12 + longest_region + 4
        )
        if length > S3_BUCKET_NAME_MAX:
            yield (
                path,
                (
                    f"the S3 name <project>-<environment>-{bucket.name}-<account>-<region> "
                    f"would be {length} characters; S3 allows {S3_BUCKET_NAME_MAX}. "
                    "Shorten the bucket, project or environment name"
                ),
            )


def check_global_buckets(spec: InfraSpec) -> Iterator[Finding]:
    """The global stack's buckets, `<project>-<environment>-<name>-<account>-<its region>`.

    This also bounds deploy.sh's bootstrap bucket in every region,
    `<project>-<environment>-deploy-<account>-<region>`: no region name is more than five
    characters longer than another (9 to 14), and `deploy` is five shorter than `global-logs`."""
    longest = max((TEMPLATE_BUCKET, GLOBAL_LOG_BUCKET, TRAIL_BUCKET), key=len)
    region = global_stack_region(spec.global_region, [r.name for r in spec.regions])
    name = f"{spec.project}-{spec.environment}-{longest}-{'0' * 12}-{region}"
    if len(name) > S3_BUCKET_NAME_MAX:
        yield (
            ("project",),
            f"the global stack's bucket <project>-<environment>-{longest}-<account>-"
            f"{region} would be {len(name)} characters; S3 allows "
            f"{S3_BUCKET_NAME_MAX}. Shorten the project or environment name",
        )


def check_scheduled_tasks(spec: InfraSpec) -> Iterator[Finding]:
    """Task names are unique, and a task reads only buckets that the spec creates."""
    seen: dict[str, int] = {}
    known = [bucket.name for bucket in spec.storage.buckets]
    for index, task in enumerate(spec.scheduled_tasks):
        if task.name in seen:
            yield (
                ("scheduled_tasks", index, "name"),
                f"task name '{task.name}' is already used by scheduled_tasks[{seen[task.name]}]",
            )
        seen.setdefault(task.name, index)
        for bucket_index, bucket in enumerate(task.buckets):
            if bucket not in known:
                listed = ", ".join(known) if known else "none are defined"
                yield (
                    ("scheduled_tasks", index, "buckets", bucket_index),
                    f"'{bucket}' is not one of storage.buckets ({listed}); a task may read "
                    "only the spec's own buckets",
                )


# Amazon Linux public image parameters (compute.image_parameter) by name prefix.
IMAGE_OPERATING_SYSTEMS = {"al2023-": "AMAZON_LINUX_2023", "amzn2-": "AMAZON_LINUX_2"}


def check_compute_sizes(spec: InfraSpec) -> Iterator[Finding]:
    compute = spec.compute
    if compute.min_size <= compute.desired_capacity <= compute.max_size:
        return
    # of the two out of order, desired_capacity is the likelier slip
    other = "min_size" if compute.desired_capacity < compute.min_size else "max_size"
    yield (
        Blame(("compute", "desired_capacity"), ("compute", other)),
        f"sizes must satisfy min_size <= desired_capacity <= max_size; got "
        f"{compute.min_size} <= {compute.desired_capacity} <= {compute.max_size}",
    )


def check_database_storage(spec: InfraSpec) -> Iterator[Finding]:
    database = spec.database
    if database.max_allocated_storage_gb < database.allocated_storage_gb:
        yield (
            Blame(("database", "max_allocated_storage_gb"), ("database", "allocated_storage_gb")),
            f"max_allocated_storage_gb ({database.max_allocated_storage_gb}) must be at least "
            f"allocated_storage_gb ({database.allocated_storage_gb})",
        )


def check_alarm_window(spec: InfraSpec) -> Iterator[Finding]:
    """CloudWatch evaluates at most a day of periods shorter than an hour, else 7 days."""
    monitoring = spec.monitoring
    window = monitoring.period_seconds * monitoring.evaluation_periods
    limit = ONE_DAY_SECONDS if monitoring.period_seconds < 3600 else SEVEN_DAYS_SECONDS
    if window > limit:
        yield (
            Blame(("monitoring", "evaluation_periods"), ("monitoring", "period_seconds")),
            f"evaluation_periods x period_seconds is {window} seconds; CloudWatch allows "
            f"{limit} with {monitoring.period_seconds}-second periods: use at most "
            f"{limit // monitoring.period_seconds} evaluation periods",
        )


def check_patching(spec: InfraSpec) -> Iterator[Finding]:
    """Patching keeps instances serving, and its baseline is for the image's OS."""
    patching, compute = spec.patching, spec.compute
    concurrency = patching.max_concurrency
    # A percentage is taken as rounded up to whole instances, the worst case.
    at_once = (
        math.ceil(compute.min_size * int(concurrency[:-1]) / 100)
        if concurrency.endswith("%")
        else int(concurrency)
    )
    if compute.min_size > 1 and at_once >= compute.min_size:  # one instance: no way around it
        yield (
            Blame(("patching", "max_concurrency"), ("compute", "min_size")),
            f"'{concurrency}' patches (and may reboot) {at_once} of the compute.min_size "
            f"{compute.min_size} instances at once, leaving none serving; use at most "
            f"{compute.min_size - 1} or a percentage like 50%",
        )
    image = compute.image_parameter.rsplit("/", 1)[-1]
    for prefix, system in IMAGE_OPERATING_SYSTEMS.items():
        if image.startswith(prefix) and system != patching.operating_system:
            yield (
                Blame(("patching", "operating_system"), ("compute", "image_parameter")),
                f"the image ({image}) runs {system} but the patch baseline is for "
                f"{patching.operating_system}; set `patching.operating_system: {system}`",
            )


def check_patch_window(spec: InfraSpec) -> Iterator[Finding]:
    """The patch window never overlaps the database's maintenance window (see windows)."""
    patching = spec.patching
    database = rds_window_minutes(DATABASE_MAINTENANCE_WINDOW)
    hours = patching.duration_hours
    if any(
        overlap(start, hours * 60, database)
        for start in patch_window_starts(patching.schedule, patching.schedule_timezone)
    ):
        zone = patching.schedule_timezone or "UTC"
        yield (
            Blame(("patching", "schedule"), ("patching", "duration_hours"),
                  ("patching", "schedule_timezone")),
            f"the patch window ({patching.schedule} in {zone}, {hours} hours) overlaps the "
            f"database's maintenance window ({DATABASE_MAINTENANCE_WINDOW} UTC): instances "
            "would reboot while RDS may restart the database; move or shorten the window",
        )  # fmt: skip


def check_monitoring(spec: InfraSpec) -> Iterator[Finding]:
    """Thresholds that the rest of the spec would keep breached all the time."""
    instances = spec.monitoring.instances
    target = spec.compute.cpu_target_percent
    if instances.cpu_percent <= target:
        yield (
            Blame(("monitoring", "instances", "cpu_percent"), ("compute", "cpu_target_percent")),
            f"the CPU alarm threshold ({instances.cpu_percent}%) must be above the scaling "
            f"target compute.cpu_target_percent ({target}%), or the group would be in alarm "
            "whenever it works as intended",
        )
    database = spec.monitoring.database
    if database.free_storage_gb >= spec.database.allocated_storage_gb:
        yield (
            ("monitoring", "database", "free_storage_gb"),
            f"{database.free_storage_gb} GB free is not less than the "
            f"{spec.database.allocated_storage_gb} GB of database.allocated_storage_gb: "
            "the alarm would fire from the start",
        )


# S3 refuses bucket names that start with these (they name AWS's own endpoints and
# examples). Every bucket of ours is <project>-<environment>-<name>-<account>-<region>, so
# only the start can hit one; the end is always a region, never a reserved suffix.
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def check_bucket_prefixes(spec: InfraSpec) -> Iterator[Finding]:
    starts = [(name, None) for name in RESERVED_BUCKET_NAMES] + [
        (bucket.name, index) for index, bucket in enumerate(spec.storage.buckets)
    ]
    reported: set[SpecPath] = set()
    for short, index in starts:
        name = f"{spec.project}-{spec.environment}-{short}-"
        for prefix in S3_RESERVED_PREFIXES:
            if not name.startswith(prefix):
                continue
            if f"{spec.project}-".startswith(prefix):
                path: SpecPath = ("project",)
            elif f"{spec.project}-{spec.environment}-".startswith(prefix):
                path = ("environment",)
            elif index is not None:
                path = ("storage", "buckets", index, "name")
            else:  # a bucket name of ours completes the prefix: the environment must change
                path = ("environment",)
            if path not in reported:
                reported.add(path)
                yield (
                    path,
                    f"S3 bucket names may not start with '{prefix}', and the bucket "
                    f"{name}<account>-<region> would; choose another name",
                )


def check_instance_types(spec: InfraSpec) -> Iterator[Finding]:
    """The instance type exists in every region of the spec (cfn-lint's E3628 data)."""
    wanted = spec.compute.instance_type
    lacking = _lacking(spec, wanted, offerings.instance_types)
    if lacking:
        yield (
            Blame(("compute", "instance_type"), *_region_paths(lacking)),
            _not_offered("EC2 instance type", wanted, lacking),
        )


def check_database_offerings(spec: InfraSpec) -> Iterator[Finding]:
    """The engine version can create an instance, and the class runs it in every region
    (cfn-lint's E3691, W3691, E3025 and E3062 data)."""
    database = spec.database
    version, wanted = database.engine_version, database.instance_class
    versions = offerings.engine_versions()
    if versions is not None and version not in versions:
        newest = _newest_minor(version, versions)
        if offerings.is_deprecated(version):
            hint = f"; use {newest}" if newest else ""
            message = f"PostgreSQL {version} is deprecated: RDS no longer creates instances with it"
        else:
            hint = f"; the newest {version.split('.')[0]} is {newest}" if newest else ""
            message = f"RDS offers no PostgreSQL {version}"
        yield ("database", "engine_version"), message + hint
        return  # the classes that run a version RDS does not offer are moot
    lacking = _lacking(spec, wanted, offerings.db_instance_classes)
    if lacking:
        yield (
            Blame(("database", "instance_class"), *_region_paths(lacking)),
            _not_offered("RDS PostgreSQL instance class", wanted, lacking),
        )
        return
    runs = offerings.classes_for_version(version)
    if runs is not None and wanted not in runs:
        hint = offerings.did_you_mean(wanted, runs)
        yield (
            Blame(("database", "instance_class"), ("database", "engine_version")),
            f"'{wanted}' cannot run PostgreSQL {version}{hint}",
        )


Lacking = list[tuple[int, str, frozenset[str]]]


def _lacking(
    spec: InfraSpec, wanted: str, offered: Callable[[str], frozenset[str] | None]
) -> Lacking:
    """The regions (index, name, what they offer) that do not offer `wanted`."""
    lacking = []
    for index, name in region_names(spec):
        choices = offered(name)
        if choices is not None and wanted not in choices:
            lacking.append((index, name, choices))
    return lacking


def region_names(spec: InfraSpec | SpecSections) -> list[tuple[int, str]]:
    """(index, name) of each region; of a spec whose regions are not all valid, of those
    whose name is, so that what depends only on the name is still checked."""
    if isinstance(spec, SpecSections):
        return spec.region_names
    return [(index, region.name) for index, region in enumerate(spec.regions)]


def _region_paths(lacking: Lacking) -> list[SpecPath]:
    return [("regions", index, "name") for index, _, _ in lacking]


def _not_offered(what: str, wanted: str, lacking: Lacking) -> str:
    where = ", ".join(f"{name} (regions[{index}])" for index, name, _ in lacking)
    hint = offerings.did_you_mean(wanted, lacking[0][2])
    return f"{what} '{wanted}' is not offered in {where}{hint}"


def _newest_minor(version: str, versions: Iterable[str]) -> str | None:
    major = version.split(".")[0]
    minors = [v for v in versions if v.startswith(f"{major}.") and v.split(".")[1].isdigit()]
    return max(minors, key=lambda v: int(v.split(".")[1]), default=None)


def check_logical_ids(spec: InfraSpec) -> Iterator[Finding]:
    """Names that differ only in what a logical ID drops (`a-1b`, `a1b`) would make one
    resource ID for two resources: reported at both names."""
    named = (
        (("storage", "buckets"), [bucket.name for bucket in spec.storage.buckets], "bucket"),
        (("scheduled_tasks",), [task.name for task in spec.scheduled_tasks], "task"),
    )
    for section, names, suffix in named:
        for index, other, made in logical_id_collisions(names, suffix):
            for here, there in ((index, other), (other, index)):
                yield (
                    (*section, here, "name"),
                    f"'{names[here]}' and {'.'.join(section)}[{there}].name '{names[there]}' "
                    f"make the same CloudFormation logical ID ({made}); rename one",
                )


def check_access(spec: InfraSpec) -> Iterator[Finding]:
    """Principals that could assume the management role in practice, and only on purpose."""
    access = spec.access
    for index, arn in enumerate(access.admin_principals):
        path = ("access", "admin_principals", index)
        kind = principal_kind(arn)
        if kind == "role" and access.require_mfa:
            yield (
                path,
                f"'{arn}' is a role, and AWS sets no aws:MultiFactorAuthPresent on a role's "
                "sessions (role chaining, IAM Identity Center, SAML), so with "
                "access.require_mfa: true nobody could assume the management role. List IAM "
                "users instead (a user's MFA sign-in sets the flag), or set "
                "`access.require_mfa: false` and require MFA where the role's sessions begin "
                "(the Identity Center or identity provider sign-in, or an MFA condition in "
                "the trust policy of the role named here)",
            )
        if kind == "root" and not access.allow_account_root:
            yield (
                path,
                f"'{arn}' trusts the whole account: every user and role in it whose own "
                "policies allow sts:AssumeRole could assume the management role. Name the "
                "roles or users instead, or set `access.allow_account_root: true` to accept "
                "that",
            )


def check_database(spec: InfraSpec) -> Iterator[Finding]:
    """Every database has a fixed RDS identifier made from `<project>-<environment>`
    (naming.database_identifier, naming.replica_database_identifier), which RDS refuses
    with two hyphens in a row. Its length cannot exceed RDS's 63: project and environment
    are at most 20 characters each (53 with a replica's suffix)."""
    for field in ("project", "environment"):
        if "--" in getattr(spec, field):
            yield (
                (field,),
                f"'{getattr(spec, field)}' names the database identifier, where RDS refuses "
                "two hyphens in a row; use single hyphens",
            )
    if not (spec.database.replicas and len(spec.regions) > 1):
        return
    promoted = spec.database.promoted
    if promoted and promoted.source_region == spec.regions[0].name:
        yield (
            ("database", "promoted", "source_region"),
            f"{promoted.source_region} is regions[0], the writer's own region: after a "
            "failover the promoted region goes first and this names the region it replicated",
        )


def check_health_alarm_delivery(spec: InfraSpec) -> Iterator[Finding]:
    """The health alarms of regions other than us-east-1 reach Slack through a notifier in
    one of the regions; SNS in us-east-1 delivers to no Lambda function in an opt-in one."""
    slack = spec.notifications.slack
    names = {region.name for region in spec.regions}
    if (
        slack is not None
        and slack.delivery == "webhook"
        and "us-east-1" not in names  # else the alarms go to us-east-1's own stack's topic
        and not names & ENABLED_BY_DEFAULT
    ):
        yield (
            ("notifications", "slack", "webhook_secret"),
            "every region of the spec is an opt-in region, and SNS in us-east-1 (where "
            "Route 53's health-check alarms must live) delivers to no Lambda function in an "
            "opt-in region: add a region enabled by default, or use "
            "`notifications.slack.workspace_id` (AWS Chatbot)",
        )


CHECKS = (
    check_regions,
    check_global_region,
    check_certificates,
    check_dns,
    check_buckets,
    check_bucket_lengths,
    check_global_buckets,
    check_bucket_prefixes,
    check_scheduled_tasks,
    check_logical_ids,
    check_compute_sizes,
    check_database_storage,
    check_alarm_window,
    check_patching,
    check_monitoring,
    check_patch_window,
    check_access,
    check_instance_types,
    check_database_offerings,
    check_database,
    check_stackset,
    check_health_alarm_delivery,
)


def find_inconsistencies(spec: InfraSpec | SpecSections) -> list[Finding]:
    """Every finding of every check; with `SpecSections`, the checks whose sections all
    validated (a check stops at the first section it reads that did not)."""
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            for finding in check(spec):  # type: ignore[arg-type]
                findings.append(finding)
        except SectionInvalid:
            continue
    return findings
