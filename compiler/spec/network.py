"""Spec model for each region's VPC."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, LogRetentionDays


class NetworkSpec(BaseModel):
    """VPC layout, the same in every region; CIDRs come from `regions[].cidr`."""

    model_config = SPEC_MODEL_CONFIG

    availability_zones: int = Field(
        3,
        ge=2,
        le=6,
        description="AZs per region; each gets a public, private and database subnet.",
        examples=[3],
    )
    nat_gateways: Literal["per_az", "single"] = Field(
        "per_az",
        description="`per_az` keeps egress up when one AZ fails; `single` costs less.",
        examples=["per_az", "single"],
    )
    # Flow logs are evidence of who talked to what: a year is the usual audit floor.
    flow_logs_retention_days: LogRetentionDays = Field(
        365, description="Days CloudWatch Logs keeps the VPC flow logs.", examples=[365]
    )
