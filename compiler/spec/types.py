"""Reusable constrained types for the spec (pydantic's annotated pattern)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, StringConstraints

# What a user should write when a value does not match a pattern; pydantic's own
# message would only echo the regular expression.
PATTERN_HINTS: dict[str, str] = {}


def pattern_str(
    pattern: str, hint: str, *, min_length: int | None = None, max_length: int | None = None
):
    """A string type constrained by `pattern`, whose mismatch error reads `hint`."""
    PATTERN_HINTS[pattern] = hint
    return Annotated[
        str, StringConstraints(pattern=pattern, min_length=min_length, max_length=max_length)
    ]


# Every spec model forbids unknown keys so a typo is an error, never silently ignored.
# defer_build: a section model's validator is built when first used, not at import;
# validation goes through the root model, whose validator covers every section, so
# the sections' own validators are mostly never needed (about 10 ms of start-up).
SPEC_MODEL_CONFIG = ConfigDict(
    extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
)


# Default factories for an empty list or mapping. pydantic asks every default factory's
# signature; for the builtins `list` and `dict` that means parsing their text signature,
# whose first use costs 13 ms of start-up (the tokenizer's patterns); for a function it
# is a lookup.
def empty_list() -> list:
    return []


def empty_dict() -> dict:
    return {}


def check_ipv4_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"'{value}' is not a CIDR block like 10.0.0.0/16") from None
    if network.version != 4:
        raise ValueError(f"'{value}' is IPv6; only IPv4 CIDR blocks are supported here")
    if "/" not in value:
        raise ValueError(
            f"'{value}' has no prefix length; write a CIDR block like 10.0.0.0/16 "
            f"(or {network} for this one address)"
        )
    if str(network) != value:
        raise ValueError(f"'{value}' has host bits set; did you mean {network}?")
    return value


Cidr = Annotated[str, AfterValidator(check_ipv4_network)]

# Lower-case words joined by hyphens: safe in stack names, resource names and tags.
Slug = pattern_str(
    r"^[a-z][a-z0-9-]*[a-z0-9]$",
    "use lower-case letters, digits and hyphens, starting with a letter",
    min_length=2,
    max_length=20,
)

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip


def check_log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ValueError(
            f"CloudWatch Logs cannot keep logs for {value} days; choose one of {allowed}"
        )
    return value


LogRetentionDays = Annotated[int, AfterValidator(check_log_retention)]

UrlPath = pattern_str(
    r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$",
    "use an HTTP path that starts with '/', like /health",
    max_length=1024,
)


def check_single_spaced(value: str) -> str:
    """A schedule expression with its fields one space apart, as AWS parses it: EventBridge
    and Systems Manager refuse doubled or edge spaces that a YAML reader cannot see."""
    tidy = re.sub(r"\s+", " ", value).replace("( ", "(").replace(" )", ")")
    if tidy != value:
        raise ValueError(
            f"{value!r} has extra or non-space whitespace, which AWS refuses; write {tidy!r}"
        )
    return value


# Address ranges no VPC can use: special-purpose blocks (RFC 6890) whose addresses no
# host can have, so AWS refuses them as VPC CIDRs or nothing could reach the instances.
VPC_REFUSED_RANGES = {
    "0.0.0.0/8": "'this network' addresses",
    "127.0.0.0/8": "loopback addresses",
    "169.254.0.0/16": "link-local addresses (the instance metadata service lives there)",
    "224.0.0.0/4": "multicast addresses",
    "240.0.0.0/4": "addresses reserved by IANA for future use",
}


def check_vpc_range(value: str) -> str:
    network = ipaddress.IPv4Network(value)
    for refused, what in VPC_REFUSED_RANGES.items():
        if network.overlaps(ipaddress.IPv4Network(refused)):
            raise ValueError(
                f"{value} overlaps {refused}, {what}, which a VPC cannot use; use "
                "a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            )
    return value
