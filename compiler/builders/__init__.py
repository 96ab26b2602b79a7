"""Stage 3, build: one pure function per concern, spec + region context in, troposphere out.

A builder never imports another builder and does no I/O; what one needs from another
is passed in as a typed handle (see `handles`). The assembler decides the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from troposphere import AWSHelperFn, AWSObject, Output, Parameter

H = TypeVar("H")

# The DeletionPolicy of what outlives its stack (buckets, keys, log groups, the zone, the
# database secret): kept when the stack deletes it, except when the operation that
# created it is rolled back. A Retain resource left by a failed first create would make
# the retry fail with "already exists" (fixed names); CloudFormation accepts this policy
# on every resource type that takes a DeletionPolicy.
RETAIN_EXCEPT_ON_CREATE = "RetainExceptOnCreate"


@dataclass
class Built(Generic[H]):
    """What a builder returns: resources for the template, outputs, and a handle for others."""

    resources: list[AWSObject]
    handle: H
    outputs: list[Output] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    # Template conditions by name, for what differs between the regions of a StackSet.
    conditions: dict[str, AWSHelperFn] = field(default_factory=dict)


def purpose(resource: AWSObject, text: str) -> AWSObject:
    """Record why a resource exists; users read the generated templates too."""
    metadata = dict(getattr(resource, "Metadata", None) or {})
    metadata["Purpose"] = text
    resource.Metadata = metadata
    return resource


def skip_check(resource: AWSObject, check_id: str, reason: str) -> AWSObject:
    """Waive one checkov check on one resource, with the reason it cannot be met.

    checkov reads `Metadata.checkov.skip[]` entries of `{"id", "comment"}` on CloudFormation
    resources; the comment is shown in its report, and tests/security requires one.
    """
    if not reason.strip():
        raise ValueError(f"skipping {check_id} on {resource.title} needs a reason")
    metadata = dict(getattr(resource, "Metadata", None) or {})
    checkov = dict(metadata.get("checkov", {}))
    checkov["skip"] = [*checkov.get("skip", []), {"id": check_id, "comment": reason}]
    metadata["checkov"] = checkov
    resource.Metadata = metadata
    return resource
