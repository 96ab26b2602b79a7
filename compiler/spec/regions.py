"""Spec models for the regions the stack is deployed to."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, Field, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, Cidr, check_vpc_range

# Commercial AWS regions, with the number of Availability Zones a new account can use
# (us-west-1 offers two; ap-northeast-1 three of its four) and the Elastic Load
# Balancing account that writes ALB access logs there. Regions opened from August 2022
# on deliver access logs differently, so they are not offered yet; a region not listed
# is refused rather than guessed at, since a wrong value fails only at deploy time.
AWS_REGIONS: dict[str, tuple[int, str]] = {
    "af-south-1": (3, "098369216593"), "ap-east-1": (3, "754344448648"),
    "ap-northeast-1": (3, "582318560864"), "ap-northeast-2": (4, "600734575887"),
    "ap-northeast-3": (3, "383597477331"), "ap-south-1": (3, "718504428378"),
    "ap-southeast-1": (3, "114774131450"), "ap-southeast-2": (3, "783225319266"),
    "ca-central-1": (3, "985666609251"), "eu-central-1": (3, "054676820928"),
    "eu-north-1": (3, "897822967062"), "eu-south-1": (3, "635631232127"),
    "eu-west-1": (3, "156460612806"), "eu-west-2": (3, "652711504416"),
    "eu-west-3": (3, "009996457667"), "me-south-1": (3, "076674570225"),
    "sa-east-1": (3, "507241528517"), "us-east-1": (6, "127311923021"),
    "us-east-2": (3, "033677994240"), "us-west-1": (2, "027434742980"),
    "us-west-2": (4, "797873946194"),
}  # fmt: skip
AWS_REGION_AZ_COUNTS = {name: azs for name, (azs, _) in AWS_REGIONS.items()}
ELB_LOG_ACCOUNTS = {name: account for name, (_, account) in AWS_REGIONS.items()}

# Each tier gets a quarter of the VPC, split in eight so up to six AZs fit: subnets are
# therefore 5 bits longer than the VPC prefix, and ALB subnets must be /27 or larger.
SUBNET_PREFIX_EXTRA_BITS = 5
LARGEST_VPC_PREFIX = 27 - SUBNET_PREFIX_EXTRA_BITS


class RegionSpec(BaseModel):
    """One AWS region the web tier runs in."""

    model_config = SPEC_MODEL_CONFIG

    name: str = Field(description="AWS region code.", examples=["us-east-1"])
    cidr: Cidr = Field(
        description=f"The region's VPC CIDR block, /16 to /{LARGEST_VPC_PREFIX}; must not "
        "overlap another region's.",
        examples=["10.10.0.0/16"],
    )

    @field_validator("name")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in AWS_REGION_AZ_COUNTS:
            close = difflib.get_close_matches(value, AWS_REGION_AZ_COUNTS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"'{value}' is not an AWS region{hint}")
        return value

    @field_validator("cidr")
    @classmethod
    def _vpc_sized(cls, value: str) -> str:
        prefix = int(value.split("/")[1])
        if prefix < 16:
            raise ValueError(f"a VPC CIDR can be at most /16 (AWS limit); {value} is larger")
        if prefix > LARGEST_VPC_PREFIX:
            raise ValueError(
                f"{value} is too small for the subnets: each tier's subnets would be "
                f"/{prefix + SUBNET_PREFIX_EXTRA_BITS}, and load balancer subnets need /27 or "
                f"larger; use /{LARGEST_VPC_PREFIX} or larger"
            )
        return check_vpc_range(value)
