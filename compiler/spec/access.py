"""Spec model for who may manage the stacks: the team's IAM principals and their MFA."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, pattern_str

# A role or user (IAM paths allowed: role/path/name) or a whole account's root. Session
# ARNs (sts assumed-role) cannot be trusted by a role's trust policy, so they are refused.
PrincipalArn = pattern_str(
    r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]+)$",
    "use an IAM ARN like arn:aws:iam::123456789012:role/platform-team "
    "(a role or user, or arn:aws:iam::<12 digits>:root for a whole account)",
    max_length=2048,
)

# Short name of the global stack's bucket for large templates (`naming.bucket_name`).
TEMPLATE_BUCKET = "templates"
# Short name of the template bucket deploy.sh's bootstrap stack makes in each region.
BOOTSTRAP_BUCKET = "deploy"


def principal_kind(arn: str) -> str:
    """`role`, `user` or `root`, from a `PrincipalArn`."""
    resource = arn.split(":", 5)[5]
    return resource.split("/", 1)[0]


class AccessSpec(BaseModel):
    """The infrastructure-management role and who may assume it (global stack)."""

    model_config = SPEC_MODEL_CONFIG

    admin_principals: list[PrincipalArn] = Field(
        min_length=1,
        max_length=50,
        description="IAM roles or users (ARNs) of the team allowed to assume the "
        "infrastructure-management role, the only role that may deploy this project's stacks.",
        examples=[["arn:aws:iam::123456789012:role/platform-team"]],
    )
    require_mfa: bool = Field(
        True,
        description="Only sessions signed in with MFA may assume the management role. Only IAM "
        "users' sessions can carry the MFA flag: AWS sets none on a role's sessions (role "
        "chaining, IAM Identity Center, SAML) even when the sign-in used MFA, so with a role "
        "principal set false and require MFA where that role's sessions begin.",
        examples=[True],
    )
    allow_account_root: bool = Field(
        False,
        description="Allow an account's `:root` principal in `admin_principals`: it lets every "
        "user and role of that account whose own policies allow `sts:AssumeRole` on the "
        "management role assume it. Off, such a principal is refused.",
        examples=[False],
    )

    @field_validator("admin_principals", mode="before")
    @classmethod
    def _someone(cls, principals: object) -> object:
        if principals == []:  # before min_length, for a message that says what is at stake
            raise ValueError(
                "list at least one IAM role or user ARN of the team; with none, nobody could "
                "assume the management role that deploys the stacks"
            )
        return principals

    @field_validator("admin_principals")
    @classmethod
    def _no_repeats(cls, principals: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for index, arn in enumerate(principals):
            first = seen.setdefault(arn, index)
            if first != index:
                raise ValueError(
                    f"'{arn}' (admin_principals[{index}]) repeats admin_principals[{first}]"
                )
        return principals
