"""Hypothesis strategies for valid specs: every key the schema has, present or absent,
with values from the ranges it allows.

A few values are drawn from lists of real ones rather than from their pattern: the
schema accepts any `db.<family>.<size>` or PostgreSQL `1x.y`, but only existing instance
classes and engine versions lint clean (cfn-lint knows AWS's lists), and a spec naming
one that does not exist is a lint finding, not a spec this test promises to compile clean.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import string
import typing
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from compiler.spec.consistency import S3_RESERVED_PREFIXES
from compiler.spec.notifications import EmailAddress
from compiler.spec.patching import DEFAULT_SCHEDULE
from compiler.spec.regions import LARGEST_VPC_PREFIX, az_count, commercial_regions
from compiler.spec.types import LOG_RETENTION_DAYS
from compiler.spec.waf import BASELINE_RULE_GROUPS, COUNTRY_CODES, MANAGED_RULE_GROUPS
from compiler.spec.windows import (
    DATABASE_MAINTENANCE_WINDOW,
    overlap,
    patch_window_starts,
    rds_window_minutes,
)

EMAIL_PATTERN = typing.get_args(EmailAddress)[1].pattern

# The task source the example uses; property specs sit in a directory with a copy of tasks/.
TASK_SOURCE = "tasks/bucket_report.py"

REGIONS = list(commercial_regions())
# Types offered in every commercial region (cfn-lint's per-region lists): m5, c5 and r5
# are not offered in some regions opened since 2024 (mx-central-1, ap-southeast-5/7...).
INSTANCE_TYPES = ("t3.micro", "t3.small", "t3.medium", "t3.large")
DB_INSTANCE_CLASSES = ("db.t3.medium", "db.t3.large")
# the newest minor versions: cfn-lint flags older ones as deprecated (W3691)
ENGINE_VERSIONS = ("13.23", "14.18", "15.13", "16.9", "17.5", "17.6")
SSL_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
)
IMAGES = {
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64": "AMAZON_LINUX_2023",
    "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2": "AMAZON_LINUX_2",
}
CRON_SCHEDULES = (
    "cron(0 6 * * ? *)",
    "cron(15 2 ? * MON-FRI *)",
    "cron(0/30 * * * ? *)",
    "cron(0 3 L * ? *)",
    "cron(0 4 ? * 6L *)",
    "cron(10 1 ? * 3#2 *)",
    "cron(0 12 1,15 JAN-JUN ? 2026-2030)",
)
RATE_SCHEDULES = ("rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)")
PATCH_SCHEDULES = ("cron(0 3 ? * SUN *)", "cron(30 1 ? * SAT *)", "rate(7 days)", "rate(1 day)")
TIME_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
RUNTIMES = ("python3.11", "python3.12", "python3.13", "python3.14")
CLASSIFICATIONS = ("Bugfix", "Enhancement", "Recommended", "Newpackage")
SEVERITIES = ("Critical", "Important", "Medium", "Low")

# Tag characters the spec allows; values are generated without edge spaces, which the
# models strip (the test compares the tags in the templates with the generated ones).
_TAG_CHARS = string.ascii_letters + string.digits + "_ .:/=+@-"
_SLUG_CHARS = string.ascii_lowercase + string.digits + "-"


@functools.cache  # strategies are immutable; building them is what costs
def slugs(min_size: int = 2, max_size: int = 20) -> st.SearchStrategy[str]:
    """`^[a-z][a-z0-9-]*[a-z0-9]$`."""
    middle = st.text(_SLUG_CHARS, min_size=max(0, min_size - 2), max_size=max_size - 2)
    return st.builds(
        lambda first, mid, last: first + mid + last,
        st.sampled_from(string.ascii_lowercase),
        middle,
        st.sampled_from(string.ascii_lowercase + string.digits),
    )


def tag_texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # not starting with '=': the AWS CLI shorthand deploy.sh passes tags in refuses that
    return (
        st.text(_TAG_CHARS, min_size=min_size, max_size=max_size)
        .map(str.strip)
        .filter(lambda text: len(text) >= min_size and not text.startswith("="))
    )


SLUGS = slugs()
TAG_VALUES = tag_texts(1, 64)
# From the spec's own pattern (stricter than RFC 5322, see spec/notifications.py).
EMAIL_ADDRESSES = st.from_regex(EMAIL_PATTERN, fullmatch=True).filter(lambda a: len(a) <= 254)
DATABASE_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
USER_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
ENVIRONMENT_NAMES = st.from_regex(r"[A-Z][A-Z0-9_]{1,15}", fullmatch=True).filter(
    lambda name: (
        name not in ("TASK_BUCKETS", "TZ") and not name.startswith(("AWS_", "LAMBDA_", "_"))
    )
)
# IAM roles and users, with and without paths, and whole accounts.
PRINCIPALS = st.builds(
    lambda account, kind, path, name: (
        f"arn:aws:iam::{account}:" + ("root" if kind == "root" else f"{kind}/{path}{name}")
    ),
    st.from_regex(r"[0-9]{12}", fullmatch=True),
    st.sampled_from(["root", "role", "user"]),
    st.sampled_from(["", "teams/", "a/b-c/"]),
    st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,20}", fullmatch=True),
)
_SIXTEENS = [f"10.{b}.0.0/16" for b in range(256)] + [f"172.{b}.0.0/16" for b in range(16, 32)]


@st.composite
def region_cidrs(draw: st.DrawFn, count: int) -> list[str]:
    """`count` disjoint VPC blocks, /16 to the smallest the spec allows: each in a /16 of
    its own, at an aligned offset inside it."""
    chosen = draw(st.lists(st.sampled_from(_SIXTEENS), min_size=count, max_size=count, unique=True))
    cidrs = []
    for block in chosen:
        prefix = draw(st.integers(16, LARGEST_VPC_PREFIX))
        subnets = list(ipaddress.IPv4Network(block).subnets(new_prefix=prefix))
        cidrs.append(str(draw(st.sampled_from(subnets))))
    return cidrs


@st.composite
def management_cidrs(draw: st.DrawFn) -> str:
    """Any IPv4 block but 0.0.0.0/0 (which the spec refuses for SSH)."""
    prefix = draw(st.integers(1, 32))
    address = draw(st.integers(0, 2**32 - 1))
    return str(ipaddress.IPv4Network((address, prefix), strict=False))


def optional(draw: st.DrawFn, section: dict, key: str, strategy: st.SearchStrategy) -> None:
    """Set `section[key]` from `strategy`, or leave it out so that the default applies."""
    if draw(st.booleans()):
        section[key] = draw(strategy)


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec (as data to dump to YAML) that must validate, compile and lint clean."""
    routing = draw(st.sampled_from(["failover", "latency"]))
    region_count = 2 if routing == "failover" else draw(st.integers(2, 4))
    names = draw(
        st.lists(
            st.sampled_from(REGIONS), min_size=region_count, max_size=region_count, unique=True
        )
    )
    cidrs = draw(region_cidrs(region_count))
    # the global stack's longest bucket name, <project>-<environment>-global-logs-<account>-
    # <primary region>, must fit S3's 63 characters (the spec checks it)
    room = 63 - len("global-logs") - 12 - 4 - len(names[0])
    project = draw(slugs(2, min(20, room - 2)))
    environment = draw(slugs(2, min(20, room - len(project))))
    # S3 refuses bucket names with these starts (the spec checks it)
    assume(not f"{project}-{environment}-".startswith(S3_RESERVED_PREFIXES))
    # they name every database's RDS identifier, which refuses two hyphens in a row (the
    # spec checks it)
    assume("--" not in project and "--" not in environment)
    spec: dict[str, Any] = {
        "project": project,
        "environment": environment,
        "tags": {"Team": draw(TAG_VALUES), "CostCenter": draw(TAG_VALUES)},
        "regions": [{"name": n, "cidr": c} for n, c in zip(names, cidrs, strict=True)],
    }
    extra_tags = draw(
        st.dictionaries(
            st.sampled_from(["Owner", "Service", "Project", "Data:Class", "team/area"]),
            TAG_VALUES,
            max_size=3,
        )
    )
    spec["tags"].update(extra_tags)
    spec["dns"] = draw(dns_sections(routing))

    most_azs = min(6, *(az_count(n) for n in names))
    network: dict[str, Any] = {}
    azs = draw(st.integers(2, most_azs))
    if azs != 3 or draw(st.booleans()):  # 3 is the default
        network["availability_zones"] = azs
    optional(draw, network, "nat_gateways", st.sampled_from(["per_az", "single"]))
    optional(draw, network, "flow_logs_retention_days", st.sampled_from(LOG_RETENTION_DAYS))
    if network or draw(st.booleans()):
        spec["network"] = network

    compute, image = draw(compute_sections())
    if compute:
        spec["compute"] = compute
    min_size = compute.get("min_size", 2)
    cpu_target = compute.get("cpu_target_percent", 60)

    database = draw(database_sections())
    if database is not None:
        spec["database"] = database
    allocated = (database or {}).get("allocated_storage_gb", 50)

    longest_region = max(len(name) for name in names)
    buckets = draw(bucket_lists(len(project) + len(environment) + longest_region))
    if buckets is not None:
        spec["storage"] = {"buckets": buckets}
        optional(draw, spec["storage"], "access_log_retention_days", st.integers(1, 3650))

    load_balancer: dict[str, Any] = {}
    optional(
        draw, load_balancer, "health_check_path", st.sampled_from(["/", "/health", "/a/b-c_d.html"])
    )
    optional(draw, load_balancer, "ssl_policy", st.sampled_from(SSL_POLICIES))
    certified = draw(st.lists(st.sampled_from(names), unique=True))
    if certified:
        load_balancer["certificate_arns"] = {
            name: f"arn:aws:acm:{name}:123456789012:certificate/{draw(st.uuids())}"
            for name in certified
        }
    if load_balancer:
        spec["load_balancer"] = load_balancer

    waf = draw(waf_sections())
    if waf is not None:
        spec["waf"] = waf
    monitoring = draw(monitoring_sections(cpu_target, allocated))
    if monitoring is not None:
        spec["monitoring"] = monitoring
    patching = draw(patching_sections(min_size, IMAGES[image]))
    if patching is not None:
        spec["patching"] = patching
    emails = draw(st.lists(EMAIL_ADDRESSES, max_size=3, unique_by=str.lower))
    if emails or draw(st.booleans()):
        spec["notifications"] = {"emails": emails}
    principals = draw(st.lists(PRINCIPALS, min_size=1, max_size=3, unique=True))
    spec["access"] = {"admin_principals": principals}
    kinds = {arn.split(":", 5)[5].split("/")[0] for arn in principals}
    if "role" in kinds:  # a role's sessions carry no MFA flag: MFA cannot be required
        spec["access"]["require_mfa"] = False
    else:
        optional(draw, spec["access"], "require_mfa", st.booleans())
    if "root" in kinds:  # a whole account is trusted only on purpose
        spec["access"]["allow_account_root"] = True
    else:
        optional(draw, spec["access"], "allow_account_root", st.booleans())
    audit: dict[str, Any] = {}
    optional(draw, audit, "trail", st.booleans())
    optional(draw, audit, "log_retention_days", st.sampled_from(LOG_RETENTION_DAYS))
    if audit or draw(st.booleans()):
        spec["audit"] = audit
    tasks = draw(task_lists([b["name"] for b in buckets or []]))
    if tasks is not None:
        spec["scheduled_tasks"] = tasks
    return spec


def domain_names() -> st.SearchStrategy[str]:
    label = slugs(2, 12)
    return st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(label, min_size=1, max_size=2),
        st.sampled_from(["com", "net", "org", "io", "example"]),
    )


@st.composite
def dns_sections(draw: st.DrawFn, routing: str) -> dict[str, Any]:
    zone = draw(domain_names())
    record = zone if draw(st.booleans()) else f"{draw(slugs(2, 10))}.{zone}"
    dns: dict[str, Any] = {"zone_name": zone, "record_name": record}
    if routing == "latency" or draw(st.booleans()):  # failover is the default
        dns["routing"] = routing
    optional(
        draw,
        dns,
        "hosted_zone_id",
        st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=31).map("Z".__add__),
    )
    optional(draw, dns, "health_check_path", st.sampled_from(["/", "/health", "/status/ok"]))
    optional(draw, dns, "health_check_interval_seconds", st.sampled_from([10, 30]))
    optional(draw, dns, "failure_threshold", st.integers(1, 10))
    return dns


@st.composite
def compute_sections(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    compute: dict[str, Any] = {}
    if draw(st.booleans()):
        # fixed-size groups (min = max) included: they get no scaling policy
        low = draw(st.integers(1, 100))
        high = draw(st.integers(low, 100))
        compute.update(min_size=low, max_size=high, desired_capacity=draw(st.integers(low, high)))
    optional(draw, compute, "instance_type", st.sampled_from(INSTANCE_TYPES))
    optional(draw, compute, "image_parameter", st.sampled_from(sorted(IMAGES)))
    optional(draw, compute, "cpu_target_percent", st.integers(10, 90))
    optional(
        draw,
        compute,
        "app_port",
        st.one_of(st.sampled_from([80, 443, 8080]), st.integers(1, 65535)),
    )
    optional(draw, compute, "root_volume_gb", st.integers(8, 16384))
    optional(draw, compute, "ssh_cidrs", st.lists(management_cidrs(), max_size=3, unique=True))
    image = compute.get("image_parameter", sorted(IMAGES)[0])
    return compute, image


@st.composite
def database_sections(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    database: dict[str, Any] = {}
    optional(draw, database, "engine_version", st.sampled_from(ENGINE_VERSIONS))
    optional(draw, database, "instance_class", st.sampled_from(DB_INSTANCE_CLASSES))
    if draw(st.booleans()):
        allocated = draw(st.integers(20, 65536))
        database["allocated_storage_gb"] = allocated
        database["max_allocated_storage_gb"] = draw(st.integers(max(allocated, 200), 65536))
    optional(draw, database, "multi_az", st.booleans())
    optional(draw, database, "backup_retention_days", st.integers(7, 35))
    optional(draw, database, "database_name", DATABASE_NAMES)
    optional(draw, database, "master_username", USER_NAMES)
    return database


@st.composite
def bucket_lists(draw: st.DrawFn, other_length: int) -> list[dict[str, Any]] | None:
    """Unique bucket names whose S3 names fit 63 characters (the spec checks that)."""
    if draw(st.booleans()):
        return None
    # <project>-<environment>-<name>-<account>-<region>: 12 digits and four hyphens
    longest = min(20, 63 - other_length - 12 - 4)
    if longest < 2:
        return []
    names = draw(
        st.lists(slugs(2, longest).filter(lambda name: name != "logs"), max_size=4, unique=True)
    )
    buckets = []
    for name in names:
        bucket: dict[str, Any] = {"name": name}
        optional(draw, bucket, "noncurrent_version_expiry_days", st.integers(1, 3650))
        buckets.append(bucket)
    return buckets


@st.composite
def waf_sections(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    waf: dict[str, Any] = {}
    optional(
        draw,
        waf,
        "managed_rule_groups",
        # The baseline in any order, with any other groups added.
        st.lists(
            st.sampled_from(sorted(set(MANAGED_RULE_GROUPS) - set(BASELINE_RULE_GROUPS))),
            unique=True,
        ).flatmap(lambda added: st.permutations([*BASELINE_RULE_GROUPS, *added])),
    )
    optional(draw, waf, "rate_limit_per_5_minutes", st.integers(10, 2_000_000_000))
    optional(
        draw,
        waf,
        "blocked_countries",
        st.lists(st.sampled_from(sorted(COUNTRY_CODES)), max_size=6, unique=True),
    )
    optional(draw, waf, "log_retention_days", st.sampled_from(LOG_RETENTION_DAYS))
    return waf


@st.composite
def monitoring_sections(
    draw: st.DrawFn, cpu_target: int, allocated_gb: int
) -> dict[str, Any] | None:
    """Thresholds in range; the instance CPU alarm above the scaling target (the default
    80 is drawn again when the target is not below it), free storage below the allocation."""
    needs_cpu = cpu_target >= 80
    if not needs_cpu and draw(st.booleans()):
        return None
    monitoring: dict[str, Any] = {}
    period = draw(st.sampled_from([60, 300, 900, 3600]))
    if draw(st.booleans()):
        monitoring["period_seconds"] = period
    else:
        period = 60
    limit = 86_400 if period < 3600 else 604_800
    optional(draw, monitoring, "evaluation_periods", st.integers(1, min(1440, limit // period)))
    instances: dict[str, Any] = {}
    if needs_cpu or draw(st.booleans()):
        instances["cpu_percent"] = draw(st.integers(cpu_target + 1, 100))
    optional(draw, instances, "memory_percent", st.integers(1, 100))
    optional(draw, instances, "disk_percent", st.integers(1, 100))
    if instances:
        monitoring["instances"] = instances
    database: dict[str, Any] = {}
    optional(draw, database, "cpu_percent", st.integers(1, 100))
    optional(draw, database, "connections", st.integers(1, 100_000))
    optional(draw, database, "read_iops", st.integers(1, 256_000))
    optional(draw, database, "write_iops", st.integers(1, 256_000))
    optional(draw, database, "free_storage_gb", st.integers(1, allocated_gb - 1))
    if database:
        monitoring["database"] = database
    load_balancer: dict[str, Any] = {}
    optional(draw, load_balancer, "elb_5xx_count", st.integers(1, 1_000_000))
    optional(draw, load_balancer, "target_5xx_count", st.integers(1, 1_000_000))
    optional(
        draw,
        load_balancer,
        "response_time_p95_seconds",
        st.floats(0.001, 60, allow_nan=False).map(lambda x: round(x, 3)).filter(lambda x: x > 0),
    )
    optional(draw, load_balancer, "unhealthy_hosts", st.integers(1, 100))
    if load_balancer:
        monitoring["load_balancer"] = load_balancer
    nat: dict[str, Any] = {}
    optional(draw, nat, "dropped_packets", st.integers(1, 1_000_000_000))
    optional(draw, nat, "port_allocation_errors", st.integers(1, 1_000_000))
    if nat:
        monitoring["nat_gateways"] = nat
    if draw(st.booleans()):
        monitoring["flow_logs"] = {"rejected_flows": draw(st.integers(1, 10_000_000))}
    return monitoring


@st.composite
def patching_sections(
    draw: st.DrawFn, min_size: int, operating_system: str
) -> dict[str, Any] | None:
    """A baseline for the image's OS, and a concurrency that leaves an instance serving."""
    if operating_system == "AMAZON_LINUX_2023" and draw(st.booleans()):
        return None  # the default baseline fits the default image
    patching: dict[str, Any] = {"operating_system": operating_system}
    optional(draw, patching, "approve_after_days", st.integers(0, 360))
    optional(
        draw,
        patching,
        "classifications",
        st.lists(st.sampled_from(CLASSIFICATIONS), unique=True).map(lambda c: ["Security", *c]),
    )
    optional(
        draw, patching, "severities", st.lists(st.sampled_from(SEVERITIES), min_size=1, unique=True)
    )
    optional(draw, patching, "schedule", st.sampled_from(PATCH_SCHEDULES))
    optional(draw, patching, "schedule_timezone", st.sampled_from(TIME_ZONES))
    duration = draw(st.one_of(st.none(), st.integers(1, 24)))
    if duration is not None:
        patching["duration_hours"] = duration
    window = duration or 3  # the default duration
    # The window stays clear of the database's maintenance window (spec/windows.py).
    assume(
        not any(
            overlap(start, window * 60, rds_window_minutes(DATABASE_MAINTENANCE_WINDOW))
            for start in patch_window_starts(
                patching.get("schedule", DEFAULT_SCHEDULE), patching.get("schedule_timezone")
            )
        )
    )
    if window == 1 or draw(st.booleans()):  # the default cutoff, 1, needs a longer window
        patching["cutoff_hours"] = draw(st.integers(0, min(23, window - 1)))
    if min_size == 1:
        concurrency = draw(st.sampled_from(["1", "50%", "100%"]))
    elif draw(st.booleans()):
        concurrency = str(draw(st.integers(1, min_size - 1)))
    else:
        largest = max(p for p in range(1, 101) if math.ceil(min_size * p / 100) < min_size)
        concurrency = f"{draw(st.integers(1, largest))}%"
    patching["max_concurrency"] = concurrency
    optional(
        draw,
        patching,
        "max_errors",
        st.one_of(st.integers(0, 50).map(str), st.integers(0, 100).map(lambda p: f"{p}%")),
    )
    return patching


@st.composite
def task_lists(draw: st.DrawFn, bucket_names: list[str]) -> list[dict[str, Any]] | None:
    if draw(st.booleans()):
        return None
    names = draw(st.lists(slugs(2, 20), max_size=3, unique=True))
    tasks = []
    for name in names:
        task: dict[str, Any] = {
            "name": name,
            "schedule": draw(st.sampled_from(CRON_SCHEDULES + RATE_SCHEDULES)),
            "source": TASK_SOURCE,
        }
        optional(draw, task, "description", st.text(_TAG_CHARS, max_size=60).map(str.strip))
        optional(draw, task, "runtime", st.sampled_from(RUNTIMES))
        optional(draw, task, "timeout_seconds", st.integers(1, 900))
        optional(draw, task, "memory_mb", st.integers(128, 10240))
        if bucket_names:
            optional(draw, task, "buckets", st.lists(st.sampled_from(bucket_names), unique=True))
        optional(
            draw,
            task,
            "environment",
            st.dictionaries(
                ENVIRONMENT_NAMES,
                st.text(_TAG_CHARS, max_size=40),
                max_size=3,
            ),
        )
        optional(draw, task, "reserved_concurrency", st.integers(1, 1000))
        optional(draw, task, "log_retention_days", st.sampled_from(LOG_RETENTION_DAYS))
        tasks.append(task)
    return tasks
