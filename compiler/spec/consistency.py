"""Checks that span sections of a valid spec, each reported at the exact value at fault.

Pydantic validators on the root model would report these with an empty location; here
each check names the spec path that a user has to edit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from compiler.errors import SpecPath
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
            yield (
                ("network", "availability_zones"),
                f"{spec.network.availability_zones} AZs asked for, but {region.name} "
                f"(regions[{index}]) offers {available}",
            )


def check_certificates(spec: InfraSpec) -> Iterator[Finding]:
    arns = spec.load_balancer.certificate_arns
    region_names = [region.name for region in spec.regions]
    for index, name in enumerate(region_names):
        if name not in arns:
            yield (
                ("regions", index, "name"),
                f"no HTTPS certificate for {name}: add `load_balancer.certificate_arns."
                f"{name}` with an ACM certificate ARN from that region",
            )
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


# Bucket names the compiler itself uses in every region.
RESERVED_BUCKET_NAMES = ("logs",)


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
            yield path, f"'{bucket.name}' is the name of the region's log bucket; choose another"
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


CHECKS = (check_regions, check_certificates, check_buckets)


def find_inconsistencies(spec: InfraSpec) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(spec)]
