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

from compiler.deploy_plan import (
    TEMPLATE_BODY_LIMIT,
    DeployPlan,
    EnvironmentVariable,
    GivenValue,
    PlannedStack,
    StackInstanceOutput,
    StackOutput,
)

SCRIPT_PATH = "deploy.sh"

# Shell functions for the bucket-replication pass and `promote`, kept in a real shell file.
FAILOVER_LIBRARY = Path(__file__).with_name("deploy_failover.sh")

# Seconds between polls of a StackSet operation (the CLI has no waiter for them).
STACK_SET_POLL_SECONDS = 15

_LIBRARY = r"""
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DRY_RUN=false
exec 3>&1 # trace lines go to the script's stdout, also from inside $(...)

fail() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 1
}

# One argument as a shell would need it written: quoted only if it has to be.
quote() {
  case "$1" in
    '' | *[!A-Za-z0-9_./:=,@%+-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Print a command as `+ aws ...`, like `set -x` would.
show() {
  local line="+" arg
  for arg in "$@"; do
    line+=" $(quote "$arg")"
  done
  printf '%s\n' "$line" >&3
}

# Print, then run (not under --dry-run), a command that changes something.
run() {
  show "$@"
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  "$@"
}

# Like run, for a command that prints a StackSet operation ID (its only output).
run_operation() {
  show "$@"
  if [ "$DRY_RUN" = true ]; then
    printf '<operation id>'
    return 0
  fi
  "$@"
}

# Set variable VARIABLE to output OUTPUT of stack STACK in REGION. A stack's outputs are
# read once and kept in a variable of their own (no associative arrays: macOS has bash 3.2).
read_output() {
  local _variable="$1" _stack="$2" _region="$3" _output="$4" _cache _outputs _key _value
  local _found=""
  if [ "$DRY_RUN" = true ]; then
    printf -v "$_variable" '<%s output of %s>' "$_output" "$_stack"
    return 0
  fi
  _cache="OUTPUTS_$(printf '%s_%s' "$_stack" "$_region" | tr -c 'A-Za-z0-9_' '_')"
  if [ -z "${!_cache:-}" ]; then
    _outputs="$(aws cloudformation describe-stacks --region "$_region" --stack-name "$_stack" \
      --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)"
    printf -v "$_cache" '%s\n' "$_outputs"
  fi
  while IFS=$'\t' read -r _key _value; do
    if [ "$_key" = "$_output" ]; then
      _found="$_value"
    fi
  done <<<"${!_cache}"
  if [ -z "$_found" ] || [ "$_found" = None ]; then
    fail "stack $_stack ($_region) has no output $_output: is it deployed?"
  fi
  printf -v "$_variable" '%s' "$_found"
}

# Called when no bucket is set for a template too large to send inline.
missing_bucket() {
  local variable="$1" region="$2" template="$3" bytes="$4"
  if [ "$DRY_RUN" = true ]; then
    printf '<$%s>' "$variable"
    return 0
  fi
  fail "$template is $bytes bytes, over CloudFormation's __LIMIT__-byte limit for a template" \
    "sent inline: set $variable to an S3 bucket in $region to upload it to"
}

# The HTTPS URL of s3://BUCKET/KEY as the AWS CLI addresses S3 (AWS_ENDPOINT_URL included):
# a presigned URL without its signature, since CloudFormation reads the template with the
# caller's own credentials. Presigning is local: no request is made.
template_url() {
  local url
  if [ "$DRY_RUN" = true ]; then
    printf '<URL of s3://%s/%s>' "$1" "$2"
    return 0
  fi
  url="$(aws s3 presign "s3://$1/$2" --region "$3")"
  printf '%s' "${url%%\?*}"
}

# Whether StackSet SET exists in REGION; any other error than "not found" stops the script.
stack_set_exists() {
  local error
  if [ "$DRY_RUN" = true ]; then
    return 1
  fi
  if error="$(aws cloudformation describe-stack-set --region "$2" --stack-set-name "$1" \
    --query StackSet.Status --output text 2>&1 >/dev/null)"; then
    return 0
  fi
  case "$error" in
    *StackSetNotFoundException*) return 1 ;;
    *) fail "$error" ;;
  esac
}

# The account the AWS CLI runs as: StackSet instances go there.
caller_account() {
  if [ "$DRY_RUN" = true ]; then
    printf '<account>'
    return 0
  fi
  aws sts get-caller-identity --query Account --output text
}

# Regions, separated by blanks, where StackSet SET already has an instance in ACCOUNT.
instance_regions() {
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  aws cloudformation list-stack-instances --region "$2" --stack-set-name "$1" \
    --query "Summaries[?Account=='$3'].Region" --output text
}

# Wait for StackSet operation OPERATION of SET (administered in REGION) to succeed.
wait_for_operation() {
  local set="$1" region="$2" operation="$3" status
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  while true; do
    status="$(aws cloudformation describe-stack-set-operation --region "$region" \
      --stack-set-name "$set" --operation-id "$operation" \
      --query StackSetOperation.Status --output text)"
    case "$status" in
      SUCCEEDED) return 0 ;;
      RUNNING | QUEUED | STOPPING) sleep __POLL__ ;;
      *) fail "StackSet $set operation $operation ended $status; see aws cloudformation" \
        "list-stack-set-operation-results --region $region --stack-set-name $set" \
        "--operation-id $operation" ;;
    esac
  done
}
"""


def render_deploy_script(plan: DeployPlan) -> str:
    """The text of deploy.sh for `plan`."""
    regional = plan.by_kind("region")
    global_stacks = plan.by_kind("global")
    stack_sets = plan.by_kind("stackset")
    parts = [
        _header(plan),
        _usage(plan),
        _LIBRARY.replace("__LIMIT__", f"{TEMPLATE_BODY_LIMIT:,}").replace(
            "__POLL__", str(STACK_SET_POLL_SECONDS)
        ),
    ]
    if plan.bucket_replication or plan.promotion:
        parts.append(FAILOVER_LIBRARY.read_text(encoding="utf-8"))
    parts += [_deploy_function(plan, stack) for stack in [*global_stacks, *regional]]
    parts += [_stack_set_function(plan, stack) for stack in stack_sets]
    parts.append(_main(plan))
    return "\n".join(part.strip("\n") + "\n" for part in parts)


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
    lines = [f"Usage: deploy.sh [{modes}] [--bucket NAME] [--dry-run]", ""]
    lines.append("  stacks      (default) these stacks, in this order:")
    lines += [f"                {s.stack_name} ({s.region})" for s in [*global_stacks, *regional]]
    if plan.bucket_replication:
        lines += [
            f"              then {plan.bucket_replication.stack_name} again, with bucket replication",
            "              on, if the other regions' stacks did not exist before this run",
        ]
    for stack_set in stack_sets:
        first = f"{global_stacks[0].stack_name}, then " if global_stacks else ""
        lines += [
            f"  stackset    instead: {first}the StackSet {stack_set.stack_name}",
            f"              (administered in {stack_set.region}) with a stack instance in each of",
            f"              {', '.join(stack_set.instance_regions)}, in the caller's account. "
            "One way or the",
            "              other, not both: the two create the same named resources.",
        ]
    if global_stacks:
        lines.append("  global      the global stack only (an account administrator's first step)")
    if plan.promotion:
        lines += [
            "  promote REGION  fail over: promote REGION's read replica of "
            f"{plan.promotion.identifier} to",
            "              a standalone writer, with backups and a master secret in REGION;",
            "              then put REGION first under regions: (docs/failover.md). One of:",
            f"              {', '.join(plan.promotion.replica_regions)}",
        ]
    lines += [
        "  --bucket    same as DEPLOY_BUCKET=NAME",
        "  --dry-run   print the commands that would change something, run none; makes no",
        "              AWS call, so values read from stacks show as <...> and the StackSet",
        "              as on a first deploy",
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
            "region first (CloudFormation cannot read them from another region's bucket),",
            "first of these that is set:",
        ]
        width = max(len(stack.stack_name) for stack in uploaded)
        for stack in uploaded:
            sources = ", ".join(_describe_source(source) for source in stack.template_bucket)
            lines.append(f"  {stack.stack_name.ljust(width)}  {sources}")
    lines += [
        "",
        "AWS_PROFILE, AWS_ENDPOINT_URL and the other AWS CLI settings apply as usual.",
    ]
    body = "\n".join(line.rstrip() for line in lines)
    return f"usage() {{\n  cat <<'USAGE'\n{body}\nUSAGE\n}}\n"


def _describe_source(source) -> str:
    if isinstance(source, EnvironmentVariable):
        return f"${source.name}"
    return f"output {source.output} of {source.stack_name}"


def _modes(plan: DeployPlan) -> dict[str, list[str]]:
    """Each subcommand and the lines it runs: mostly stack functions, in order."""
    global_calls = [function_name(s) for s in plan.by_kind("global")]
    modes = {"stacks": global_calls + _regional_calls(plan)}
    stack_sets = plan.by_kind("stackset")
    if stack_sets:
        modes["stackset"] = global_calls + [function_name(s) for s in stack_sets]
    if global_calls:
        modes["global"] = global_calls
    if plan.promotion:
        modes["promote"] = _promote_lines(plan)
    return modes


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
    regions = " | ".join(promotion.replica_regions)
    return [
        '[ -n "$promote_region" ] || fail "promote needs a REGION: one of '
        + ", ".join(promotion.replica_regions)
        + '"',
        'case "$promote_region" in',
        f"  {regions})",
        f'    promote_replica "$promote_region" {promotion.identifier} '
        f"{promotion.backup_retention_days} {plan.primary_region}",
        "    ;;",
        f'  *) fail "promote: $promote_region holds no replica (replicas: '
        f'{", ".join(promotion.replica_regions)})" ;;',
        "esac",
    ]


def _assign(variable: str, source: StackOutput) -> str:
    return f"  read_output {variable} {source.stack_name} {source.region} {source.output}"


def _bucket_lines(stack: PlannedStack) -> list[str]:
    """Set `bucket` from the stack's sources: the first variable set, else a stack output."""
    variables = [s.name for s in stack.template_bucket if isinstance(s, EnvironmentVariable)]
    outputs = [s for s in stack.template_bucket if isinstance(s, StackOutput)]
    expression = ""
    for name in reversed(variables):  # ${FIRST:-${SECOND:-}}
        expression = f"${{{name}:-{expression}}}"
    lines = [f'  bucket="{expression}"']
    if outputs:
        lines += ['  if [ -z "$bucket" ]; then', "  " + _assign("bucket", outputs[0]), "  fi"]
    else:
        lines.append(
            f'  [ -n "$bucket" ] || bucket="$(missing_bucket {variables[0]} {stack.region} '
            f'{stack.template} {stack.template_bytes})"'
        )
    return lines


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
        if isinstance(parameter.source, GivenValue):
            names.append(f"{variable}={shlex.quote(parameter.source.value)}")
        else:
            names.append(variable)
            lines.append(_assign(variable, parameter.source))
    return names, lines


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
        "run aws cloudformation deploy",
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
    what = "the global stack" if stack.kind == "global" else "the regional stack"
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
    if stack.kind == "global":
        comment[0] += (
            " It creates what the stacks after it use (the execution role among them), so it "
            "runs with the caller's own credentials."
        )
    local = [f"  local {' '.join(names)}"] if names else []
    return _function(stack, comment, [*local, *body, _continued(command)])


def _stack_set_function(plan: DeployPlan, stack: PlannedStack) -> str:
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
        '  account="$(caller_account)"',
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
        # One region at a time, in spec order (`missing` keeps it): the writer region's
        # database exists before a replica names it as its source.
        '    order="$(printf \',"%s"\' "${missing[@]}")"',
        '    preferences=\'{"RegionConcurrencyType":"SEQUENTIAL","MaxConcurrentCount":1,\''
        '\n    preferences+=\'"FailureToleranceCount":0,"RegionOrder":[\'"${order#,}"\']}\'',
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
    names = ["mode=stacks"]
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
