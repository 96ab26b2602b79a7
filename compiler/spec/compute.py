"""Spec model for the Auto Scaling web tier."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, Cidr, pattern_str

DEFAULT_IMAGE_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def check_not_anywhere(value: str) -> str:
    if ipaddress.ip_network(value).prefixlen == 0:
        raise ValueError(
            f"SSH from {value} would open port 22 to the whole internet; "
            "list your management network instead (for example 10.255.0.0/24)"
        )
    return value


ManagementCidr = Annotated[Cidr, AfterValidator(check_not_anywhere)]


class ComputeSpec(BaseModel):
    """Instances behind the load balancer, in the private subnets. The sizes' order is
    checked with the other sections (spec/consistency.py), so one run reports it with
    every other mistake of this section."""

    model_config = SPEC_MODEL_CONFIG

    instance_type: pattern_str(
        r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", "use an EC2 instance type like t3.small", max_length=32
    ) = Field("t3.small", description="EC2 instance type.", examples=["t3.small"])
    min_size: int = Field(2, ge=1, le=100, description="Fewest instances per region.", examples=[2])
    max_size: int = Field(10, ge=1, le=100, description="Most instances per region.", examples=[10])
    desired_capacity: int = Field(
        2, ge=1, le=100, description="Instances at start-up.", examples=[2]
    )
    image_parameter: pattern_str(
        r"^/[A-Za-z0-9_./-]+$", "use an SSM parameter path starting with '/'", max_length=2048
    ) = Field(
        DEFAULT_IMAGE_PARAMETER,
        description="SSM public parameter holding the AMI ID, resolved at deploy time.",
        examples=[DEFAULT_IMAGE_PARAMETER],
    )
    cpu_target_percent: int = Field(
        60, ge=10, le=90, description="Average CPU the target-tracking policy keeps.", examples=[60]
    )
    app_port: int = Field(
        80, ge=1, le=65535, description="Port the application listens on.", examples=[8080]
    )
    root_volume_gb: int = Field(
        20, ge=8, le=16384, description="Encrypted gp3 root volume size.", examples=[20]
    )
    ssh_cidrs: list[ManagementCidr] = Field(
        default_factory=list,
        max_length=20,
        description="Management networks allowed to reach port 22; empty means no SSH at all.",
        examples=[["10.255.0.0/24"]],
    )
