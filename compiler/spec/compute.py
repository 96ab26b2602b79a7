"""Spec model for the Auto Scaling web tier."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from compiler.spec.files import SpecFile, read_beside_spec, spec_dir
from compiler.spec.types import SPEC_MODEL_CONFIG, Cidr, empty_list, pattern_str

DEFAULT_IMAGE_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def check_not_anywhere(value: str) -> str:
    if ipaddress.ip_network(value).prefixlen == 0:
        raise ValueError(
            f"SSH from {value} would open port 22 to the whole internet; "
            "list your management network instead (for example 10.255.0.0/24)"
        )
    return value


ManagementCidr = Annotated[Cidr, AfterValidator(check_not_anywhere)]

# EC2 takes at most 16 KB of user data, counted before base64 (EC2 user guide, "Work with
# instance user data"). The compiler adds a few lines after the shebang (the instance's
# parameter path, see builders/compute.render_user_data); they fit in what is kept back.
MAX_USER_DATA_BYTES = 16 * 1024
USER_DATA_RESERVED_BYTES = 256
USER_DATA_LIMIT = MAX_USER_DATA_BYTES - USER_DATA_RESERVED_BYTES
# cloud-init runs user data starting with `#!` as a script; the compiler's lines are shell,
# so the script must be one: /bin/sh, /bin/bash, /usr/bin/env bash and the like.
SHELL_SHEBANG = re.compile(r"#![ \t]*/\S*?/(env[ \t]+)?(ba|da|k|z)?sh([ \t].*)?")


def check_shell_script(value: str, text: str) -> None:
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not SHELL_SHEBANG.fullmatch(first_line):
        raise ValueError(
            f"user data file '{value}' must be a shell script whose first line is a shebang "
            f"like #!/bin/bash (got {first_line[:60]!r}); cloud-init runs it at first boot"
        )


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
        default_factory=empty_list,
        max_length=20,
        description="Management networks allowed to reach port 22; empty means no SSH at all.",
        examples=[["10.255.0.0/24"]],
    )

    user_data: str | None = Field(
        None,
        description="Shell script run as root at each instance's first boot (cloud-init), "
        "relative to the spec file's directory; inlined in the launch template, at most "
        f"{USER_DATA_LIMIT:,} bytes. `INFRA_PARAMETER_PATH` is set at its top: the SSM path "
        "of the instance's configuration.",
        examples=["app/user-data.sh"],
    )

    @field_validator("user_data")
    @classmethod
    def _load_user_data(cls, value: str | None, info: ValidationInfo) -> SpecFile | None:
        if value is None:
            return None
        text = read_beside_spec(
            value,
            spec_dir(info),
            "user data",
            USER_DATA_LIMIT,
            f"EC2 takes {MAX_USER_DATA_BYTES:,} bytes of user data, of which the compiler "
            f"keeps {USER_DATA_RESERVED_BYTES} for the lines it adds",
        )
        check_shell_script(value, text)
        return SpecFile(value, text)

    @property
    def user_data_script(self) -> str:
        """The text of the user data file, read when the spec was validated ("" if none)."""
        return self.user_data.code if isinstance(self.user_data, SpecFile) else ""
