# shellcheck shell=bash
# Part of deploy.sh (compiler/deploy_script.py copies it in after deploy_library.sh, whose
# `fail`, `run`, `stack_status`, `template_url`, `read_output` and `deploy_stack` it uses):
# `deploy.sh plan`, `deploy.sh apply` and `deploy.sh plan --discard`.
#
# The stack functions are the deploy's own: each ends in `deploy_stack REGION STACK aws
# cloudformation deploy ARGS`, and STACK_ACTION decides what deploy_stack does with that
# command. `plan` translates it into `create-change-set` (change_set_input: the same
# template, bucket, parameters, capabilities, role and tags, built in one place), waits
# for the change set and adds it to one report; `apply` executes the change set the plan
# left, through deploy_stack's progress, root-cause and protection logic; `discard`
# deletes what a plan left. Nothing is recorded on disk: a plan's change sets are found on
# their stacks by the name prefix PLAN_PREFIX, and each one's description carries the
# fingerprint of what it was made from, so that apply refuses one made from another
# template or other values.

PLAN_PREFIX=infra-plan-
PLAN_DISCARD=false
PLAN_EXPECT="" # a file `infra diff --expected-changes` wrote: the offline prediction
PLAN_DONE=" "  # REGION/STACK planned in this run: the writer region's second pass is not
PLAN_REPORT=""
PLAN_STATEFUL=""
PLAN_FAILED=0
PLAN_DISAGREE=0
PLAN_COUNT_SETS=0
PLAN_COUNT_ADD=0
PLAN_COUNT_MODIFY=0
PLAN_COUNT_REPLACE=0
PLAN_COUNT_REMOVE=0
# What change_set_input sets.
CS_TEMPLATE=""
CS_BUCKET=""
CS_PREFIX=""
CS_ARGS=()

# A JSON string of TEXT (backslashes and double quotes escaped).
json_string() {
  local text="${1//\\/\\\\}"
  printf '"%s"' "${text//\"/\\\"}"
}

# From the arguments of an `aws cloudformation deploy` command (as the stack functions
# pass them to deploy_stack), set what `create-change-set` needs: CS_TEMPLATE (the file),
# CS_BUCKET and CS_PREFIX (where a large template goes; empty: inline) and CS_ARGS
# (--parameters, --capabilities, --role-arn, --tags, as JSON where values may hold commas).
# A parameter the deploy does not pass takes its template default here, where `deploy`
# would keep an existing stack's previous value (the same unless the default changed).
change_set_input() {
  local option="" word parameters="" tags="" key
  local -a capabilities=()
  CS_TEMPLATE=""
  CS_BUCKET=""
  CS_PREFIX=""
  CS_ARGS=()
  [ "$1 $2 $3" = "aws cloudformation deploy" ] || fail "plan: not a deploy command: $*"
  shift 3
  for word in "$@"; do
    case "$word" in
      --no-fail-on-empty-changeset) option="" ;;
      --*) option="$word" ;;
      *)
        case "$option" in
          --region | --stack-name) ;;
          --template-file) CS_TEMPLATE="$word" ;;
          --s3-bucket) CS_BUCKET="$word" ;;
          --s3-prefix) CS_PREFIX="$word" ;;
          --role-arn) CS_ARGS+=(--role-arn "$word") ;;
          --capabilities) capabilities+=("$word") ;;
          --parameter-overrides)
            key="${word%%=*}"
            parameters+=",{\"ParameterKey\":$(json_string "$key"),"
            parameters+="\"ParameterValue\":$(json_string "${word#*=}")}"
            ;;
          --tags)
            key="${word%%=*}"
            tags+=",{\"Key\":$(json_string "$key"),\"Value\":$(json_string "${word#*=}")}"
            ;;
          *) fail "plan: cannot translate $option $word into create-change-set" ;;
        esac
        ;;
    esac
  done
  [ -n "$CS_TEMPLATE" ] || fail "plan: the deploy command names no --template-file"
  if [ "${#capabilities[@]}" -gt 0 ]; then
    CS_ARGS+=(--capabilities "${capabilities[@]}")
  fi
  if [ -n "$parameters" ]; then
    CS_ARGS+=(--parameters "[${parameters#,}]")
  fi
  if [ -n "$tags" ]; then
    CS_ARGS+=(--tags "[${tags#,}]")
  fi
}

# What a change set is made from, as one word: cksum (POSIX, so on every machine bash is)
# of the template file and CS_ARGS. Another template, or another value read from a stack,
# gives another fingerprint.
change_set_fingerprint() {
  local answer
  answer="$({
    cat "$CS_TEMPLATE"
    printf '%s\n' "${CS_ARGS[@]}"
  } | cksum)"
  answer="${answer//[[:space:]]/-}"
  printf '%s' "${answer%-}"
}

# IDs of the plan's change sets (PLAN_PREFIX) on stack STACK in REGION, one per line; the
# StackName filter because some emulators list every stack's change sets.
plan_change_sets() {
  local stack="$1" region="$2" answer
  if ! answer="$(aws cloudformation list-change-sets --region "$region" --stack-name "$stack" \
    --query "Summaries[?StackName=='$stack' && starts_with(ChangeSetName, '$PLAN_PREFIX')].ChangeSetId" \
    --output text 2>&1)"; then
    case "$answer" in
      *"does not exist"*) return 0 ;;
      *) fail "cannot list the change sets of $stack ($region): $answer" ;;
    esac
  fi
  case "$answer" in
    None | '') ;;
    *) printf '%s\n' "${answer//$'\t'/$'\n'}" ;; # tab-separated IDs, one a line
  esac
}

# Delete the plan's change sets on STACK in REGION.
delete_plan_change_sets() {
  local region="$1" stack="$2" id
  while IFS= read -r id; do
    [ -n "$id" ] || continue
    run aws cloudformation delete-change-set --region "$region" --change-set-name "$id"
  done < <(plan_change_sets "$stack" "$region")
}

# Delete the plan's change sets on STACK in REGION; a stack a CREATE change set made and
# nothing else uses (REVIEW_IN_PROGRESS, no change set left) goes too: it has no resources.
discard_stack() {
  local region="$1" stack="$2" left
  delete_plan_change_sets "$region" "$stack"
  if [ "$(stack_status "$stack" "$region")" = REVIEW_IN_PROGRESS ]; then
    left="$(aws cloudformation list-change-sets --region "$region" --stack-name "$stack" \
      --query "length(Summaries[?StackName=='$stack'])" --output text)"
    if [ "$left" = 0 ]; then
      run aws cloudformation delete-stack --region "$region" --stack-name "$stack"
    fi
  fi
}

plan_line() {
  PLAN_REPORT+="$*"$'\n'
}

# Wait until change set ID (in REGION) is made; print its `STATUS<TAB>REASON`.
wait_change_set() {
  local id="$1" region="$2" answer
  while true; do
    answer="$(aws cloudformation describe-change-set --region "$region" --change-set-name "$id" \
      --query '[Status,StatusReason]' --output text)"
    case "${answer%%$'\t'*}" in
      CREATE_PENDING | CREATE_IN_PROGRESS) sleep "$STACK_EVENT_POLL_SECONDS" ;;
      *)
        printf '%s' "$answer"
        return 0
        ;;
    esac
  done
}

# Lines `MARK LOGICAL_ID (TYPE)...` of change set ID in REGION, in infra diff's marks:
# + added, ~ modified, ! replaced (Replacement True, or Conditional: "may be"), - removed.
# Counts them, and collects stateful replacements and removals in PLAN_STATEFUL.
report_changes() {
  local stack="$1" region="$2" id="$3" type="$4" action logical resource replacement
  local added=0 modified=0 replaced=0 removed=0 header
  local -a lines=() seen=()
  while IFS=$'\t' read -r action logical resource replacement; do
    [ -n "$action" ] && [ "$action" != None ] || continue
    seen+=("$logical $(change_kind "$action" "$replacement")")
    case "$action" in
      Add)
        added=$((added + 1))
        lines+=("    + $logical ($resource)")
        ;;
      Remove)
        removed=$((removed + 1))
        lines+=("    - $logical ($resource)")
        ;;
      *)
        modified=$((modified + 1))
        case "$replacement" in
          True)
            replaced=$((replaced + 1))
            lines+=("    ! $logical ($resource) is replaced")
            ;;
          Conditional)
            replaced=$((replaced + 1))
            lines+=("    ! $logical ($resource) may be replaced (Replacement: Conditional)")
            ;;
          *) lines+=("    ~ $logical ($resource)") ;;
        esac
        ;;
    esac
    case ",$STATEFUL_TYPES," in
      *",\"$resource\","*)
        case "$action/$replacement" in
          Remove/* | */True | */Conditional)
            PLAN_STATEFUL+="  $stack ($region): $logical ($resource) "
            PLAN_STATEFUL+="$([ "$action" = Remove ] && printf removed || printf replaced)"$'\n'
            ;;
        esac
        ;;
    esac
  done < <(aws cloudformation describe-change-set --region "$region" --change-set-name "$id" \
    --query 'Changes[].ResourceChange.[Action,LogicalResourceId,ResourceType,Replacement]' \
    --output text)
  PLAN_COUNT_ADD=$((PLAN_COUNT_ADD + added))
  PLAN_COUNT_MODIFY=$((PLAN_COUNT_MODIFY + modified))
  PLAN_COUNT_REPLACE=$((PLAN_COUNT_REPLACE + replaced))
  PLAN_COUNT_REMOVE=$((PLAN_COUNT_REMOVE + removed))
  if [ "$type" = CREATE ]; then
    plan_line "+ $stack ($region): a new stack of $added resource$([ "$added" = 1 ] || printf s)"
  elif [ "${#lines[@]}" -eq 0 ]; then
    plan_line "~ $stack ($region): no resource changes (its parameters, outputs or tags change)"
  else
    header="~ $stack ($region): $added added, $modified modified ($replaced replaced), $removed removed"
    plan_line "$header"
    if [ "${#lines[@]}" -gt 0 ]; then
      plan_line "$(printf '%s\n' "${lines[@]}")"
    fi
  fi
  compare_expected "$stack" ${seen[@]+"${seen[@]}"}
}

# A change as the offline prediction names it: Add, Remove, Modify, Replace, or Replace?
# (CloudFormation's Conditional: it depends on a value known only during the update).
change_kind() {
  case "$1/$2" in
    Add/*) printf Add ;;
    Remove/*) printf Remove ;;
    */True) printf Replace ;;
    */Conditional) printf 'Replace?' ;;
    *) printf Modify ;;
  esac
}

# Compare CloudFormation's changes to STACK ("LOGICAL_ID KIND" words) with the prediction
# in PLAN_EXPECT (lines `STACK<TAB>LOGICAL_ID<TAB>KIND`, `STACK<TAB>-<TAB>None` for a stack
# predicted unchanged) and list where they disagree. A stack the file does not name is
# not compared. Conditional agrees with Modify and with Replace.
compare_expected() {
  local stack="$1" name logical kind predicted="" found entry cfn_kind
  shift
  # infra diff knows the spec's stacks, not deploy.sh's own bootstrap stacks.
  [ -n "$PLAN_EXPECT" ] && [ "$stack" != "$BOOTSTRAP_STACK" ] || return 0
  while IFS=$'\t' read -r name logical kind; do
    if [ "$name" = "$stack" ]; then
      predicted+="$logical $kind"$'\n'
    fi
  done <"$PLAN_EXPECT"
  if [ -z "$predicted" ]; then
    plan_line "    (infra diff's prediction does not name this stack: not compared)"
    return 0
  fi
  for entry in "$@"; do # CloudFormation's, against the prediction
    found="$(printf '%s' "$predicted" | awk -v id="${entry%% *}" '$1 == id { print $2 }')"
    cfn_kind="${entry#* }"
    case "$cfn_kind/$found" in
      "Replace?/Modify" | "Replace?/Replace") ;;
      "$cfn_kind/$cfn_kind") ;;
      *) plan_disagrees "${entry%% *}: CloudFormation $cfn_kind, infra diff ${found:-no change}" ;;
    esac
  done
  while read -r logical kind; do # the prediction, against CloudFormation's
    [ -n "$logical" ] && [ "$logical" != - ] || continue
    case " $* " in
      *" $logical "*) ;;
      *) plan_disagrees "$logical: infra diff $kind, CloudFormation no change" ;;
    esac
  done <<<"$predicted"
}

plan_disagrees() {
  PLAN_DISAGREE=$((PLAN_DISAGREE + 1))
  plan_line "    ≠ $1"
}

# plan: a change set for STACK in REGION from COMMAND (an `aws cloudformation deploy`),
# CREATE for a stack that does not exist yet, else UPDATE; older plan change sets of the
# stack are deleted first. A stack that reads an output of one not deployed yet, or that
# is in a state no change set can be made in, is reported as not planned.
plan_stack() {
  local region="$1" stack="$2" status type fingerprint name id answer key
  local -a template=()
  shift 2
  case "$PLAN_DONE" in
    *" $region/$stack "*) # once per run (the writer region's second pass)
      PLAN_BLOCKED=""
      return 0
      ;;
  esac
  PLAN_DONE+="$region/$stack "
  # Not the stack an earlier plan's CREATE made: a new CREATE change set reuses it.
  delete_plan_change_sets "$region" "$stack"
  if [ -n "$PLAN_BLOCKED" ]; then
    plan_line "? $stack ($region): not planned: it $PLAN_BLOCKED; plan again once that is deployed"
    PLAN_BLOCKED=""
    return 0
  fi
  status="$(stack_status "$stack" "$region")"
  case "$status" in
    NONE | REVIEW_IN_PROGRESS) type=CREATE ;;
    ROLLBACK_COMPLETE)
      plan_line "? $stack ($region): not planned: ROLLBACK_COMPLETE (a failed first create);" \
        "deploy.sh deletes and re-creates it"
      return 0
      ;;
    *_IN_PROGRESS | *_FAILED)
      plan_line "? $stack ($region): not planned: it is $status (see deploy.sh preflight)"
      return 0
      ;;
    *) type=UPDATE ;;
  esac
  change_set_input "$@"
  fingerprint="$(change_set_fingerprint)"
  name="$PLAN_PREFIX$fingerprint"
  printf 'deploy.sh: planning %s (%s)\n' "$stack" "$region" >&3
  if [ -n "$CS_BUCKET" ]; then
    key="$CS_PREFIX/$name.json"
    run aws s3 cp "$CS_TEMPLATE" "s3://$CS_BUCKET/$key" --region "$region" >/dev/null
    template=(--template-url "$(template_url "$CS_BUCKET" "$key" "$region")")
  else
    template=(--template-body "file://$CS_TEMPLATE")
  fi
  id="$(aws cloudformation create-change-set --region "$region" --stack-name "$stack" \
    --change-set-name "$name" --change-set-type "$type" \
    --description "deploy.sh plan $fingerprint $type" "${template[@]}" "${CS_ARGS[@]}" \
    --query Id --output text)"
  PLAN_COUNT_SETS=$((PLAN_COUNT_SETS + 1))
  answer="$(wait_change_set "$id" "$region")"
  case "$answer" in
    CREATE_COMPLETE*) report_changes "$stack" "$region" "$id" "$type" ;;
    FAILED*"didn't contain changes"* | FAILED*"No updates are to be performed"*)
      plan_line "= $stack ($region): no changes"
      compare_expected "$stack"
      PLAN_COUNT_SETS=$((PLAN_COUNT_SETS - 1))
      discard_stack "$region" "$stack"
      ;;
    *)
      PLAN_FAILED=$((PLAN_FAILED + 1))
      PLAN_COUNT_SETS=$((PLAN_COUNT_SETS - 1))
      plan_line "x $stack ($region): the change set failed: ${answer#*$'\t'}"
      discard_stack "$region" "$stack"
      ;;
  esac
}

plan_begin() {
  if [ "$DRY_RUN" = true ]; then
    fail "plan calls AWS to make its change sets; --dry-run does not combine with it"
  fi
  if [ -n "$PLAN_EXPECT" ] && [ ! -r "$PLAN_EXPECT" ]; then
    fail "--expect $PLAN_EXPECT: no such file"
  fi
  if [ "$PLAN_DISCARD" = true ]; then
    STACK_ACTION=discard
    printf 'deploy.sh: deleting the change sets deploy.sh plan left\n' >&3
  else
    STACK_ACTION=plan
  fi
}

# After every stack function ran: print the one report. STACK_SETS: StackSets of the
# spec, which no change set covers.
plan_end() {
  local stack_set
  if [ "$STACK_ACTION" = discard ]; then
    printf 'deploy.sh: no plan change set is left\n' >&3
    return 0
  fi
  printf '\n%s' "$PLAN_REPORT" >&3
  for stack_set in "$@"; do
    printf '%s\n' "? StackSet $stack_set: not planned: CloudFormation makes no change sets for" \
      "    StackSets (deploy.sh stackset-plan compares its template and instances; deploy.sh stackset deploys it)" >&3
  done
  printf '%s change set(s): %s resources added, %s modified (%s replaced), %s removed\n' \
    "$PLAN_COUNT_SETS" "$PLAN_COUNT_ADD" "$PLAN_COUNT_MODIFY" "$PLAN_COUNT_REPLACE" \
    "$PLAN_COUNT_REMOVE" >&3
  if [ -n "$PLAN_EXPECT" ]; then
    printf "%s place(s) where CloudFormation and infra diff's prediction (%s) disagree (≠)\n" \
      "$PLAN_DISAGREE" "$PLAN_EXPECT" >&3
  fi
  if [ -n "$PLAN_STATEFUL" ]; then
    printf '%s\n' "" \
      "!!! STATEFUL RESOURCES REPLACED OR REMOVED: their data does not survive this change" >&3
    printf '%s' "$PLAN_STATEFUL" >&3
    printf '%s\n' "!!! Every stack's policy refuses this unless deploy.sh apply is given" \
      "!!! --allow-stateful-changes." >&3
  fi
  if [ "$PLAN_FAILED" -gt 0 ]; then
    fail "plan: $PLAN_FAILED change set(s) failed (reasons above); the others are kept"
  fi
  if [ "$PLAN_COUNT_SETS" -gt 0 ]; then
    printf '%s\n' "deploy.sh apply executes exactly these change sets; deploy.sh plan --discard" \
      "deletes them." >&3
  fi
}

apply_begin() {
  if [ "$DRY_RUN" = true ]; then
    fail "apply executes the change sets deploy.sh plan made; --dry-run does not combine with it"
  fi
  STACK_ACTION=apply
}

# apply: set APPLY_CHANGE_SET and APPLY_TYPE to the plan's change set of STACK in REGION,
# made from COMMAND's template and values as they are now; return 1 (saying so) if the
# plan left none. Stops the run if that change set cannot be executed as planned.
APPLY_CHANGE_SET=""
APPLY_TYPE=""
planned_change_set() {
  local region="$1" stack="$2" ids answer status description fingerprint
  shift 2
  # `|| exit 1`: deploy_stack calls this left of `||`, where bash ignores set -e, so a
  # failed listing (its fail exits only the $(...) subshell) would read as "none planned".
  ids="$(plan_change_sets "$stack" "$region")" || exit 1
  if [ -n "$PLAN_BLOCKED" ] || [ -z "$ids" ]; then
    PLAN_BLOCKED=""
    printf 'deploy.sh: %s (%s): no planned change set, left as it is\n' "$stack" "$region" >&3
    return 1
  fi
  case "$ids" in
    *$'\n'*) fail "$stack ($region) has more than one plan change set; run deploy.sh plan again" ;;
  esac
  answer="$(aws cloudformation describe-change-set --region "$region" --change-set-name "$ids" \
    --query '[ExecutionStatus,Description]' --output text)" ||
    fail "cannot read the plan's change set of $stack ($region) (the error above)"
  status="${answer%%$'\t'*}"
  description="${answer#*$'\t'}"
  if [ "$status" != AVAILABLE ]; then
    fail "the plan's change set of $stack ($region) is $status (the stack changed since the" \
      "plan?); run deploy.sh plan again"
  fi
  change_set_input "$@"
  fingerprint="$(change_set_fingerprint)"
  case "$description" in
    "deploy.sh plan $fingerprint "*) ;;
    *)
      fail "the template or the values of $stack ($region) changed since the plan (its" \
        "change set was made from other ones); run deploy.sh plan again"
      ;;
  esac
  # shellcheck disable=SC2034 # deploy_stack (deploy_library.sh) reads both
  APPLY_CHANGE_SET="$ids" APPLY_TYPE="${description##* }"
}

# Execute change set ID of STACK in REGION and wait for the stack (TYPE: CREATE or UPDATE);
# run by deploy_stack like a deploy command, beside its event polling.
execute_change_set() {
  local region="$1" stack="$2" id="$3" type="$4" waiter="stack-update-complete"
  if [ "$type" = CREATE ]; then
    waiter="stack-create-complete"
  fi
  run aws cloudformation execute-change-set --region "$region" --change-set-name "$id"
  run aws cloudformation wait "$waiter" --region "$region" --stack-name "$stack"
}
