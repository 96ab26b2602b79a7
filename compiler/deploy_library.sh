# shellcheck shell=bash
# The fixed part of deploy.sh: compiler/deploy_script.py copies it in after the plan's
# settings (STACK_SET_POLL_SECONDS, STATEFUL_TYPES, ...) and before the plan's stack
# functions. Kept as a real file so that shellcheck reads it, and tests source it, alone.
# shellcheck disable=SC2034 # the plan's stack functions read templates from $HERE
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DRY_RUN=false
# What deploy_stack does with a stack's deploy command: deploy (run it), or plan, apply or
# discard (deploy_changeset.sh: make, execute or delete the plan's change set instead).
STACK_ACTION=deploy
# Set by read_output when not deploying: why the current stack cannot be planned yet.
PLAN_BLOCKED=""
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
  local _variable="$1" _stack="$2" _region="$3" _output="$4" _cache _outputs _key _value _errors
  local _found=""
  if [ "$DRY_RUN" = true ]; then
    printf -v "$_variable" '<%s output of %s>' "$_output" "$_stack"
    return 0
  fi
  _cache="OUTPUTS_$(printf '%s_%s' "$_stack" "$_region" | tr -c 'A-Za-z0-9_' '_')"
  if [ -z "${!_cache:-}" ]; then
    _errors=/dev/stderr
    if [ "$STACK_ACTION" != deploy ]; then
      _errors=/dev/null # a stack missing is no error to a plan
    fi
    if _outputs="$(aws cloudformation describe-stacks --region "$_region" --stack-name "$_stack" \
      --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text 2>"$_errors")"; then
      printf -v "$_cache" '%s\n' "$_outputs" # only a stack that answered: it may come later
    elif [ "$STACK_ACTION" = deploy ]; then
      exit 1 # the AWS CLI said why
    fi
  fi
  while IFS=$'\t' read -r _key _value; do
    if [ "$_key" = "$_output" ]; then
      _found="$_value"
    fi
  done <<<"${!_cache:-}"
  if [ -z "$_found" ] || [ "$_found" = None ]; then
    if [ "$STACK_ACTION" != deploy ]; then
      # A plan reads what is deployed now: a stack whose inputs are not there yet waits.
      PLAN_BLOCKED="${PLAN_BLOCKED:-needs output $_output of $_stack ($_region), not deployed yet}"
      printf -v "$_variable" '<%s of %s>' "$_output" "$_stack"
      return 0
    fi
    fail "stack $_stack ($_region) has no output $_output: is it deployed?"
  fi
  printf -v "$_variable" '%s' "$_found"
}

# Deploy the bootstrap stack (BOOTSTRAP_TEMPLATE: a template bucket, sent inline, as
# nothing exists yet to upload to) in REGION, once per run; a no-op when it is there.
BOOTSTRAPPED=" "
bootstrap() {
  local region="$1"
  case "$BOOTSTRAPPED" in
    *" $region "*) return 0 ;;
  esac
  deploy_stack "$region" "$BOOTSTRAP_STACK" \
    aws cloudformation deploy --region "$region" --stack-name "$BOOTSTRAP_STACK" \
    --template-file "$HERE/$BOOTSTRAP_TEMPLATE" --tags "${STACK_TAGS[@]}" \
    --no-fail-on-empty-changeset
  BOOTSTRAPPED+="$region "
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

# The account the AWS CLI runs as: StackSet instances go there. Asked in REGION, since a
# CLI v2 older than 2.9 with no region configured refuses an STS call without one.
caller_account() {
  if [ "$DRY_RUN" = true ]; then
    printf '<account>'
    return 0
  fi
  aws sts get-caller-identity --region "$1" --query Account --output text
}

# Regions, separated by blanks, where StackSet SET already has an instance in ACCOUNT.
instance_regions() {
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  aws cloudformation list-stack-instances --region "$2" --stack-set-name "$1" \
    --query "Summaries[?Account=='$3'].Region" --output text
}

# Wait for StackSet operation OPERATION of SET (administered in REGION) to succeed; if it
# does not, print each stack instance's status reason (the root cause) and stop.
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
      *)
        report_operation_results "$set" "$region" "$operation"
        fail "StackSet $set operation $operation ended $status (reasons above)"
        ;;
    esac
  done
}

# Print the result of StackSet operation OPERATION in each region that did not succeed.
report_operation_results() {
  local set="$1" region="$2" operation="$3" instance_region result reason
  printf 'deploy.sh: StackSet %s, operation %s, by region:\n' "$set" "$operation" >&2
  aws cloudformation list-stack-set-operation-results --region "$region" \
    --stack-set-name "$set" --operation-id "$operation" \
    --query 'Summaries[].[Region,Status,StatusReason]' --output text |
    while IFS=$'\t' read -r instance_region result reason; do
      if [ "$result" != SUCCEEDED ]; then
        printf '  %s  %s  %s\n' "$instance_region" "$result" "$reason" >&2
      fi
    done
}

# The status of stack STACK in REGION, or NONE when there is no such stack.
stack_status() {
  local stack="$1" region="$2" answer
  if answer="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>&1)"; then
    printf '%s' "$answer"
    return 0
  fi
  case "$answer" in
    *"does not exist"*) printf NONE ;;
    *) fail "cannot read stack $stack ($region): $answer" ;;
  esac
}

# Before deploying stack STACK in REGION: a stack whose first create failed
# (ROLLBACK_COMPLETE) can only be deleted, so it is, to be created again; a stack that
# cannot be updated now stops the run with what to do.
recover_stack() {
  local stack="$1" region="$2" status
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  status="$(stack_status "$stack" "$region")"
  case "$status" in
    ROLLBACK_COMPLETE)
      printf 'deploy.sh: %s (%s) is ROLLBACK_COMPLETE: its first create failed and cannot be\n' \
        "$stack" "$region" >&3
      printf 'deploy.sh: retried in place; deleting it to create it again\n' >&3
      run aws cloudformation delete-stack --region "$region" --stack-name "$stack"
      run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$stack"
      ;;
    UPDATE_ROLLBACK_FAILED)
      fail "$stack ($region) is UPDATE_ROLLBACK_FAILED: an update failed and so did its" \
        "rollback. Fix the resource its events name, then run: aws cloudformation" \
        "continue-update-rollback --region $region --stack-name $stack (with" \
        "--resources-to-skip LOGICAL_ID for a resource that cannot be rolled back), wait for" \
        "UPDATE_ROLLBACK_COMPLETE, and run deploy.sh again"
      ;;
    ROLLBACK_FAILED)
      # A failed first create whose rollback could not delete everything it made: left to
      # the operator, since deleting it again may meet the same resource.
      fail "$stack ($region) is ROLLBACK_FAILED: its first create failed and its rollback" \
        "could not delete every resource it made. Its events name the resource" \
        "(aws cloudformation describe-stack-events --region $region --stack-name $stack)." \
        "If it is the new, empty database, turn its deletion protection off: aws rds" \
        "modify-db-instance --region $region --db-instance-identifier ID" \
        "--no-deletion-protection. Then: aws cloudformation delete-stack --region $region" \
        "--stack-name $stack, and run deploy.sh again"
      ;;
    REVIEW_IN_PROGRESS) ;; # created by a change set never executed: deploy takes it over
    *_IN_PROGRESS)
      fail "$stack ($region) is $status: another operation on it is running; run deploy.sh" \
        "again once it has ended"
      ;;
    *_FAILED)
      fail "$stack ($region) is $status; see its events: aws cloudformation" \
        "describe-stack-events --region $region --stack-name $stack"
      ;;
  esac
}

# The ID of the newest event of stack STACK in REGION; empty if there is no such stack.
newest_event() {
  aws cloudformation describe-stack-events --region "$2" --stack-name "$1" --no-paginate \
    --query 'StackEvents[0].EventId' --output text 2>/dev/null || true
}

# Events of stack STACK in REGION after event MARK (empty: all), oldest first, one line
# each: ID, time, logical ID, type, status, reason (tab-separated). The first page only:
# the newest hundred or so, far more than one poll ever misses.
events_after() {
  local stack="$1" region="$2" mark="$3" id rest index
  local -a newer=()
  while IFS=$'\t' read -r id rest; do
    if [ -n "$mark" ] && [ "$id" = "$mark" ]; then
      break
    fi
    newer+=("$id"$'\t'"$rest")
  done < <(aws cloudformation describe-stack-events --region "$region" --stack-name "$stack" \
    --no-paginate --output text --query \
    'StackEvents[].[EventId,Timestamp,LogicalResourceId,ResourceType,ResourceStatus,ResourceStatusReason]' \
    2>/dev/null || true)
  for ((index = ${#newer[@]} - 1; index >= 0; index--)); do
    printf '%s\n' "${newer[index]}"
  done
}

# Print the events of STACK in REGION after event EVENT_MARK, and move the mark on;
# record the first resource (not the stack) that failed in FIRST_FAILURE. Recorded as the
# events come: once a large stack has rolled back, its hundreds of newer events push the
# root cause off the one page describe-stack-events returns.
EVENT_MARK=""
FIRST_FAILURE=""
print_new_events() {
  local stack="$1" region="$2" id time logical type status reason
  while IFS=$'\t' read -r id time logical type status reason; do
    case "$status" in
      *_FAILED)
        if [ -z "$FIRST_FAILURE" ] && [ "$logical" != "$stack" ]; then
          FIRST_FAILURE="$logical ($type) $status: $reason"
        fi
        ;;
    esac
    time="${time#*T}"
    time="${time%%+*}"
    printf '  %s  %-40s %-28s %s' "${time%%.*}" "$logical" "$status" "$type" >&3
    case "$reason" in
      '' | None) printf '\n' >&3 ;;
      *) printf '  %s\n' "$reason" >&3 ;;
    esac
    EVENT_MARK="$id"
  done < <(events_after "$stack" "$region" "$EVENT_MARK")
}

# Name the first resource that failed in stack STACK (REGION) in this deploy, with its
# reason: the root cause (later failures are mostly "Resource creation cancelled"). With
# none, the change set itself failed: CloudFormation's pre-deployment validation (property
# syntax, a name clash with an existing resource) fails it before any resource event.
report_first_failure() {
  local stack="$1" region="$2" answer id status reason
  if [ -n "$FIRST_FAILURE" ]; then
    printf 'deploy.sh: first failure in %s (%s): %s\n' "$stack" "$region" "$FIRST_FAILURE" >&2
    return 0
  fi
  printf 'deploy.sh: no failed resource in the events of %s (%s)\n' "$stack" "$region" >&2
  answer="$(aws cloudformation list-change-sets --region "$region" --stack-name "$stack" \
    --query 'sort_by(Summaries, &CreationTime)[-1].[ChangeSetId,Status,StatusReason]' \
    --output text 2>/dev/null)" || return 0
  IFS=$'\t' read -r id status reason <<<"$answer"
  if [ "$status" = FAILED ]; then
    printf '%s\n' "deploy.sh: its change set failed before any resource changed: $reason" \
      "deploy.sh: its validation events: aws cloudformation describe-events --region $region --change-set-name $id" >&2
  fi
}

# Run COMMAND (an `aws cloudformation deploy` of stack STACK in REGION), after recovering
# the stack if need be, and show the stack's events as they come. On failure, name the
# first resource that failed and why, then stop. The CLI's own waiter shows none of this;
# polling the events beside it keeps `deploy`'s uploads and change-set handling.
deploy_stack() {
  local region="$1" stack="$2" mark pid code=0 waited=0 nap
  shift 2
  case "$STACK_ACTION" in
    plan)
      plan_stack "$region" "$stack" "$@"
      return 0
      ;;
    discard)
      discard_stack "$region" "$stack"
      return 0
      ;;
    apply)
      # The plan's change set instead of the deploy command, with all that follows.
      planned_change_set "$region" "$stack" "$@" || return 0
      set -- execute_change_set "$region" "$stack" "$APPLY_CHANGE_SET" "$APPLY_TYPE"
      ;;
  esac
  if [ "$DRY_RUN" = true ]; then
    show "$@"
    protect_stack "$stack" "$region"
    return 0
  fi
  recover_stack "$stack" "$region"
  open_stack "$stack" "$region"
  mark="$(newest_event "$stack" "$region")"
  EVENT_MARK="$mark"
  FIRST_FAILURE=""
  [ "$STACK_ACTION" = apply ] || show "$@" # execute_change_set shows its own commands
  "$@" >&3 &
  pid=$!
  # Naps of a tenth of a second for the first two seconds, then of one: a stack with
  # nothing to change is done in about a second, and a run goes over every stack.
  while kill -0 "$pid" 2>/dev/null; do
    nap=$((waited < 20 ? 1 : 10)) # tenths of a second
    sleep "$((nap / 10)).$((nap % 10))"
    waited=$((waited + nap))
    if [ $((waited % (STACK_EVENT_POLL_SECONDS * 10))) -eq 0 ]; then
      print_new_events "$stack" "$region"
    fi
  done
  wait "$pid" || code=$?
  print_new_events "$stack" "$region"
  if [ "$code" -ne 0 ]; then
    reclose_stack "$stack" "$region"
    report_first_failure "$stack" "$region"
    fail "deploying $stack ($region) failed; the run stops here (fix, then run it again)"
  fi
  protect_stack "$stack" "$region"
}

# Resources of the STATEFUL_TYPES (the plan's settings) a stack update may not replace or
# delete unless the run is given --allow-stateful-changes: CloudFormation refuses such an
# update (UPDATE_FAILED, then a rollback) instead of recreating a database from scratch.
STACK_POLICY='{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"},'
STACK_POLICY+='{"Effect":"Deny","Action":["Update:Replace","Update:Delete"],"Principal":"*",'
STACK_POLICY+='"Resource":"*","Condition":{"StringEquals":{"ResourceType":['"$STATEFUL_TYPES"']}}}]}'
# What --allow-stateful-changes sets for the length of one deploy.
OPEN_STACK_POLICY='{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}'
ALLOW_STATEFUL_CHANGES=false
# Set by open_stack to the stack whose policy it lifted, until the policy is back.
OPENED_STACK=""

# Lift the stack policy of stack STACK in REGION for this deploy, if the run allows
# stateful changes and the stack exists (a policy only ever applies to updates; a stack
# only a plan's change set made, REVIEW_IN_PROGRESS, has none yet).
open_stack() {
  local stack="$1" region="$2" status
  [ "$ALLOW_STATEFUL_CHANGES" = true ] || return 0
  status="$(stack_status "$stack" "$region")"
  if [ "$status" != NONE ] && [ "$status" != REVIEW_IN_PROGRESS ]; then
    printf 'deploy.sh: %s (%s) may replace or delete stateful resources in this run\n' \
      "$stack" "$region" >&3
    run aws cloudformation set-stack-policy --region "$region" --stack-name "$stack" \
      --stack-policy-body "$OPEN_STACK_POLICY"
    OPENED_STACK="$region/$stack"
  fi
}

# After a failed deploy of stack STACK in REGION: put back the policy open_stack lifted,
# so that the stack does not stay open to stateful replacements until the next good run.
# (A stack it did not open keeps its policy; a failed first create has none to restore.)
reclose_stack() {
  local stack="$1" region="$2"
  if [ "$OPENED_STACK" = "$region/$stack" ]; then
    run aws cloudformation set-stack-policy --region "$region" --stack-name "$stack" \
      --stack-policy-body "$STACK_POLICY" ||
      printf 'deploy.sh: could not restore the stack policy of %s (%s)\n' "$stack" "$region" >&2
    OPENED_STACK=""
  fi
}

# After a deploy: termination protection on (delete-stack refuses until it is turned off
# with update-termination-protection --no-enable-termination-protection), and the stack
# policy that keeps stateful resources from being replaced or deleted by an update.
protect_stack() {
  local stack="$1" region="$2"
  run aws cloudformation update-termination-protection --region "$region" \
    --stack-name "$stack" --enable-termination-protection >/dev/null
  run aws cloudformation set-stack-policy --region "$region" --stack-name "$stack" \
    --stack-policy-body "$STACK_POLICY"
  OPENED_STACK=""
}

# The name servers the public DNS answers for ZONE, one per line, lower case, without the
# trailing dot; nothing if no lookup tool is installed (dig, else host).
delegated_name_servers() {
  local zone="$1"
  if command -v dig >/dev/null; then
    dig +short NS "$zone" 2>/dev/null || true
  elif command -v host >/dev/null; then
    host -t NS "$zone" 2>/dev/null | awk '/name server/ { print $NF }' || true
  fi | tr '[:upper:]' '[:lower:]' | sed 's/\.$//'
}

# Stop unless the public DNS delegates ZONE to the name servers (comma-separated output
# OUTPUT of stack STACK in REGION): ACM validates each region's certificate by DNS in this
# zone, and until the registrar delegates to it a regional stack waits for its
# certificate until CloudFormation gives up. DELEGATION_CHECK=false skips the check.
await_delegation() {
  local zone="$1" stack="$2" region="$3" output="$4" servers answered server missing=""
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  read_output servers "$stack" "$region" "$output"
  if [ "$DELEGATION_CHECK" = false ]; then
    printf 'deploy.sh: not checking that %s is delegated to %s (--skip-delegation-check)\n' \
      "$zone" "$servers" >&3
    return 0
  fi
  if ! command -v dig >/dev/null && ! command -v host >/dev/null; then
    # Without a lookup tool nothing can be checked: say so, rather than "not delegated".
    fail "cannot check that $zone is delegated to $servers: neither dig nor host is" \
      "installed (e.g. apt-get install dnsutils); install one, or pass" \
      "--skip-delegation-check once the registrar lists those name servers"
  fi
  answered=" $(delegated_name_servers "$zone" | tr '\n' ' ')"
  local -a listed
  IFS=, read -r -a listed <<<"$servers"
  for server in "${listed[@]}"; do
    server="$(printf '%s' "${server%.}" | tr '[:upper:]' '[:lower:]')"
    case "$answered" in
      *" $server "*) ;;
      *) missing+=" $server" ;;
    esac
  done
  if [ -z "$missing" ] && [ "$answered" != " " ]; then
    printf 'deploy.sh: %s is delegated to its name servers\n' "$zone" >&3
    return 0
  fi
  printf '%s\n' "deploy.sh: the global stack created the hosted zone $zone, and a region" \
    "requests a certificate validated by DNS in it, which cannot succeed until the zone" \
    "is delegated. At your registrar (or in the parent zone), set the NS records of" \
    "$zone to:" >&3
  printf '  %s\n' "${servers//,/$'\n'  }" >&3
  printf '%s\n' "The public DNS answers for $zone now:${answered:- nothing}" \
    "Run deploy.sh again once \`dig +short NS $zone\` lists them all (that is checked), or" \
    "pass --skip-delegation-check to go on anyway." >&3
  fail "stopped after the global stack: $zone is not delegated yet"
}
