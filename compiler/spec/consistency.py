"""Checks that span sections of a valid spec, each reported at the exact value at fault.

Pydantic validators on the root model would report these with an empty location; here
each check names the spec path that a user has to edit.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator

from compiler.errors import SpecPath
from compiler.spec.access import TEMPLATE_BUCKET
from compiler.spec.audit import GLOBAL_LOG_BUCKET, TRAIL_BUCKET
from compiler.spec.regions import AWS_REGION_AZ_COUNTS
from compiler.spec.root import InfraSpec

Finding = tuple[SpecPath, str]

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
        available = AWS_REGION_AZ_COUNTS[region.name]
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
# is deployed in the primary region, where the spec's buckets are made too).
RESERVED_BUCKET_NAMES = {
    "logs": "the region's log bucket",
    TEMPLATE_BUCKET: "the global stack's template bucket",
    TRAIL_BUCKET: "the global stack's CloudTrail bucket",
    GLOBAL_LOG_BUCKET: "the global stack's access-log bucket",
}


def check_buckets(spec: InfraSpec) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    longest_region = max(len(region.name) for region in spec.regions)
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
    """The global stack's buckets, `<project>-<environment>-<name>-<account>-<primary region>`."""
    longest = max((TEMPLATE_BUCKET, GLOBAL_LOG_BUCKET, TRAIL_BUCKET), key=len)
    name = f"{spec.project}-{spec.environment}-{longest}-{'0' * 12}-{spec.primary_region}"
    if len(name) > S3_BUCKET_NAME_MAX:
        yield (
            ("project",),
            f"the global stack's bucket <project>-<environment>-{longest}-<account>-"
            f"{spec.primary_region} would be {len(name)} characters; S3 allows "
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
            ("patching", "max_concurrency"),
            f"'{concurrency}' patches (and may reboot) {at_once} of the compute.min_size "
            f"{compute.min_size} instances at once, leaving none serving; use at most "
            f"{compute.min_size - 1} or a percentage like 50%",
        )
    image = compute.image_parameter.rsplit("/", 1)[-1]
    for prefix, system in IMAGE_OPERATING_SYSTEMS.items():
        if image.startswith(prefix) and system != patching.operating_system:
            where = (
                ("patching", "operating_system")
                if "operating_system" in patching.model_fields_set
                else ("compute", "image_parameter")
            )
            yield (
                where,
                f"the image ({image}) runs {system} but the patch baseline is for "
                f"{patching.operating_system}; set `patching.operating_system: {system}`",
            )


def check_monitoring(spec: InfraSpec) -> Iterator[Finding]:
    """Thresholds that the rest of the spec would keep breached all the time."""
    instances = spec.monitoring.instances
    target = spec.compute.cpu_target_percent
    if instances.cpu_percent <= target:
        if "cpu_percent" in instances.model_fields_set:
            path: SpecPath = ("monitoring", "instances", "cpu_percent")
        else:  # the default was not written down: point at the scaling target instead
            path = ("compute", "cpu_target_percent")
        yield (
            path,
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


def check_database(spec: InfraSpec) -> Iterator[Finding]:
    """Replicas name the writer by its RDS identifier, `<project>-<environment>-db`
    (naming.database_identifier), which RDS refuses with two hyphens in a row. Its length
    cannot exceed RDS's 63: project and environment are at most 20 characters each."""
    if not (spec.database.replicas and len(spec.regions) > 1):
        return
    promoted = spec.database.promoted
    if promoted and promoted.source_region == spec.primary_region:
        yield (
            ("database", "promoted", "source_region"),
            f"{promoted.source_region} is regions[0], the writer's own region: after a "
            "failover the promoted region goes first and this names the region it replicated",
        )
    if promoted:
        return  # the writer keeps the identifier it was promoted with
    for field in ("project", "environment"):
        if "--" in getattr(spec, field):
            yield (
                (field,),
                f"'{getattr(spec, field)}' names the database identifier, where RDS refuses "
                "two hyphens in a row; use single hyphens (or set database.replicas: false)",
            )


CHECKS = (
    check_regions,
    check_certificates,
    check_dns,
    check_buckets,
    check_global_buckets,
    check_scheduled_tasks,
    check_patching,
    check_monitoring,
    check_database,
)


def find_inconsistencies(spec: InfraSpec) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(spec)]
