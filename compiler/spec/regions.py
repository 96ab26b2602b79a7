"""Spec models for the regions the stack is deployed to, and what differs between regions.

The region list and each region's Availability Zones come from cfn-lint, a runtime
dependency that is released with every new region (it needs them to lint). Three small
questions are answered here for everyone: `is_commercial_region(name)`, `az_count(region)`
and `alb_log_delivery(region)`.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import re
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, Cidr, check_vpc_range

# The commercial partition ("aws") is the one whose region names match this pattern:
# botocore's endpoint data (partitions[aws].regionRegex) defines it so. cfn-lint also
# lists China, GovCloud, ISO and sovereign-cloud regions; their partitions have other
# ARNs, service principals and accounts, which the compiler does not produce.
_COMMERCIAL_REGION_NAME = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$")


@functools.cache
def _cfn_lint_availability_zones() -> dict[str, list[str]]:
    """`cfnlint.helpers.AVAILABILITY_ZONES`, read from its source rather than imported:
    importing cfn-lint takes over a second, which `validate` should not pay (lint.py)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; it is a dependency of infra-compiler")
    source = Path(next(iter(spec.submodule_search_locations))) / "helpers.py"
    text = source.read_text(encoding="utf-8")
    # The table alone, from its first line to the closing brace at the start of a line:
    # parsing the whole module is 8 ms of every `validate`, this a tenth of that.
    start = text.find("\nAVAILABILITY_ZONES = {")
    end = text.find("\n}", start)
    if start != -1 and end != -1:
        try:
            table = ast.literal_eval(text[start + len("\nAVAILABILITY_ZONES = ") : end + 2])
        except (ValueError, SyntaxError):
            table = None
        if isinstance(table, dict):
            return table
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            "AVAILABILITY_ZONES"
        ]:
            return ast.literal_eval(node.value)
    # Moved elsewhere by a newer cfn-lint: the import costs a second but gives the table.
    from cfnlint.helpers import AVAILABILITY_ZONES

    return AVAILABILITY_ZONES


@functools.cache
def commercial_regions() -> tuple[str, ...]:
    """Every commercial AWS region cfn-lint knows, sorted."""
    zones = _cfn_lint_availability_zones()
    return tuple(sorted(name for name in zones if _COMMERCIAL_REGION_NAME.match(name)))


# cfn-lint lists the AZ names seen in any account, and AWS maps names to AZs differently
# per account: an account sees three in these two (ca-central-1a, b, d and
# ap-northeast-1a, c, d in cfn-lint pull request #1447's `describe-availability-zones`;
# Canada Central has three AZs, Tokyo keeps its fourth for older accounts).
# `Fn::GetAZs` answers for the deploying account, so a count too high fails the stack at
# deploy time, while one too low only leaves an AZ unused.
_AZS_OFFERED_TO_NEW_ACCOUNTS = {"ap-northeast-1": 3, "ca-central-1": 3}

# The Elastic Load Balancing account that writes ALB access logs in each region opened
# before August 2022 (ELB user guide, "Enable access logs for your Application Load
# Balancer", step 2). Regions not listed there, opened since, deliver the logs as the
# service principal below instead; no region will be added to this table.
_ELB_LOG_ACCOUNTS = {
    "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-north-1": "897822967062", "eu-south-1": "635631232127",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416",
    "eu-west-3": "009996457667", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-east-1": "127311923021",
    "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}  # fmt: skip
ALB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


class AlbLogDelivery(NamedTuple):
    """Who writes a region's ALB access logs: an ELB account, or the log delivery service."""

    kind: Literal["account", "service"]
    principal: str  # the account ID, or the service principal's name


# Regions launched before 20 March 2019, enabled in every account; the later ones are opt-in.
# SNS delivers from a default region to a Lambda function in an opt-in one not at all
# (SNS developer guide, "cross-region delivery" to Lambda).
ENABLED_BY_DEFAULT = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1",
        "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1",
    }
)  # fmt: skip


def is_commercial_region(name: str) -> bool:
    return name in commercial_regions()


def az_count(region: str) -> int:
    """Availability Zones a new account can use in `region` (a commercial region)."""
    listed = len(_cfn_lint_availability_zones()[region])
    return min(listed, _AZS_OFFERED_TO_NEW_ACCOUNTS.get(region, listed))


def alb_log_delivery(region: str) -> AlbLogDelivery:
    account = _ELB_LOG_ACCOUNTS.get(region)
    if account:
        return AlbLogDelivery("account", account)
    return AlbLogDelivery("service", ALB_LOG_DELIVERY_SERVICE)


# Each tier gets a quarter of the VPC, split in eight so up to six AZs fit: subnets are
# therefore 5 bits longer than the VPC prefix, and ALB subnets must be /27 or larger.
SUBNET_PREFIX_EXTRA_BITS = 5
LARGEST_VPC_PREFIX = 27 - SUBNET_PREFIX_EXTRA_BITS


class RegionSpec(BaseModel):
    """One AWS region the web tier runs in."""

    model_config = SPEC_MODEL_CONFIG

    name: str = Field(
        description="AWS region code: any commercial AWS region (opt-in regions must be "
        "enabled in the account first).",
        examples=["us-east-1"],
    )
    cidr: Cidr = Field(
        description=f"The region's VPC CIDR block, /16 to /{LARGEST_VPC_PREFIX}; must not "
        "overlap another region's.",
        examples=["10.10.0.0/16"],
    )

    @field_validator("name")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if is_commercial_region(value):
            return value
        if value in _cfn_lint_availability_zones():
            raise ValueError(
                f"'{value}' is outside the commercial AWS partition (China, GovCloud and "
                "isolated regions have their own ARNs and accounts); only commercial "
                "regions are supported"
            )
        close = difflib.get_close_matches(value, commercial_regions(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"'{value}' is not an AWS region{hint}")

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
