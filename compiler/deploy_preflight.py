"""deploy.sh's preflight: the plan-specific calls of the checks in deploy_preflight.sh.

Each mode that deploys gets one function, `preflight_<mode>`, that checks what that mode
needs (credentials, regions, stack states, template buckets, quotas) and stops the run
before its first change if a check failed. Pure string generation, like deploy_script.
"""

from __future__ import annotations

from pathlib import Path

from compiler.deploy_plan import (
    EXECUTION_ROLE_OUTPUT,
    DeployPlan,
    EnvironmentVariable,
    PlannedStack,
)

# The checks themselves, in a real shell file (shellcheck-clean).
PREFLIGHT_LIBRARY = Path(__file__).with_name("deploy_preflight.sh")


def preflight_name(mode: str) -> str:
    return f"preflight_{mode}"


def preflight_functions(plan: DeployPlan) -> str:
    global_stacks = plan.by_kind("global")
    regional = plan.by_kind("region")
    stack_sets = plan.by_kind("stackset")
    functions = {"stacks": _checks(plan, [*global_stacks, *regional], quotas=True)}
    if stack_sets:
        # The StackSet's instances are CloudFormation's stacks: their quotas are not
        # checked here (one `list-stack-instances` would say which regions are new).
        # A service-managed StackSet's instances are in member accounts: of this account
        # only the credentials, the administering region and the template bucket matter.
        org = any(s.deployment and s.deployment.service_managed for s in stack_sets)
        first = [] if org else global_stacks
        functions["stackset"] = _checks(plan, [*first, *stack_sets], quotas=False)
    if global_stacks:
        functions["global"] = _checks(plan, global_stacks, quotas=False)
    return "\n".join(
        f"{preflight_name(mode)}() {{\n" + "\n".join(f"  {line}" for line in lines) + "\n}\n"
        for mode, lines in functions.items()
    )


def _checks(plan: DeployPlan, stacks: list[PlannedStack], *, quotas: bool) -> list[str]:
    regions = list(dict.fromkeys(stack.region for stack in stacks))
    regions += [
        r
        for s in stacks
        if not (s.deployment and s.deployment.service_managed)
        for r in s.instance_regions
        if r not in regions
    ]
    lines = ["preflight_begin", f"check_credentials {plan.primary_region}"]
    lines += [f"check_region {region} {plan.primary_region}" for region in regions]
    for stack in stacks:
        if stack.kind == "stackset":
            continue  # a StackSet is updated whatever its instances' states
        lines.append(f"check_stack {stack.stack_name} {stack.region}")
        if stack.kind == "global" and _uses_execution_role(plan):
            lines.append(
                f"check_global_output {stack.stack_name} {stack.region} {EXECUTION_ROLE_OUTPUT}"
            )
        if quotas and stack.needs is not None:
            needs = stack.needs
            lines.append(
                f"check_quotas {stack.region} {needs.elastic_ips} {needs.nat_gateways} "
                f"{needs.vpcs} {needs.reserved_concurrency}"
            )
    seen: set[str] = set()
    for stack in stacks:
        if stack.template_bucket and stack.region not in seen:
            seen.add(stack.region)
            lines += _bucket_check(stack)
    lines.append("preflight_end")
    return lines


def _uses_execution_role(plan: DeployPlan) -> bool:
    return any(stack.role_arn for stack in plan.stacks)


def _bucket_check(stack: PlannedStack) -> list[str]:
    """The first bucket variable that is set, else the region's bootstrap bucket."""
    variables = [s.name for s in stack.template_bucket if isinstance(s, EnvironmentVariable)]
    lines = []
    for index, variable in enumerate(variables):
        keyword = "if" if index == 0 else "elif"
        lines += [
            f'{keyword} [ -n "${{{variable}:-}}" ]; then',
            f"  check_bucket {variable} {stack.region}",
        ]
    lines += ["else", f"  check_bootstrap {stack.region}", "fi"]
    return lines
