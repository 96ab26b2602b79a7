"""Warnings: specs that are legal and deploy, but quietly lose something the user likely
expects. Each is located like a problem; `infra validate` and `compile` print them and
still succeed (exit 0).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from compiler.errors import SpecPath
from compiler.spec.root import InfraSpec

Finding = tuple[SpecPath, str]

# IAM is a global service: CloudTrail delivers its API calls to EventBridge in us-east-1
# only (see builders/change_events.py), so only a us-east-1 stack can hear of them.
IAM_EVENTS_REGION = "us-east-1"
# Docker's default bridge network, which AWS Cloud9 and SageMaker use on their instances:
# the Amazon VPC user guide asks not to use it for a VPC, to avoid address conflicts.
DOCKER_BRIDGE = ipaddress.IPv4Network("172.17.0.0/16")


def warn_slack_without_iam_events(spec: InfraSpec) -> Iterator[Finding]:
    slack = spec.notifications.slack
    if slack is None or any(region.name == IAM_EVENTS_REGION for region in spec.regions):
        return
    yield (
        ("notifications", "slack"),
        f"IAM changes will not reach Slack: AWS emits IAM events in {IAM_EVENTS_REGION} "
        f"only, and no region of the spec is {IAM_EVENTS_REGION} (stack and security group "
        "changes and alarms still do)",
    )


def warn_docker_bridge_cidr(spec: InfraSpec) -> Iterator[Finding]:
    for index, region in enumerate(spec.regions):
        if ipaddress.IPv4Network(region.cidr).overlaps(DOCKER_BRIDGE):
            yield (
                ("regions", index, "cidr"),
                f"{region.cidr} overlaps {DOCKER_BRIDGE}, which AWS Cloud9, SageMaker and "
                "Docker use themselves: instances there cannot reach those addresses in "
                "this VPC; AWS advises another range",
            )


WARNINGS = (warn_slack_without_iam_events, warn_docker_bridge_cidr)


def find_quiet_losses(spec: InfraSpec) -> list[Finding]:
    return [finding for check in WARNINGS for finding in check(spec)]
