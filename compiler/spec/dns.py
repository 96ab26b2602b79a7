"""Spec model for DNS: the hosted zone, the record users reach, and how regions share it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, UrlPath, pattern_str

DomainName = pattern_str(
    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    "use a lower-case DNS name like shop.example.com, without a trailing dot",
    max_length=253,
)
HostedZoneId = pattern_str(
    r"^Z[A-Z0-9]{1,31}$", "use a Route 53 hosted zone ID like Z0123456789ABCDEFGHIJ"
)


class DnsSpec(BaseModel):
    """Route 53: one name for the site, answered by the healthy region(s)."""

    model_config = SPEC_MODEL_CONFIG

    zone_name: DomainName = Field(
        description="The public hosted zone's domain.", examples=["example.com"]
    )
    hosted_zone_id: HostedZoneId | None = Field(
        None,
        description="An existing public hosted zone for `zone_name`; when absent the global "
        "stack creates the zone.",
        examples=["Z0123456789ABCDEFGHIJ"],
    )
    record_name: DomainName = Field(
        description="The name users visit; must be `zone_name` or inside it.",
        examples=["shop.example.com"],
    )
    routing: Literal["failover", "latency"] = Field(
        "failover",
        description="`failover`: all traffic to the first region while healthy, else the second "
        "(exactly two regions). `latency`: each user to the nearest healthy region.",
        examples=["failover", "latency"],
    )
    health_check_path: UrlPath | None = Field(
        None,
        description="Path Route 53 requests over HTTPS on each region's ALB; defaults to "
        "`load_balancer.health_check_path`.",
        examples=["/health"],
    )
    health_check_interval_seconds: Literal[10, 30] = Field(
        30, description="Seconds between Route 53 checks (10 costs more).", examples=[30]
    )
    failure_threshold: int = Field(
        3,
        ge=1,
        le=10,
        description="Failed checks in a row before a region counts as down.",
        examples=[3],
    )

    # A field validator (not a model one), so the error points at record_name itself.
    @field_validator("record_name")
    @classmethod
    def _record_in_zone(cls, record_name: str, info: ValidationInfo) -> str:
        zone_name = info.data.get("zone_name")  # absent when zone_name itself is invalid
        if (
            zone_name is not None
            and record_name != zone_name
            and not record_name.endswith("." + zone_name)
        ):
            raise ValueError(
                f"record_name '{record_name}' is not inside zone_name '{zone_name}'; "
                "Route 53 can only answer for names in the zone"
            )
        return record_name
