"""Spec model for `infra check`: the security checks the spec's owner waives, each with why.

Only checkov checks can be waived. A cfn-lint finding means CloudFormation would refuse
or misread the template (an instance type that does not exist, a value out of range):
the spec value is wrong, and no reason makes it deploy.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, empty_list, pattern_str

CHECKOV_ID = r"^CKV2?_[A-Z0-9]+_\d+$"

CheckId = pattern_str(
    CHECKOV_ID,
    "a checkov check ID, like CKV_AWS_18 or CKV2_AWS_57, as `infra check` prints it "
    "(cfn-lint findings cannot be waived: CloudFormation would refuse or misread the "
    "template, so fix the spec value instead)",
)
LogicalId = pattern_str(
    r"^[A-Za-z0-9]{1,255}$",
    "a resource's logical ID in the templates, as `infra check` prints it in [brackets], "
    "e.g. Database (letters and digits)",
)


def check_reason(reason: str) -> str:
    # Whitespace is stripped first (SPEC_MODEL_CONFIG): a blank reason is no reason.
    if not reason:
        raise ValueError(
            "give the reason the check cannot or need not be met; it is shown in every report"
        )
    return reason


Reason = Annotated[str, AfterValidator(check_reason)]


class WaiverSpec(BaseModel):
    """One checkov check not failed by `infra check`, everywhere or on one resource."""

    model_config = SPEC_MODEL_CONFIG

    id: CheckId = Field(description="The checkov check ID.", examples=["CKV_AWS_157"])
    resource: LogicalId | None = Field(
        None,
        description="Only on this resource (its logical ID, in every template that has it); "
        "every resource when left out.",
        examples=["Database"],
    )
    reason: Reason = Field(
        description="Why the check cannot or need not be met; shown next to every finding "
        "it waives.",
        examples=["Staging runs one database instance; an AZ outage may stop it for a while."],
    )


def check_waivers_distinct(waivers: list[WaiverSpec]) -> list[WaiverSpec]:
    keys = [(waiver.id, waiver.resource) for waiver in waivers]
    repeated = sorted(
        {
            f"{id_} on {resource or 'every resource'}"
            for id_, resource in keys
            if keys.count((id_, resource)) > 1
        }
    )
    if repeated:
        raise ValueError(f"waived more than once: {', '.join(repeated)}")
    return waivers


class ChecksSpec(BaseModel):
    """What `infra check` reports; findings are always shown, waived ones with their reason."""

    model_config = SPEC_MODEL_CONFIG

    waivers: Annotated[list[WaiverSpec], AfterValidator(check_waivers_distinct)] = Field(
        default_factory=empty_list,
        max_length=200,
        description="checkov checks waived, each with its reason.",
        examples=[
            [
                {
                    "id": "CKV_AWS_157",
                    "resource": "Database",
                    "reason": "Staging runs one database instance; an AZ outage may stop it "
                    "for a while.",
                }
            ]
        ],
    )
