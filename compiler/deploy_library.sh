# shellcheck shell=bash
# The fixed part of deploy.sh: compiler/deploy_script.py copies it in after the plan's
# settings (TEMPLATE_BODY_LIMIT, STACK_SET_POLL_SECONDS) and before the plan's stack
# functions. Kept as a real file so that shellcheck reads it, and tests source it, alone.
# shellcheck disable=SC2034 # the plan's stack functions read templates from $HERE
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
  fail "$template is $bytes bytes, over CloudFormation's ${TEMPLATE_BODY_LIMIT}-byte limit for a template" \
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
      RUNNING | QUEUED | STOPPING) sleep "$STACK_SET_POLL_SECONDS" ;;
      *) fail "StackSet $set operation $operation ended $status; see aws cloudformation" \
        "list-stack-set-operation-results --region $region --stack-set-name $set" \
        "--operation-id $operation" ;;
    esac
  done
}
