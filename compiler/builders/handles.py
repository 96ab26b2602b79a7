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


@dataclass(frozen=True)
class LoadBalancerHandle:
    arn: Reference
    full_name: Reference
    dns_name: Reference
    canonical_hosted_zone_id: Reference
    target_group_arn: Reference
    target_group_full_name: Reference


@dataclass(frozen=True)
class ComputeHandle:
    auto_scaling_group_name: Reference
    instance_role_name: Reference


@dataclass(frozen=True)
class DatabaseHandle:
    instance_id: Reference
    endpoint_address: Reference
