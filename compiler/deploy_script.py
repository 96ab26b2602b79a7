"""`deploy.sh`: the deploy plan as the exact AWS CLI commands, in order.

Pure string generation from a `DeployPlan`; the same plan gives the same bytes. The
script needs bash and the AWS CLI only (no jq): values are read with `--query` and
`--output text`. It never names an endpoint, so AWS_ENDPOINT_URL (and
AWS_ENDPOINT_URL_<SERVICE>), which the AWS CLI honours itself, decides where it talks to.

Each stack gets one shell function that reads as the commands it runs; a small fixed
library above them resolves values, prints each command before running it, and with
`--dry-run` runs nothing.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

from compiler.assemble import HEALTH_ALARMS_KIND
from compiler.deploy_bootstrap import BOOTSTRAP_TEMPLATE
from compiler.deploy_plan import (
    STATEFUL_TYPES,
    TEMPLATE_BODY_LIMIT,
    DeployPlan,
    EnvironmentVariable,
    GivenValue,
    PlannedStack,
    RegionalOutput,
    StackInstanceOutput,
    StackOutput,
    TemplateDefault,
)
from compiler.deploy_preflight import PREFLIGHT_LIBRARY, preflight_functions, preflight_name

SCRIPT_PATH = "deploy.sh"

# The fixed shell functions every deploy.sh has, in a real shell file (shellcheck-clean).
LIBRARY = Path(__file__).with_name("deploy_library.sh")
# Shell functions for the bucket-replication pass and `promote`, kept in a real shell file.
FAILOVER_LIBRARY = Path(__file__).with_name("deploy_failover.sh")
# `promote` in one member account of a service-managed StackSet, in a real shell file.
MEMBER_FAILOVER_LIBRARY = Path(__file__).with_name("deploy_member_failover.sh")
# The replication switch of a service-managed StackSet, per account, in a real shell file.
ORG_REPLICATION_LIBRARY = Path(__file__).with_name("deploy_org_replication.sh")
# Shell functions for service-managed StackSets, in a real file.
STACK_SET_LIBRARY = Path(__file__).with_name("deploy_stackset.sh")
# `deploy.sh stackset-plan`, for a StackSet of either permission model.
STACK_SET_PREVIEW_LIBRARY = Path(__file__).with_name("deploy_stackset_preview.sh")
# Shell functions for `plan`, `apply` and `plan --discard` (change sets), in a real shell file.
CHANGESET_LIBRARY = Path(__file__).with_name("deploy_changeset.sh")

# Seconds between polls of a StackSet operation (the CLI has no waiter for them).
STACK_SET_POLL_SECONDS = 15
# Seconds between polls of a deploying stack's events: a few calls a minute, while a
# database alone takes ten minutes or more to create.
STACK_EVENT_POLL_SECONDS = 5


def render_deploy_script(plan: DeployPlan) -> str:
    """The text of deploy.sh for `plan`."""
    regional = plan.by_kind("region")
    global_stacks = plan.by_kind("global")
    stack_sets = plan.by_kind("stackset")
    parts = [
        _header(plan),
        _usage(plan),
        _settings(plan),
        LIBRARY.read_text(encoding="utf-8"),
        PREFLIGHT_LIBRARY.read_text(encoding="utf-8"),
        CHANGESET_LIBRARY.read_text(encoding="utf-8"),
    ]
    health_alarms = plan.by_kind(HEALTH_ALARMS_KIND)
    # Its stack_instance_output reads the health checks of the StackSet's instances too.
    if plan.bucket_replication or plan.promotion or (health_alarms and stack_sets):
        parts.append(FAILOVER_LIBRARY.read_text(encoding="utf-8"))
    if plan.promotion and _service_managed_plan(plan):
        parts.append(MEMBER_FAILOVER_LIBRARY.read_text(encoding="utf-8"))
    if plan.bucket_replication and _service_managed_plan(plan):
        parts.append(ORG_REPLICATION_LIBRARY.read_text(encoding="utf-8"))
    if _service_managed_plan(plan):
        parts.append(STACK_SET_LIBRARY.read_text(encoding="utf-8"))
    if stack_sets:
        parts.append(STACK_SET_PREVIEW_LIBRARY.read_text(encoding="utf-8"))
    parts += [_deploy_function(plan, stack) for stack in [*global_stacks, *regional]]
    parts += [
        _org_stack_set_function(plan, stack)
        if _service_managed(stack)
        else _stack_set_function(plan, stack)
        for stack in stack_sets
    ]
    parts += [_stack_set_preview_function(stack) for stack in stack_sets]
    parts += [_deploy_function(plan, stack) for stack in health_alarms]
    parts.append(preflight_functions(plan))
    parts.append(_main(plan))
    return "\n".join(part.strip("\n") + "\n" for part in parts)


def _settings(plan: DeployPlan) -> str:
    """The values the fixed library reads, as shell variables."""
    tags = " ".join(shlex.quote(f"{k}={v}") for k, v in plan.tags)
    return "\n".join(
        [
            f"STACK_SET_POLL_SECONDS={STACK_SET_POLL_SECONDS}",
            f"STACK_EVENT_POLL_SECONDS={STACK_EVENT_POLL_SECONDS}",
            f"BOOTSTRAP_STACK={plan.bootstrap_stack}",
            f"BOOTSTRAP_TEMPLATE={BOOTSTRAP_TEMPLATE}",
            "# shellcheck disable=SC2034 # the library's bootstrap reads it",
            f"STACK_TAGS=({tags})",
            "# The resource types the stack policy keeps an update from replacing or deleting.",
            "STATEFUL_TYPES='" + ",".join(f'"{t}"' for t in STATEFUL_TYPES) + "'",
        ]
    )


def function_name(stack: PlannedStack) -> str:
    return "deploy_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{stack.kind}_{stack.stack_name}")


def _header(plan: DeployPlan) -> str:
    return f"""#!/usr/bin/env bash
# Deploys {plan.project}: generated by `infra compile` from infra.yaml; do not edit.
# manifest.json beside this file lists the same stacks, in the same order, with where each
# parameter comes from. Run `bash deploy.sh --help` for usage.
set -euo pipefail
"""


def _usage(plan: DeployPlan) -> str:
    global_stacks, regional = plan.by_kind("global"), plan.by_kind("region")
    stack_sets = plan.by_kind("stackset")
    modes = " | ".join(_modes(plan))
    modes = modes.replace("promote", "promote REGION")
    lines = [
        f"Usage: deploy.sh [{modes}] [--bucket NAME] [--dry-run] [--no-preflight]",
        "                 [--allow-stateful-changes] [--skip-delegation-check]",
        "                 [--discard] [--expect FILE]",
        "",
    ]
    lines.append("  stacks      (default) these stacks, in this order:")
    if plan.bootstrap_stack and any(s.template_bucket for s in [*global_stacks, *regional]):
        lines += [
            f"              ({plan.bootstrap_stack} first in each region whose template",
            "              goes through its bucket, unless DEPLOY_BUCKET* names one)",
        ]
    lines += [f"                {s.stack_name} ({s.region})" for s in [*global_stacks, *regional]]
    if plan.bucket_replication:
        lines += [
            f"              then {plan.bucket_replication.stack_name} again, with bucket replication",
            "              on, if the other regions' stacks did not exist before this run",
        ]
    lines += [
        f"              then {s.stack_name} ({s.region}): the health-check alarms"
        for s in plan.by_kind(HEALTH_ALARMS_KIND)
    ]
    for stack_set in stack_sets:
        lines += _stack_set_usage(global_stacks, stack_set)
    if global_stacks:
        lines.append("  global      the global stack only (an account administrator's first step)")
    if plan.promotion and _service_managed_plan(plan):
        lines += [
            "  promote REGION  fail over one account (the caller's, a member account of the",
            "              StackSet): promote REGION's read replica of "
            f"{plan.promotion.identifier} to",
            "              a standalone writer, with backups; the spec stays as it is",
            "              (docs/multi-account.md). One of: "
            f"{', '.join(plan.promotion.replica_regions)}",
        ]
    elif plan.promotion:
        lines += [
            "  promote REGION  fail over: promote REGION's read replica of "
            f"{plan.promotion.identifier} to",
            "              a standalone writer, with backups and a master secret in REGION;",
            "              then put REGION first under regions: (docs/failover.md). One of:",
            f"              {', '.join(plan.promotion.replica_regions)}",
        ]
    lines += [
        "  preflight   only the checklist that stacks runs first: credentials and account,",
        "              each region enabled, the stacks' states, template buckets reachable,",
        "              the quotas a first create hits (Elastic IPs, NAT gateways per AZ, VPCs,",
        "              Lambda concurrency left unreserved); a failed check stops a run before",
        "              any change",
        "  plan        make a change set for every stack above (and each bootstrap stack),",
        "              execute none, and print one report: per stack the resources added,",
        "              modified, replaced and removed; stateful ones replaced or removed are",
        "              called out. Older plan change sets are deleted first. A stack whose",
        "              inputs (another stack's outputs, its template bucket) are not",
        "              deployed yet is not planned.",
        "  apply       execute exactly the change sets plan made, in the order above, with",
        "              the deploy's events, root cause, stack policy and termination",
        "              protection; refuses a stack whose template or values changed since",
        "              the plan. A stack plan left no change set for is left alone.",
        "  --discard   with plan: delete the change sets a plan left, make none",
        "  --expect FILE  with plan: compare with infra diff's prediction",
        "              (`infra diff --expected-changes FILE`, run before compiling) and mark",
        "              each resource where CloudFormation's answer differs",
        "  --bucket    same as DEPLOY_BUCKET=NAME",
        "  --dry-run   print the commands that would change something, run none; makes no",
        "              AWS call, so values read from stacks show as <...> and the StackSet",
        "              as on a first deploy",
        "  --no-preflight  skip the checklist",
        "  --allow-stateful-changes  let this run's updates replace or delete databases,",
        "              buckets, keys, VPCs and the zone, which every stack's policy denies",
        "              otherwise (every stack also gets termination protection)",
        "  --skip-delegation-check  go on after the global stack even if the public DNS does",
        "              not delegate its new zone yet (regions that request a certificate",
        "              validated in that zone wait for it until CloudFormation gives up)",
        "  -h, --help  this text",
        "",
        "Re-running is safe: `cloudformation deploy` leaves a stack without changes alone",
        "(--no-fail-on-empty-changeset); an existing StackSet is updated, and instances are",
        "created only in regions that lack one.",
    ]
    uploaded = [stack for stack in plan.stacks if stack.template_bucket]
    if uploaded:
        lines += [
            "",
            f"Templates over {TEMPLATE_BODY_LIMIT:,} bytes are uploaded to an S3 bucket in the "
            "stack's own",
            "region first (CloudFormation cannot read them from another region's bucket):",
            "the first of these that is set, else the bucket of the region's bootstrap stack",
            f"{plan.bootstrap_stack} ({BOOTSTRAP_TEMPLATE}), which is created first if missing:",
        ]
        width = max(len(stack.stack_name) for stack in uploaded)
        for stack in uploaded:
            sources = ", ".join(
                f"${source.name}"
                for source in stack.template_bucket
                if isinstance(source, EnvironmentVariable)
            )
            lines.append(f"  {stack.stack_name.ljust(width)}  {sources}")
    lines += [
        "",
        "AWS_PROFILE, AWS_ENDPOINT_URL and the other AWS CLI settings apply as usual.",
    ]
    body = "\n".join(line.rstrip() for line in lines)
    return f"usage() {{\n  cat <<'USAGE'\n{body}\nUSAGE\n}}\n"


def _stack_set_usage(global_stacks: list[PlannedStack], stack_set: PlannedStack) -> list[str]:
    regions = ", ".join(stack_set.instance_regions)
    if _service_managed(stack_set):
        deployment = stack_set.deployment
        lines = [
            f"  stackset    the service-managed StackSet {stack_set.stack_name} (administered in",
            f"              {stack_set.region}, --call-as {deployment.call_as}), with a stack "
            "instance in each of",
            f"              {regions}, in every account of",
            f"              {', '.join(deployment.organizational_unit_ids)}; run it from the "
            "management account",
            "              or the delegated administrator (docs/multi-account.md)",
        ]
    else:
        first = f"{global_stacks[0].stack_name}, then " if global_stacks else ""
        lines = [
            f"  stackset    instead: {first}the StackSet {stack_set.stack_name}",
            f"              (administered in {stack_set.region}) with a stack instance in each of",
            f"              {regions}, in the caller's account. One way or the",
            "              other, not both: the two create the same named resources.",
        ]
    return lines + [
        "  stackset-plan  what stackset would change, read-only: CloudFormation has no change",
        "              set for StackSets, so it compares the deployed template with this one",
        "              and lists the stack instances a run would create",
    ]


def _modes(plan: DeployPlan) -> dict[str, list[str]]:
    """Each subcommand and the lines it runs: mostly stack functions, in order."""
    global_calls = [function_name(s) for s in plan.by_kind("global")]
    delegation = plan.delegation
    # Before the first stack that requests a certificate validated in the zone.
    await_delegation = (
        [
            f"await_delegation {delegation.zone_name} {delegation.stack_name} "
            f"{delegation.region} {delegation.output}"
        ]
        if delegation
        else []
    )
    # Last, once every region's health check exists; told where to read them from.
    health_alarms = [function_name(s) for s in plan.by_kind(HEALTH_ALARMS_KIND)]
    modes = {
        "stacks": [
            _preflight("stacks"),
            *global_calls,
            *await_delegation,
            *_regional_calls(plan),
            *[f"{call} stacks" for call in health_alarms],
        ]
    }
    stack_sets = plan.by_kind("stackset")
    if stack_sets:
        # A service-managed StackSet's instances need nothing of this account's global stack.
        first = [] if any(_service_managed(s) for s in stack_sets) else global_calls
        modes["stackset"] = [
            _preflight("stackset"),
            *first,
            *(await_delegation if first else []),
            *[function_name(s) for s in stack_sets],
            # A member account's health checks are its own: the alarms of this account's
            # health-alarms stack cannot name them (docs/multi-account.md).
            *([f"{call} stackset" for call in health_alarms] if first else []),
        ]
        modes["stackset-plan"] = [preview_function_name(s) for s in stack_sets]
    stack_set_names = " ".join(s.stack_name for s in stack_sets)
    modes["plan"] = [
        "plan_begin",
        *global_calls,
        *_regional_calls(plan),
        *[f"{call} stacks" for call in health_alarms],
        f"plan_end {stack_set_names}".rstrip(),
    ]
    modes["apply"] = [
        "apply_begin",
        _preflight("stacks"),
        *global_calls,
        *await_delegation,
        *_regional_calls(plan),
        *[f"{call} stacks" for call in health_alarms],
    ]
    if global_calls:
        modes["global"] = [_preflight("global"), *global_calls]
    modes["preflight"] = [preflight_name("stacks")]
    if plan.promotion:
        modes["promote"] = _promote_lines(plan)
    return modes


def _preflight(mode: str) -> str:
    """The checklist before the first change; --dry-run makes no AWS call at all."""
    return f'[ "$DRY_RUN" = true ] || [ "$PREFLIGHT" = false ] || {preflight_name(mode)}'


def _regional_calls(plan: DeployPlan) -> list[str]:
    """The regional stacks in spec order; with bucket replication, the writer region's
    twice on a first deploy: replication off (its database goes before the replicas),
    then on once the other regions' buckets exist (see deploy_plan.BucketReplicationPass)."""
    regional = plan.by_kind("region")
    passes = plan.bucket_replication
    if passes is None:
        return [function_name(s) for s in regional]
    pairs = " ".join(f"{name} {region}" for name, region in passes.destinations)
    lines = [f'replicate="$(replication_ready {pairs})"']
    for stack in regional:
        call = function_name(stack)
        lines.append(f'{call} "$replicate"' if _replicates_buckets(plan, stack) else call)
    writer = next(s for s in regional if _replicates_buckets(plan, s))
    lines.append(f'[ "$replicate" = true ] || {function_name(writer)} true')
    return lines


def _promote_lines(plan: DeployPlan) -> list[str]:
    promotion = plan.promotion
    member = _service_managed_plan(plan)
    regions = " | ".join(promotion.replica_regions)
    return [
        '[ -n "$promote_region" ] || fail "promote needs a REGION: one of '
        + ", ".join(promotion.replica_regions)
        + '"',
        'case "$promote_region" in',
        f"  {regions})",
        f'    {"promote_member_replica" if member else "promote_replica"} "$promote_region" '
        f"{promotion.identifier} {promotion.backup_retention_days}"
        + ("" if member else f" {plan.primary_region}"),
        "    ;;",
        f'  *) fail "promote: $promote_region holds no replica (replicas: '
        f'{", ".join(promotion.replica_regions)})" ;;',
        "esac",
    ]


def _assign(variable: str, source: StackOutput) -> str:
    return f"  read_output {variable} {source.stack_name} {source.region} {source.output}"


def _bucket_lines(stack: PlannedStack) -> list[str]:
    """Set `bucket`: the first variable set, else the region's bootstrap bucket (the stack
    output last among the sources), bootstrapping the region first if need be."""
    variables = [s.name for s in stack.template_bucket if isinstance(s, EnvironmentVariable)]
    (output,) = [s for s in stack.template_bucket if isinstance(s, StackOutput)]
    expression = ""
    for name in reversed(variables):  # ${FIRST:-${SECOND:-}}
        expression = f"${{{name}:-{expression}}}"
    return [
        f'  bucket="{expression}"',
        '  if [ -z "$bucket" ]; then',
        f"    bootstrap {output.region}",
        "  " + _assign("bucket", output),
        "  fi",
    ]


def _values(stack: PlannedStack) -> tuple[list[str], list[str]]:
    """Local variables and the lines that fill them: everything read before deploying."""
    names, lines = [], []
    if stack.template_bucket:
        names.append("bucket")
        lines += _bucket_lines(stack)
    if stack.role_arn:
        names.append("role_arn")
        lines.append(_assign("role_arn", stack.role_arn))
    roles = stack.stack_set_roles
    if roles and roles.administration_role_arn:
        names.append("administration_role_arn")
        lines.append(_assign("administration_role_arn", roles.administration_role_arn))
    if roles and roles.execution_role_name:
        names.append("execution_role_name")
        lines.append(_assign("execution_role_name", roles.execution_role_name))
    for parameter in stack.passed_parameters:
        variable = f"param_{parameter.name}"
        if isinstance(parameter.source, (GivenValue, TemplateDefault)):
            names.append(f"{variable}={shlex.quote(parameter.source.value)}")
        elif isinstance(parameter.source, RegionalOutput):
            names.append(variable)
            lines += _regional_output_lines(variable, parameter.source)
        else:
            names.append(variable)
            lines.append(_assign(variable, parameter.source))
    return names, lines


def _regional_output_lines(variable: str, source: RegionalOutput) -> list[str]:
    """Read `source` from the region's stack, or from the StackSet's instance there when
    the function's first argument says the regions were deployed as a StackSet."""
    return [
        '  if [ "$1" = stackset ]; then',
        f"    stack_instance_output {variable} {source.stack_set_name} {source.admin_region} "
        f'"$(caller_account {source.admin_region})" {source.region} {source.output}',
        "  else",
        "  " + _assign(variable, StackOutput(source.stack_name, source.region, source.output)),
        "  fi",
    ]


def _continued(command: list[str], indent: str = "  ") -> str:
    """A command with one option (and its values) per line."""
    lines, current = [], indent + command[0]
    for word in command[1:]:
        if word.startswith("--"):
            lines.append(current)
            current = indent + "  " + word
        else:
            current += " " + word
    lines.append(current)
    return " \\\n".join(lines)


def _function(stack: PlannedStack, comment: list[str], body: list[str]) -> str:
    """A shell function; `comment`: its paragraphs, wrapped above it."""
    text = "\n".join(
        textwrap.fill(
            paragraph,
            width=90,
            initial_indent="# ",
            subsequent_indent="# ",
            break_on_hyphens=False,  # stack names and paths stay whole
            break_long_words=False,
        )
        for paragraph in comment
    )
    return f"{text}\n{function_name(stack)}() {{\n" + "\n".join(body) + "\n}\n"


def _replicates_buckets(plan: DeployPlan, stack: PlannedStack) -> bool:
    passes = plan.bucket_replication
    return bool(passes) and stack.kind == "region" and stack.stack_name == passes.stack_name


def _single_quoted(text: str) -> str:
    """Always quoted, so that shellcheck (SC2054) reads `Key=a,Value=b` as one word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _deploy_function(plan: DeployPlan, stack: PlannedStack) -> str:
    names, body = _values(stack)
    command = [
        f"deploy_stack {stack.region} {stack.stack_name} aws cloudformation deploy",
        f"--region {stack.region}",
        f"--stack-name {stack.stack_name}",
        f'--template-file "$HERE/{stack.template}"',
    ]
    if stack.template_bucket:
        command += ['--s3-bucket "$bucket"', f"--s3-prefix {stack.stack_name}"]
    if stack.capabilities:
        command.append("--capabilities " + " ".join(stack.capabilities))
    if stack.role_arn:
        command.append('--role-arn "$role_arn"')
    overrides = [f'"{p.name}=$param_{p.name}"' for p in stack.passed_parameters]
    replicating = _replicates_buckets(plan, stack)
    if replicating:
        names.insert(0, 'replicate="$1"')
        overrides.append(f'"{plan.bucket_replication.parameter}=$replicate"')
    if overrides:
        command.append("--parameter-overrides " + " ".join(overrides))
    command.append("--tags " + " ".join(shlex.quote(f"{k}={v}") for k, v in plan.tags))
    command.append("--no-fail-on-empty-changeset")
    what = {
        "global": "the global stack",
        HEALTH_ALARMS_KIND: "the other regions' health-check alarms",
    }.get(stack.kind, "the regional stack")
    comment = [f"{stack.stack_name} in {stack.region}: {what}, from {stack.template}."]
    if stack.role_arn:
        comment[0] += (
            f" CloudFormation acts as the execution role ({stack.role_arn.output} of "
            f"{stack.role_arn.stack_name}): whoever runs this needs only to pass that role "
            "(iam:PassRole), not rights to every resource the stack creates, and every later "
            "update or delete of the stack uses the same role."
        )
    if replicating:
        comment.append(
            f"Its first argument, true or false, sets {plan.bucket_replication.parameter}: "
            "whether its buckets replicate to the other regions, whose buckets must exist first."
        )
    if stack.kind == HEALTH_ALARMS_KIND:
        comment.append(
            "Its first argument, stacks or stackset, says where the health-check IDs are: "
            "the regional stacks' outputs or the StackSet instances'. It runs with the "
            "caller's own credentials, like the global stack: the deploy roles may act in "
            "the spec's regions only, and us-east-1 need not be one."
        )
    if stack.kind == "global":
        comment[0] += (
            " It creates what the stacks after it use (the execution role among them), so it "
            "runs with the caller's own credentials."
        )
    local = [f"  local {' '.join(names)}"] if names else []
    return _function(stack, comment, [*local, *body, _continued(command)])


def _stack_set_function(plan: DeployPlan, stack: PlannedStack) -> str:
    names, body = _template_settings(stack)
    name, region = stack.stack_name, stack.region
    settings = []
    if stack.capabilities:
        settings.append("--capabilities " + " ".join(stack.capabilities))
    parameters = [
        f'"ParameterKey={p.name},ParameterValue=$param_{p.name}"' for p in stack.passed_parameters
    ]
    writer_secret = _writer_instance_parameter(stack)
    if writer_secret:
        parameters.append(f'"ParameterKey={writer_secret.name},ParameterValue=$writer_secret"')
    passes = plan.bucket_replication
    if passes:
        parameters.append(f'"ParameterKey={passes.parameter},ParameterValue=$replicate"')
    if parameters:
        settings.append("--parameters " + " ".join(parameters))
    roles = stack.stack_set_roles
    if roles and roles.administration_role_arn:
        settings.append('--administration-role-arn "$administration_role_arn"')
    if roles and roles.execution_role_name:
        settings.append('--execution-role-name "$execution_role_name"')
    settings.append(
        "--tags " + " ".join(_single_quoted(f"Key={k},Value={v}") for k, v in plan.tags)
    )
    regions = " ".join(stack.instance_regions)
    update = [
        '    operation="$(',
        _continued(
            [
                "run_operation aws cloudformation update-stack-set",
                f"--region {region}",
                f'--stack-set-name {name} "${{settings[@]}}"',
                "--query OperationId --output text",
            ],
            indent="      ",
        ),
        '    )"',
        f'    wait_for_operation {name} {region} "$operation"',
    ]
    body += [
        f'  account="$(caller_account {region})"',
        f"  if stack_set_exists {name} {region}; then",
        "    exists=true",
        f'    existing=" $(instance_regions {name} {region} "$account") "',
        f"    for instance_region in {regions}; do",
        '      case "$existing" in',
        '        *[[:space:]]"$instance_region"[[:space:]]*) ;;',
        '        *) missing+=("$instance_region") ;;',
        "      esac",
        "    done",
    ]
    if passes:
        # Replication on at once only if every instance (every destination bucket) exists.
        body.append('    [ "${#missing[@]}" -gt 0 ] || replicate=true')
    body += [
        "  else",
        f"    missing=({regions})",
        "  fi",
    ]
    if writer_secret:
        body += _read_writer_secret(stack, writer_secret, "  ", unless_missing=True)
    body += [
        "  settings+=(",
        *[f"    {line}" for line in settings],
        "  )",
        '  if [ "$exists" = true ]; then',
        *update,
        "  else",
        _continued(
            [
                "run aws cloudformation create-stack-set",
                f"--region {region}",
                f'--stack-set-name {name} "${{settings[@]}}"',
                "--query StackSetId --output text",
            ],
            indent="    ",
        ),
        "  fi",
    ]
    if writer_secret:
        body += _writer_instance_first(stack, writer_secret, update)
    body += [
        '  if [ "${#missing[@]}" -gt 0 ]; then',
        # In the StackSet's region order (`missing` keeps it): the writer region's database
        # exists before a replica names it as its source.
        '    order="$(printf \',"%s"\' "${missing[@]}")"',
        *_self_managed_preferences(stack),
        '    operation="$(',
        _continued(
            [
                "run_operation aws cloudformation create-stack-instances",
                f"--region {region}",
                f"--stack-set-name {name}",
                '--accounts "$account"',
                '--regions "${missing[@]}"',
                '--operation-preferences "$preferences"',
                "--query OperationId --output text",
            ],
            indent="      ",
        ),
        '    )"',
        f'    wait_for_operation {name} {region} "$operation"',
        "  fi",
    ]
    if passes:
        off = f"ParameterKey={passes.parameter},ParameterValue=false"
        on = off.replace("=false", "=true")
        body += [
            # Every instance (every destination bucket) exists now: switch replication on.
            '  if [ "$replicate" = false ]; then',
            "    replicate=true",
            f'    settings=("${{settings[@]/#{off}/{on}}}")',
            *update,
            "  fi",
        ]
    names += ["operation", "account", "existing", "instance_region", "order", "preferences"]
    names.append("exists=false")
    if passes:
        names.append("replicate=false")
    if writer_secret:
        names.append("writer_secret=''")
    comment = [
        f"{name}: the StackSet, administered in {region}, from {stack.template}; one stack "
        f"instance in each of {regions}, in the account this runs as. Its parameters are set "
        "on the StackSet, so every instance gets the same values."
    ]
    if writer_secret:
        comment.append(
            f"{writer_secret.name} is the {writer_secret.source.output} output of the "
            f"{writer_secret.source.region} instance, which is therefore created first and "
            "alone when missing; the StackSet is then updated with it before the other "
            "instances (the replicas, which read that secret) are created."
        )
    if roles and roles.administration_role_arn:
        comment[0] += " CloudFormation acts through the global stack's StackSet roles."
    else:
        comment[0] += (
            " Self-managed permissions: CloudFormation acts through the roles "
            "AWSCloudFormationStackSetAdministrationRole and "
            "AWSCloudFormationStackSetExecutionRole, which must exist beforehand."
        )
    local = [f"  local {' '.join(names)}", "  local -a settings missing=()"]
    return _function(stack, comment, [*local, *body])


def _writer_instance_parameter(stack: PlannedStack):
    """The StackSet parameter read from the writer region's instance, if any."""
    found = [p for p in stack.parameters if isinstance(p.source, StackInstanceOutput)]
    return found[0] if found else None


def _read_writer_secret(stack, parameter, indent: str, unless_missing: bool) -> list[str]:
    source = parameter.source
    read = (
        f"stack_instance_output writer_secret {stack.stack_name} {stack.region} "
        f'"$account" {source.region} {source.output}'
    )
    if not unless_missing:
        return [indent + read]
    # Only an instance that exists has outputs; `missing` keeps the spec's order.
    return [
        f'{indent}case " ${{missing[*]}} " in',
        f'{indent}  *" {source.region} "*) ;;',
        f"{indent}  *) {read} ;;",
        f"{indent}esac",
    ]


def _writer_instance_first(stack, parameter, update: list[str]) -> list[str]:
    """Create the writer region's missing instance alone, then set its secret's ARN on the
    StackSet, so that the replica instances created next get it."""
    region = parameter.source.region
    key = f"ParameterKey={parameter.name},ParameterValue="
    return [
        f'  if [ "${{missing[0]:-}}" = {region} ]; then',
        '    operation="$(',
        _continued(
            [
                "run_operation aws cloudformation create-stack-instances",
                f"--region {stack.region}",
                f"--stack-set-name {stack.stack_name}",
                '--accounts "$account"',
                f"--regions {region}",
                "--query OperationId --output text",
            ],
            indent="      ",
        ),
        '    )"',
        f'    wait_for_operation {stack.stack_name} {stack.region} "$operation"',
        '    missing=("${missing[@]:1}")',
        *_read_writer_secret(stack, parameter, "    ", unless_missing=False),
        f'    settings=("${{settings[@]/#{key}*/{key}$writer_secret}}")',
        *update,
        "  fi",
    ]


def _main_locals(plan: DeployPlan) -> list[str]:
    names = ["mode=stacks", "PREFLIGHT=true", "DELEGATION_CHECK=true"]
    if plan.bucket_replication:
        names.append("replicate=''")
    if plan.promotion:
        names.append("promote_region=''")
    return names


def _main(plan: DeployPlan) -> str:
    modes = _modes(plan)
    cases = []
    for mode, calls in modes.items():
        cases += [f"    {mode})"] + [f"      {call}" for call in calls] + ["      ;;"]
    return "\n".join(
        [
            "main() {",
            "  local " + " ".join(_main_locals(plan)),
            '  while [ "$#" -gt 0 ]; do',
            '    case "$1" in',
            f'      {" | ".join(m for m in modes if m != "promote")}) mode="$1" ;;',
            *(
                [
                    "      promote)",
                    '        mode="$1"',
                    '        if [ "$#" -ge 2 ] && [ "${2#-}" = "$2" ]; then',
                    '          promote_region="$2"',
                    "          shift",
                    "        fi",
                    "        ;;",
                ]
                if "promote" in modes
                else []
            ),
            "      --dry-run) DRY_RUN=true ;;",
            "      --no-preflight) PREFLIGHT=false ;;",
            "      --skip-delegation-check) DELEGATION_CHECK=false ;;",
            "      --allow-stateful-changes) ALLOW_STATEFUL_CHANGES=true ;;",
            "      --discard) PLAN_DISCARD=true ;;",
            "      --expect)",
            '        [ "$#" -ge 2 ] || fail "--expect needs a file"',
            '        PLAN_EXPECT="$2"',
            "        shift",
            "        ;;",
            "      --bucket)",
            '        [ "$#" -ge 2 ] || fail "--bucket needs a bucket name"',
            '        DEPLOY_BUCKET="$2"',
            "        shift",
            "        ;;",
            "      -h | --help)",
            "        usage",
            "        return 0",
            "        ;;",
            "      *)",
            "        usage >&2",
            '        fail "unknown argument: $1"',
            "        ;;",
            "    esac",
            "    shift",
            "  done",
            '  if [ "$DRY_RUN" = false ] && ! command -v aws >/dev/null; then',
            '    fail "the AWS CLI (aws) is not on PATH"',
            "  fi",
            '  case "$mode" in',
            *cases,
            "  esac",
            "}",
            "",
            'main "$@"',
        ]
    )


def _service_managed_plan(plan: DeployPlan) -> bool:
    """The plan deploys a service-managed StackSet: `promote` fails over one member account
    (the spec cannot record it: database.promoted is refused there), and the replication
    switch is set per account (deploy_org_replication.sh)."""
    return any(_service_managed(s) for s in plan.by_kind("stackset"))


def _service_managed(stack: PlannedStack) -> bool:
    return bool(stack.deployment and stack.deployment.service_managed)


def _self_managed_preferences(stack: PlannedStack) -> list[str]:
    """The lines that set `preferences` (the --operation-preferences JSON) from the spec's
    `stackset.operation_preferences`, for the regions in `order`."""
    deployment = stack.deployment
    (max_key, max_value), (tolerance_key, tolerance) = (
        deployment.max_concurrent,
        deployment.failure_tolerance,
    )
    mode = (
        f'"ConcurrencyMode":"{deployment.concurrency_mode}",'
        if deployment.concurrency_mode != "STRICT_FAILURE_TOLERANCE"
        else ""
    )
    return [
        f'    preferences=\'{{"RegionConcurrencyType":"{deployment.region_concurrency}",'
        f'"{max_key}":{max_value},\'',
        f'    preferences+=\'"{tolerance_key}":{tolerance},{mode}"RegionOrder":[\'"${{order#,}}"\']}}\'',
    ]


def _template_settings(stack: PlannedStack) -> tuple[list[str], list[str]]:
    """The lines that upload the StackSet's template if it goes through S3, and set
    `settings` to --template-url or --template-body; with the locals they use."""
    names, body = _values(stack)
    name, region = stack.stack_name, stack.region
    if stack.template_bucket:
        key = f"{name}/{stack.sha256}.json"
        body += [
            _continued(
                [
                    "run aws s3 cp",
                    f'"$HERE/{stack.template}" "s3://$bucket/{key}"',
                    f"--region {region}",
                ]
            ),
            f'  url="$(template_url "$bucket" {key} {region})"',
            '  settings=(--template-url "$url")',
        ]
        names.append("url")
    else:
        body.append(f'  settings=(--template-body "file://$HERE/{stack.template}")')
    return names, body


def _org_stack_set_function(plan: DeployPlan, stack: PlannedStack) -> str:
    """A service-managed StackSet: one call of deploy_stackset.sh's deploy_org_stack_set
    with the plan's values (see that function for what it does)."""
    deployment = stack.deployment
    names, body = _template_settings(stack)
    settings = []
    if stack.capabilities:
        settings.append("--capabilities " + " ".join(stack.capabilities))
    parameters = [
        f'"ParameterKey={p.name},ParameterValue=$param_{p.name}"' for p in stack.passed_parameters
    ]
    passes = plan.bucket_replication
    if passes:
        parameters.append(f'"ParameterKey={passes.parameter},ParameterValue=false"')
    if parameters:
        settings.append("--parameters " + " ".join(parameters))
    settings.append(
        "--tags " + " ".join(_single_quoted(f"Key={k},Value={v}") for k, v in plan.tags)
    )
    enabled, retain = deployment.auto_deployment or (True, False)
    auto = f"Enabled={str(enabled).lower()},RetainStacksOnAccountRemoval={str(retain).lower()}"
    preferences = " ".join(
        [
            deployment.region_concurrency,
            *map(str, deployment.max_concurrent),
            *map(str, deployment.failure_tolerance),
            deployment.concurrency_mode,
        ]
    )
    ous, regions = " ".join(deployment.organizational_unit_ids), " ".join(stack.instance_regions)
    body += [
        "  settings+=(",
        *[f"    {line}" for line in settings],
        "  )",
        " \\\n    ".join(
            [
                f"  deploy_org_stack_set {stack.stack_name} {stack.region} {deployment.call_as}",
                auto,
                f"'{preferences}'",
                f"'{ous}'",
                f"'{regions}'",
                '"${settings[@]}"',
            ]
        ),
    ]
    if passes:
        body.append(
            f"  org_switch_on {stack.stack_name} {stack.region} {deployment.call_as} "
            f"'{preferences}' {passes.parameter} '{ous}' '{regions}'"
        )
    regions = ", ".join(stack.instance_regions)
    comment = [
        f"{stack.stack_name}: the service-managed StackSet, administered in {stack.region} "
        f"(called as {deployment.call_as}), from {stack.template}; a stack instance in each of "
        f"{regions} in every account of {', '.join(deployment.organizational_unit_ids)}. "
        "CloudFormation acts through the roles AWS Organizations' trusted access makes in each "
        "account; each instance reads its account's hosted zone from SSM "
        "(docs/multi-account.md)."
    ]
    local = [f"  local {' '.join(names)}"] if names else []
    return _function(stack, comment, [*local, "  local -a settings", *body])


def preview_function_name(stack: PlannedStack) -> str:
    return function_name(stack).replace("deploy_", "preview_", 1)


def _stack_set_preview_function(stack: PlannedStack) -> str:
    """What `deploy.sh stackset-plan` prints: the StackSet's template against the deployed
    one, and the stack instances a run would create (no change sets exist for StackSets)."""
    deployment = stack.deployment
    service_managed = _service_managed(stack)
    call_as = deployment.call_as if service_managed else "-"
    ous = " ".join(deployment.organizational_unit_ids) if service_managed else "-"
    command = (
        f'  stack_set_preview {stack.stack_name} {stack.region} {call_as} "$HERE/{stack.template}"'
        f" '{ous}' '{' '.join(stack.instance_regions)}'"
    )
    comment = f"# {stack.stack_name}: what `stackset` would change, read-only.\n"
    return f"{comment}{preview_function_name(stack)}() {{\n{command}\n}}\n"
