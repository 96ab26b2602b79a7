"""Spec model for how the StackSet is deployed: its permission model, the organizational
units it targets, and how CloudFormation rolls an operation out across accounts and regions.

`self_managed` (the default) deploys stack instances in the caller's own account through
the global stack's StackSet roles. `service_managed` deploys them to every account of the
listed organizational units through AWS Organizations (docs/multi-account.md). The limits
below are CloudFormation's (API reference: CreateStackSet, AutoDeployment,
DeploymentTargets, StackSetOperationPreferences); checking them here turns a failed
`create-stack-set` half-way through a deploy into a located spec error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from compiler.spec.types import SPEC_MODEL_CONFIG, empty_list, pattern_str

# DeploymentTargets.OrganizationalUnitIds: an OU ID or the organization's root ID.
OrganizationalUnitId = pattern_str(
    r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$",
    "use an organizational unit ID like ou-ab12-cd34ef56 or the root ID like r-ab12 "
    "(aws organizations list-roots / list-organizational-units-for-parent show them)",
)

SELF_MANAGED = "self_managed"
SERVICE_MANAGED = "service_managed"


def _service_managed_only(field: str, info: ValidationInfo) -> None:
    """Raise if `field` is set on a StackSet that is not service-managed: CloudFormation
    accepts it only with SERVICE_MANAGED permissions."""
    model = info.data.get("permission_model")  # absent when it is itself invalid
    if model == SELF_MANAGED:
        raise ValueError(
            f"{field} applies to service-managed StackSets only (AWS Organizations); set "
            f"stackset.permission_model: {SERVICE_MANAGED}, or remove it"
        )


class AutoDeploymentSpec(BaseModel):
    """What StackSets does when an account joins or leaves a target organizational unit."""

    model_config = SPEC_MODEL_CONFIG

    enabled: bool = Field(
        True,
        description="Deploy a stack instance to every account that joins a target OU, and "
        "remove it from an account that leaves (in each of the StackSet's regions).",
        examples=[True],
    )
    retain_stacks_on_account_removal: bool = Field(
        False,
        description="Keep the stacks (and their resources) in an account that leaves a "
        "target OU, only removed from the StackSet. false: they are deleted, except what "
        "their deletion policies retain (data buckets, keys, the database's snapshot).",
        examples=[False],
    )

    @field_validator("enabled")
    @classmethod
    def _stays_on(cls, enabled: bool) -> bool:
        # Off, an account that joins a target OU later gets no stack instance, and deploy.sh,
        # which creates instances per OU and region, would not notice it either.
        if not enabled:
            raise ValueError(
                "automatic deployment off is not supported: accounts that join the OUs "
                "later would get no stacks (deploy.sh creates instances per OU and region, "
                "not per account); leave enabled: true"
            )
        return enabled


class OperationPreferencesSpec(BaseModel):
    """How one StackSet operation proceeds: regions one after another or at once, how many
    accounts at a time, and how many failures stop it. Not applied to automatic
    deployments, which CloudFormation runs with its own settings."""

    model_config = SPEC_MODEL_CONFIG

    region_concurrency: Literal["SEQUENTIAL", "PARALLEL"] = Field(
        "SEQUENTIAL",
        description="`SEQUENTIAL`: one region after another, in `region_order`, so a failure "
        "stops the operation before the next region. `PARALLEL`: every region at once.",
        examples=["SEQUENTIAL"],
    )
    concurrency_mode: Literal["STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"] = Field(
        "STRICT_FAILURE_TOLERANCE",
        description="`STRICT_FAILURE_TOLERANCE`: at most failure tolerance + 1 accounts at a "
        "time, lowered as accounts fail. `SOFT_FAILURE_TOLERANCE`: `max_concurrent_*` "
        "accounts at a time whatever fails.",
        examples=["STRICT_FAILURE_TOLERANCE"],
    )
    failure_tolerance_count: int | None = Field(
        None,
        ge=0,
        description="Failed accounts in a region before the operation stops there and goes "
        "to no later region (0 or more). Give this or `failure_tolerance_percentage`, not "
        "both; neither: 0.",
        examples=[0],
    )
    failure_tolerance_percentage: int | None = Field(
        None,
        ge=0,
        le=100,
        description="The same, as a percentage of the target accounts (0 to 100, rounded down).",
        examples=[10],
    )
    max_concurrent_count: int | None = Field(
        None,
        ge=1,
        description="Accounts deployed at a time in each region (at least 1). Give this or "
        "`max_concurrent_percentage`, not both; neither: 1.",
        examples=[1],
    )
    max_concurrent_percentage: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Accounts deployed at a time in each region, as a percentage of the "
        "target accounts (1 to 100, rounded down, at least one account).",
        examples=[25],
    )
    region_order: list[str] | None = Field(
        None,
        description="The order regions are deployed in: each of `regions` once, the writer "
        "region (the first of `regions`) first, since the others' stacks read what it makes. "
        "Default: the order of `regions`.",
        examples=[["us-east-1", "us-west-2"]],
    )

    # Field validators on the second of each pair, so the error points at the key to drop.
    @field_validator("max_concurrent_percentage")
    @classmethod
    def _one_max_concurrent(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("max_concurrent_count") is not None:
            raise ValueError(
                "give max_concurrent_count or max_concurrent_percentage, not both "
                "(CloudFormation refuses both)"
            )
        return value

    @field_validator("failure_tolerance_percentage")
    @classmethod
    def _one_failure_tolerance(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("failure_tolerance_count") is not None:
            raise ValueError(
                "give failure_tolerance_count or failure_tolerance_percentage, not both "
                "(CloudFormation refuses both)"
            )
        return value

    @field_validator("max_concurrent_count")
    @classmethod
    def _strict_bound(cls, count: int | None, info: ValidationInfo) -> int | None:
        # With strict tolerance CloudFormation runs at most FailureToleranceCount + 1
        # accounts at a time, whatever MaxConcurrentCount says: a larger count is lost.
        tolerance = info.data.get("failure_tolerance_count") or 0
        if (
            info.data.get("concurrency_mode") == "STRICT_FAILURE_TOLERANCE"
            and count is not None
            and count > tolerance + 1
            and info.data.get("failure_tolerance_percentage") is None
        ):
            raise ValueError(
                f"{count} accounts at a time with failure_tolerance_count {tolerance}: with "
                "STRICT_FAILURE_TOLERANCE CloudFormation deploys at most failure tolerance + 1 "
                f"= {tolerance + 1} accounts at a time; raise failure_tolerance_count to "
                f"{count - 1}, lower max_concurrent_count, or set concurrency_mode: "
                "SOFT_FAILURE_TOLERANCE"
            )
        return count

    @field_validator("region_order")
    @classmethod
    def _no_repeats(cls, order: list[str] | None) -> list[str] | None:
        if order is not None:
            repeated = sorted({region for region in order if order.count(region) > 1})
            if repeated:
                raise ValueError(f"lists {', '.join(repeated)} more than once")
        return order

    @property
    def max_concurrent(self) -> tuple[str, int]:
        """The `MaxConcurrent*` key and value to send."""
        if self.max_concurrent_percentage is not None:
            return "MaxConcurrentPercentage", self.max_concurrent_percentage
        return "MaxConcurrentCount", self.max_concurrent_count or 1

    @property
    def failure_tolerance(self) -> tuple[str, int]:
        """The `FailureTolerance*` key and value to send."""
        if self.failure_tolerance_percentage is not None:
            return "FailureTolerancePercentage", self.failure_tolerance_percentage
        return "FailureToleranceCount", self.failure_tolerance_count or 0


class StackSetSpec(BaseModel):
    """How `deploy.sh stackset` deploys the StackSet template: in this account, or to the
    accounts of organizational units through AWS Organizations."""

    model_config = SPEC_MODEL_CONFIG

    permission_model: Literal["self_managed", "service_managed"] = Field(
        SELF_MANAGED,
        description="`self_managed`: stack instances in the account deploy.sh runs as, "
        "through the global stack's StackSet roles. `service_managed`: in every account of "
        "`organizational_unit_ids`, through AWS Organizations' trusted access; run from the "
        "management account or a delegated administrator (docs/multi-account.md).",
        examples=[SELF_MANAGED, SERVICE_MANAGED],
    )
    organizational_unit_ids: list[OrganizationalUnitId] = Field(
        default_factory=empty_list,
        validate_default=True,
        max_length=100,
        description="service_managed: the OUs (or the root, r-...) whose accounts, child OUs' "
        "included, get a stack instance in each region.",
        examples=[["ou-ab12-cd34ef56"]],
    )
    auto_deployment: AutoDeploymentSpec | None = Field(
        None,
        description="service_managed: deploy to accounts that join a target OU, and what "
        "happens to the stacks of one that leaves. Default: enabled, stacks deleted.",
        examples=[{"enabled": True, "retain_stacks_on_account_removal": False}],
    )
    call_as: Literal["SELF", "DELEGATED_ADMIN"] = Field(
        "SELF",
        description="service_managed: `SELF` when deploy.sh runs in the organization's "
        "management account, `DELEGATED_ADMIN` in a member account registered as the "
        "StackSets delegated administrator.",
        examples=["SELF", "DELEGATED_ADMIN"],
    )
    operation_preferences: OperationPreferencesSpec = Field(
        default_factory=OperationPreferencesSpec,
        description="How each StackSet operation proceeds across regions and accounts. "
        "Default: one region at a time in the order of `regions`, one account at a time, "
        "stop at the first failure.",
        examples=[{"region_concurrency": "SEQUENTIAL", "max_concurrent_percentage": 25}],
    )

    @field_validator("organizational_unit_ids")
    @classmethod
    def _targets(cls, ids: list[str], info: ValidationInfo) -> list[str]:
        model = info.data.get("permission_model")
        if model == SERVICE_MANAGED and not ids:
            raise ValueError(
                "service_managed needs the organizational units to deploy to, e.g. "
                "organizational_unit_ids: [ou-ab12-cd34ef56]"
            )
        if ids:
            _service_managed_only("organizational_unit_ids", info)
        repeated = sorted({unit for unit in ids if ids.count(unit) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return ids

    @field_validator("auto_deployment")
    @classmethod
    def _auto_deployment(cls, value, info: ValidationInfo):
        if value is not None:
            _service_managed_only("auto_deployment", info)
        return value

    @field_validator("call_as")
    @classmethod
    def _call_as(cls, value: str, info: ValidationInfo) -> str:
        if value == "DELEGATED_ADMIN":
            _service_managed_only("call_as: DELEGATED_ADMIN", info)
        return value

    @property
    def service_managed(self) -> bool:
        return self.permission_model == SERVICE_MANAGED

    @property
    def effective_auto_deployment(self) -> AutoDeploymentSpec:
        """CreateStackSet requires AutoDeployment with SERVICE_MANAGED permissions."""
        return self.auto_deployment or AutoDeploymentSpec()


def check_stackset(spec) -> Iterator[tuple]:
    """What the StackSet settings need of other sections (see spec.consistency)."""
    stackset = spec.stackset
    names = [region.name for region in spec.regions]
    order = stackset.operation_preferences.region_order
    path = ("stackset", "operation_preferences", "region_order")
    if order is not None:
        unknown = [region for region in order if region not in names]
        missing = [region for region in names if region not in order]
        if unknown:
            yield (
                path,
                f"{', '.join(unknown)} is not one of the spec's regions ({', '.join(names)})",
            )
        elif missing:
            yield path, f"leaves out {', '.join(missing)}: list each of the spec's regions once"
        elif order[0] != names[0]:
            yield (
                (*path, 0),
                f"starts with {order[0]}; the writer region {names[0]} (the first of regions) "
                "goes first, since the other regions' stacks read what it makes",
            )
    if not stackset.service_managed:
        return
    yield from _account_bound_values(spec)
    yield from _replicas_in_order(spec)


def _replicas_in_order(spec) -> Iterator[tuple]:
    """A replica region's database names the writer region's as its source, which must
    exist first. deploy.sh creates each OU's instances in one operation, regions in
    `region_order` (the writer first): only one region after another keeps the replicas
    from starting before their writer exists. (Self-managed, deploy.sh creates the writer
    region's instance alone first, so any concurrency does.)"""
    preferences = spec.stackset.operation_preferences
    if (
        spec.database.replicas
        and len(spec.regions) > 1
        and preferences.region_concurrency != "SEQUENTIAL"
    ):
        from compiler.spec.consistency import Blame  # it imports this module

        yield (
            Blame(
                ("stackset", "operation_preferences", "region_concurrency"),
                ("database", "replicas"),
            ),
            f"{preferences.region_concurrency} deploys every region at once, but the read "
            f"replicas of {', '.join(r.name for r in spec.regions[1:])} need the writer "
            f"database of {spec.regions[0].name} to exist first; use SEQUENTIAL (the writer "
            "region first, in region_order), or set database.replicas: false",
        )


def _account_bound_values(spec) -> Iterator[tuple]:
    """Values that name one account's resources: every member account would be handed the
    same one, which it does not own."""
    why = "with stackset.permission_model: service_managed every account of the OUs gets "
    if spec.load_balancer.certificate_arns:
        yield (
            ("load_balancer", "certificate_arns"),
            why + "the same certificate ARN, but an ACM certificate belongs to one account; "
            "remove certificate_arns so that each account's stack requests its own",
        )
    if spec.dns.hosted_zone_id:
        yield (
            ("dns", "hosted_zone_id"),
            why + "the same hosted zone ID, but a zone belongs to one account; remove it: "
            "each account's stack reads its own zone's ID from SSM (docs/multi-account.md)",
        )
    if spec.database.promoted is not None:
        yield (
            ("database", "promoted"),
            why + "the same promoted writer identifier, but each account's promoted replica "
            "has its own (CloudFormation names replicas); remove it: fail over an account "
            "with `deploy.sh promote REGION` run in that account (docs/multi-account.md)",
        )
    slack = spec.notifications.slack
    if slack is not None and slack.workspace_id is not None:
        yield (
            ("notifications", "slack", "workspace_id"),
            why + "its alarms sent to AWS Chatbot, whose channel configuration the global "
            "stack makes in one account only; use webhook_secret (a secret in each account "
            "and region) instead",
        )
