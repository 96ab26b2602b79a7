"""Region context: the one object through which builders receive region-specific values.

A per-region template is built with `RegionContext.literal(...)`: values are plain
strings. The StackSet template is built with `RegionContext.mapped(...)`: the same
values become `Fn::FindInMap` on a `Mappings` table keyed by `AWS::Region`, so one
template serves every region of the spec and the builders do not know the difference.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

from compiler.naming import REGION_MAP
from compiler.spec import InfraSpec
from compiler.spec.regions import ENABLED_BY_DEFAULT, SUBNET_PREFIX_EXTRA_BITS, alb_log_delivery

if TYPE_CHECKING:
    from troposphere import AWSHelperFn

# troposphere is imported where a template value is made: `infra validate` reads this
# module's spec questions (`replicates_database`, via data_hazards) and builds nothing.

Tier = Literal["public", "private", "database"]
TIERS: tuple[Tier, ...] = ("public", "private", "database")

# Route 53 failover record roles, by region order (the spec allows two regions).
FAILOVER_ROLES = ("PRIMARY", "SECONDARY")

# IAM is a global service: EventBridge receives its CloudTrail events in this region only.
IAM_EVENTS_REGION = "us-east-1"
# Route 53 publishes its health-check metrics in this region only.
ROUTE53_METRICS_REGION = "us-east-1"

# The first region of the spec holds the writer database and the source buckets; the
# others hold read replicas and replicated buckets. Builders test it with these template
# conditions (see `RegionContext.writer_conditions`), in both kinds of template.
WRITER_CONDITION = "IsWriterRegion"
REPLICA_CONDITION = "IsReplicaRegion"
DATABASE_ROLES = ("writer", "replica")

# The VPC is cut in quarters, one per tier (the fourth is left for growth); each quarter
# is cut in eight subnets, of which one per AZ is used.
_TIER_BITS = 2


def subnet_cidr_key(tier: Tier, az_index: int) -> str:
    return f"{tier.capitalize()}Subnet{az_index + 1}Cidr"


def replicates_database(spec: InfraSpec) -> bool:
    return spec.database.replicas and len(spec.regions) > 1


def replicated_bucket_names(spec: InfraSpec) -> list[str]:
    """The spec's buckets that the first region replicates to every other region."""
    if len(spec.regions) < 2:
        return []
    return [bucket.name for bucket in spec.storage.buckets if bucket.replicate]


def replica_regions(spec: InfraSpec) -> list[str]:
    """Every region but the first: replica databases and replicated buckets live there."""
    return [region.name for region in spec.regions[1:]]


def replica_region_key(index: int) -> str:
    return f"ReplicaRegion{index + 1}"


def health_alarm_regions(spec: InfraSpec) -> list[str]:
    """The regions whose health check the us-east-1 health-alarm stack alarms
    (builders/health_alarms.py): every one but us-east-1's, which its own stack alarms."""
    return [region.name for region in spec.regions if region.name != ROUTE53_METRICS_REGION]


def health_alarms_have_own_topic(spec: InfraSpec) -> bool:
    """The health-alarm stack needs a topic of its own when no regional stack (with its
    alarm topic) is in us-east-1; Slack delivery then takes that topic too."""
    return bool(health_alarm_regions(spec)) and ROUTE53_METRICS_REGION not in [
        region.name for region in spec.regions
    ]


def health_alarm_notifier_region(spec: InfraSpec) -> str | None:
    """Whose Slack notifier (every regional stack has one) the health-alarm topic in
    us-east-1 delivers to: the writer's, unless it is an opt-in region, to which SNS does
    not deliver from us-east-1; then the first region enabled by default; None when every
    region is opt-in (refused by the spec's consistency checks)."""
    names = [spec.primary_region, *(region.name for region in spec.regions)]
    return next((name for name in names if name in ENABLED_BY_DEFAULT), None)


def has_writer_region(spec: InfraSpec) -> bool:
    """True when some resource exists in the writer region only (replica DB or buckets)."""
    return replicates_database(spec) or bool(replicated_bucket_names(spec))


def region_values(spec: InfraSpec, region_name: str) -> dict[str, str]:
    """Every value that differs between regions, as strings keyed by mapping attribute."""
    region = next(r for r in spec.regions if r.name == region_name)
    vpc = ipaddress.IPv4Network(region.cidr)
    quarters = list(vpc.subnets(prefixlen_diff=_TIER_BITS))
    values = {"VpcCidr": region.cidr}
    deliveries = [alb_log_delivery(r.name) for r in spec.regions]
    if any(delivery.kind == "account" for delivery in deliveries):
        # Every region gets the key once any has it (a FindInMap on a missing key fails the
        # stack); "" marks a region whose ALB logs come from the log delivery service.
        own = alb_log_delivery(region_name)
        values["ElbLogAccount"] = own.principal if own.kind == "account" else ""
    for tier_index, tier in enumerate(TIERS):
        subnets = quarters[tier_index].subnets(prefixlen_diff=SUBNET_PREFIX_EXTRA_BITS - _TIER_BITS)
        for az_index, subnet in zip(range(spec.network.availability_zones), subnets, strict=False):
            values[subnet_cidr_key(tier, az_index)] = str(subnet)
    certificates = spec.load_balancer.certificate_arns
    if certificates:
        # Every region gets the key once any has it: a FindInMap on a missing key fails the
        # stack, and CloudFormation does not promise to skip one in an Fn::If branch not
        # taken. "" marks a region whose stack creates its certificate (builders/certificate.py).
        values["CertificateArn"] = certificates.get(region_name, "")
    if spec.dns.routing == "failover":
        index = [r.name for r in spec.regions].index(region_name)
        values["FailoverRole"] = FAILOVER_ROLES[index]
    if spec.notifications.slack and IAM_EVENTS_REGION in [r.name for r in spec.regions]:
        # The same in every region: a value rather than a literal so that the StackSet
        # template compares AWS::Region with a lookup and names no region of its own.
        values["IamEventsRegion"] = IAM_EVENTS_REGION
    if ROUTE53_METRICS_REGION in [r.name for r in spec.regions]:
        # The same in every region, a value for the same reason: where Route 53 publishes
        # health-check metrics, so the one stack there alarms on its health check.
        values["Route53MetricsRegion"] = ROUTE53_METRICS_REGION
    if has_writer_region(spec):
        # The same in every region: a value rather than a literal so that the StackSet
        # template names no region of its own (replicas name the writer by ARN).
        values["WriterRegion"] = spec.primary_region
        # What this region's database is: the app reads it (writes go to the writer).
        values["DatabaseRole"] = DATABASE_ROLES[0 if region_name == spec.primary_region else 1]
        if spec.database.promoted:
            values["PromotedFrom"] = spec.database.promoted.source_region
    if has_writer_region(spec):
        # Where the writer region's buckets and database secret replicate to, the same
        # list in every region.
        for index, name in enumerate(replica_regions(spec)):
            values[replica_region_key(index)] = name
    return values


class RegionContext(NamedTuple):
    """Region-specific values for builders, as literals or as mapping lookups."""

    mode: Literal["literal", "mapped"]
    values: Mapping[str, str]  # for `mapped`, any one region's values: only keys are read
    region_name: str | None = None  # the region of a literal context; None for a StackSet

    @classmethod
    def literal(cls, spec: InfraSpec, region_name: str) -> RegionContext:
        return cls("literal", region_values(spec, region_name), region_name)

    @classmethod
    def mapped(cls, spec: InfraSpec) -> RegionContext:
        return cls("mapped", region_values(spec, spec.primary_region))

    def value(self, key: str) -> str | AWSHelperFn:
        if key not in self.values:
            raise KeyError(f"no region value '{key}'")
        if self.mode == "literal":
            return self.values[key]
        from troposphere import FindInMap, Ref

        return FindInMap(REGION_MAP, Ref("AWS::Region"), key)

    def vpc_cidr(self) -> str | AWSHelperFn:
        return self.value("VpcCidr")

    def subnet_cidr(self, tier: Tier, az_index: int) -> str | AWSHelperFn:
        return self.value(subnet_cidr_key(tier, az_index))

    def certificate_arn(self) -> str | AWSHelperFn:
        return self.value("CertificateArn")

    def failover_role(self) -> str | AWSHelperFn:
        """PRIMARY or SECONDARY: this region's failover record (dns.routing: failover only)."""
        return self.value("FailoverRole")

    def iam_events_region(self) -> str | AWSHelperFn:
        """Where IAM's CloudTrail events reach EventBridge (only with notifications.slack)."""
        return self.value("IamEventsRegion")

    def route53_metrics_region(self) -> str | AWSHelperFn | None:
        """us-east-1, where Route 53's health-check metrics are; None when the spec has no
        stack there (then no stack of the spec can alarm on them)."""
        return self.value("Route53MetricsRegion") if "Route53MetricsRegion" in self.values else None

    def elb_log_account(self) -> str | AWSHelperFn:
        """The Elastic Load Balancing account that delivers this region's ALB access logs;
        "" in a region where the log delivery service does (builders/storage.py)."""
        return self.value("ElbLogAccount")

    def writer_region(self) -> str | AWSHelperFn:
        """The spec's first region: the writer database and the source buckets live there."""
        return self.value("WriterRegion")

    def database_role(self) -> str | AWSHelperFn:
        """`writer` or `replica`: this region's database (database.replicas only)."""
        return self.value("DatabaseRole")

    def replica_region(self, index: int) -> str | AWSHelperFn:
        """The index-th region after the writer's (replicated buckets or database only)."""
        return self.value(replica_region_key(index))

    def promoted_from(self) -> str | AWSHelperFn:
        """Where the promoted writer's source was (database.promoted only)."""
        return self.value("PromotedFrom")

    def writer_conditions(self) -> dict[str, AWSHelperFn]:
        """The template conditions WRITER_CONDITION and REPLICA_CONDITION.

        They compare `AWS::Region` with a region value rather than two region values:
        `Fn::Equals` on two literals (what a lookup turns into in a per-region template)
        is flagged by cfn-lint (W8003), and a condition keeps both kinds of template alike.
        """
        from troposphere import Condition, Equals, Not, Ref

        return {
            WRITER_CONDITION: Equals(Ref("AWS::Region"), self.writer_region()),
            REPLICA_CONDITION: Not(Condition(WRITER_CONDITION)),
        }

    @staticmethod
    def availability_zone(az_index: int) -> AWSHelperFn:
        # GetAZs is answered by the account the stack runs in, so AZ names (which AWS
        # maps differently per account) are never hard-coded.
        from troposphere import GetAZs, Ref, Select

        return Select(az_index, GetAZs(Ref("AWS::Region")))


def region_mappings(spec: InfraSpec) -> dict[str, dict[str, str]]:
    """The StackSet template's `Mappings.RegionMap`: region -> the values above."""
    return {region.name: region_values(spec, region.name) for region in spec.regions}
