# shellcheck shell=bash
# Service-managed StackSets (stackset.permission_model: service_managed): the StackSet is
# administered from the organization's management account or a delegated administrator
# (--call-as), and its stack instances go to every account of the target organizational
# units. compiler/deploy_script.py copies this file in after deploy_library.sh, whose
# show/run/run_operation/fail/template_url it uses, and writes one call of
# deploy_org_stack_set with the spec's values. Kept as a real file so that shellcheck
# reads it, and tests source it, alone.

# The --operation-preferences JSON: REGION_CONCURRENCY (SEQUENTIAL|PARALLEL), MAX_KEY
# (MaxConcurrentCount|MaxConcurrentPercentage) and its value, TOLERANCE_KEY
# (FailureToleranceCount|FailureTolerancePercentage) and its value, CONCURRENCY_MODE (sent
# only when not STRICT_FAILURE_TOLERANCE, the default), then the regions in the order to deploy them (the writer region first).
org_preferences() {
  local concurrency="$1" max_key="$2" max="$3" tolerance_key="$4" tolerance="$5" mode="$6"
  shift 6
  local order mode_key=""
  order="$(printf ',"%s"' "$@")"
  # The default mode is left out, as on the self-managed path: older CLIs lack the key.
  [ "$mode" = STRICT_FAILURE_TOLERANCE ] || mode_key="$(printf '"ConcurrencyMode":"%s",' "$mode")"
  printf '{"RegionConcurrencyType":"%s","%s":%s,"%s":%s,%s"RegionOrder":[%s]}' \
    "$concurrency" "$max_key" "$max" "$tolerance_key" "$tolerance" "$mode_key" "${order#,}"
}

# Whether StackSet SET exists (administered in REGION, called as CALL_AS); any other error
# than "not found" stops the script.
org_stack_set_exists() {
  local set="$1" region="$2" call_as="$3" error
  if [ "$DRY_RUN" = true ]; then
    return 1
  fi
  if error="$(aws cloudformation describe-stack-set --region "$region" --call-as "$call_as" \
    --stack-set-name "$set" --query StackSet.Status --output text 2>&1 >/dev/null)"; then
    return 0
  fi
  case "$error" in
    *StackSetNotFoundException*) return 1 ;;
    *"not a delegated administrator"*)
      fail "$error (is this account registered for member.org.stacksets.cloudformation.amazonaws.com, and may the caller call organizations:ListDelegatedAdministrators, which CloudFormation uses to check it? docs/multi-account.md)"
      ;;
    *) fail "$error" ;;
  esac
}

# list-stack-instances' query for the instances of organizational unit OU: a line of
# account, region and DetailedStatus each.
org_instances_query() {
  printf "Summaries[?OrganizationalUnitId=='%s'].[Account,Region,StackInstanceStatus.DetailedStatus]" "$1"
}

# The regions among REGION... where StackSet SET needs a run for organizational unit OU,
# one a line, in the order given: those where the OU has no stack instance yet, and those
# where one of its accounts' instances is FAILED, CANCELLED or INOPERABLE (its
# DetailedStatus: an operation that succeeded within its failure tolerance leaves such
# instances). An OU with no account never gets an instance, so it stays "missing":
# creating its instances again is an operation that does nothing.
org_missing_regions() {
  local set="$1" region="$2" call_as="$3" ou="$4" have wanted
  shift 4
  if [ "$DRY_RUN" = true ]; then
    printf '%s\n' "$@"
    return 0
  fi
  have="$(aws cloudformation list-stack-instances --region "$region" --call-as "$call_as" \
    --stack-set-name "$set" \
    --query "$(org_instances_query "$ou")" --output text)"
  for wanted in "$@"; do
    if ! printf '%s\n' "$have" | awk -v r="$wanted" '
        $2 == r { found = 1; if ($3 == "FAILED" || $3 == "CANCELLED" || $3 == "INOPERABLE") bad = 1 }
        END { exit !(found && !bad) }'; then
      printf '%s\n' "$wanted"
    fi
  done
}

# The accounts of organizational unit OU whose StackSet SET instances are not all
# SUCCEEDED in every region of REGION... (the non-writer regions), one a line: the
# replication switch must not go on for them (their destinations may not exist).
org_unready_accounts() {
  local set="$1" region="$2" call_as="$3" ou="$4"
  shift 4
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  aws cloudformation list-stack-instances --region "$region" --call-as "$call_as" \
    --stack-set-name "$set" \
    --query "$(org_instances_query "$ou")" --output text | awk -v regions="$*" '
      BEGIN { n = split(regions, wanted, " "); for (i = 1; i <= n; i++) needed[wanted[i]] = 1 }
      { seen[$1] = 1; if (($2 in needed) && $3 == "SUCCEEDED") ok[$1]++ }
      END { for (a in seen) if (ok[a] + 0 < n) print a }' | sort
}

# Set ORG_MISSING to what org_missing_regions prints for the same arguments, as an array
# (bash 3.2, macOS's, has no namerefs to fill the caller's own).
ORG_MISSING=()
org_collect_missing() {
  local instance_region
  ORG_MISSING=()
  while IFS= read -r instance_region; do
    ORG_MISSING+=("$instance_region")
  done < <(org_missing_regions "$@")
}

# One line of progress of OPERATION: how many stack instances it has done, and how.
org_operation_progress() {
  local set="$1" region="$2" call_as="$3" operation="$4" status="$5" results
  results="$(aws cloudformation list-stack-set-operation-results --region "$region" \
    --call-as "$call_as" --stack-set-name "$set" --operation-id "$operation" \
    --query 'Summaries[].Status' --output text | tr '\t' '\n' | sort | uniq -c |
    awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
  printf 'deploy.sh: StackSet %s operation %s: %s (%s)\n' "$set" "$operation" "$status" \
    "${results:-no instance yet}" >&3
}

# Print each stack instance of OPERATION that did not succeed: account, region, status
# and CloudFormation's reason (the root cause, e.g. the first resource that failed).
org_report_operation_results() {
  local set="$1" region="$2" call_as="$3" operation="$4" account instance_region result reason
  printf 'deploy.sh: StackSet %s, operation %s, by account and region:\n' "$set" "$operation" >&2
  aws cloudformation list-stack-set-operation-results --region "$region" --call-as "$call_as" \
    --stack-set-name "$set" --operation-id "$operation" \
    --query 'Summaries[].[Account,Region,Status,StatusReason]' --output text |
    while IFS=$'\t' read -r account instance_region result reason; do
      if [ "$result" != SUCCEEDED ]; then
        printf '  %s  %s  %s  %s\n' "$account" "$instance_region" "$result" "$reason" >&2
      fi
    done
}

# Wait for OPERATION of SET to succeed, printing its progress when it changes; if it does
# not succeed, print each failed instance's reason and stop.
org_wait_for_operation() {
  local set="$1" region="$2" call_as="$3" operation="$4" status line last=""
  if [ "$DRY_RUN" = true ]; then
    return 0
  fi
  while true; do
    status="$(aws cloudformation describe-stack-set-operation --region "$region" \
      --call-as "$call_as" --stack-set-name "$set" --operation-id "$operation" \
      --query StackSetOperation.Status --output text)"
    line="$(org_operation_progress "$set" "$region" "$call_as" "$operation" "$status" 3>&1)"
    if [ "$line" != "$last" ]; then
      printf '%s\n' "$line" >&3
      last="$line"
    fi
    case "$status" in
      SUCCEEDED)
        # An operation succeeds while no more instances fail than the failure tolerance
        # allows: those that did are reported, and the run goes on (exit 0) with a
        # WARNING. The next run redeploys them (org_missing_regions counts them missing).
        case "${line##*(}" in
          *FAILED* | *CANCELLED*)
            org_report_operation_results "$set" "$region" "$call_as" "$operation"
            printf 'deploy.sh: WARNING: StackSet %s operation %s SUCCEEDED within its failure tolerance, but the instances above did not: fix their cause and run deploy.sh stackset again\n' \
              "$set" "$operation" >&2
            ;;
        esac
        return 0
        ;;
      RUNNING | QUEUED | STOPPING) sleep "$STACK_SET_POLL_SECONDS" ;;
      *)
        org_report_operation_results "$set" "$region" "$call_as" "$operation"
        fail "StackSet $set operation $operation ended $status (reasons above)"
        ;;
    esac
  done
}

# Update StackSet SET with SETTING... (all but the preferences) and wait for it.
org_update_stack_set() {
  local set="$1" region="$2" call_as="$3" preferences="$4" operation
  shift 4
  operation="$(run_operation aws cloudformation update-stack-set --region "$region" \
    --stack-set-name "$set" "$@" --operation-preferences "$preferences" \
    --query OperationId --output text)"
  org_wait_for_operation "$set" "$region" "$call_as" "$operation"
}

# Create or update service-managed StackSet SET in REGION and give every account of each
# organizational unit a stack instance in each region.
#   SET REGION CALL_AS  the StackSet, where it is administered, SELF | DELEGATED_ADMIN
#   AUTO_DEPLOYMENT     --auto-deployment's shorthand, Enabled=...,RetainStacksOnAccountRemoval=...
#   PREFERENCES         org_preferences' arguments but the regions, blank-separated
#   SWITCH              a parameter set false until every instance exists, then true (the
#                       bucket-replication switch), or - for none; SETTING... passes it as
#                       ParameterKey=SWITCH,ParameterValue=false
#   OUS REGIONS         blank-separated OU IDs; regions in deploy order, the writer first
#   SETTING...          the rest of create-/update-stack-set's options (template,
#                       capabilities, parameters, tags)
deploy_org_stack_set() {
  local set="$1" region="$2" call_as="$3" auto_deployment="$4" preferences="$5" switch="$6"
  local ous="$7" regions="$8" ou exists=false replicate=true operation all_preferences
  local off="ParameterKey=$6,ParameterValue=false" on="ParameterKey=$6,ParameterValue=true"
  shift 8
  local -a settings=("$@") order
  read -r -a order <<<"$regions"
  # shellcheck disable=SC2086 # the preferences are words on purpose
  all_preferences="$(org_preferences $preferences "${order[@]}")"
  if org_stack_set_exists "$set" "$region" "$call_as"; then
    exists=true
    for ou in $ous; do
      org_collect_missing "$set" "$region" "$call_as" "$ou" "${order[@]}"
      [ "${#ORG_MISSING[@]}" -eq 0 ] || replicate=false
    done
  else
    replicate=false
  fi
  if [ "$switch" != - ] && [ "$replicate" = true ]; then
    settings=("${settings[@]/#$off/$on}")
  fi
  # Managed execution queues conflicting operations (an automatic deployment running when
  # deploy.sh updates) instead of failing them with OperationInProgressException.
  settings+=(--call-as "$call_as" --auto-deployment "$auto_deployment"
    --managed-execution Active=true)
  if [ "$exists" = true ]; then
    org_update_stack_set "$set" "$region" "$call_as" "$all_preferences" "${settings[@]}"
  else
    run aws cloudformation create-stack-set --region "$region" --stack-set-name "$set" \
      --permission-model SERVICE_MANAGED "${settings[@]}" --query StackSetId --output text
  fi
  for ou in $ous; do
    org_collect_missing "$set" "$region" "$call_as" "$ou" "${order[@]}"
    if [ "${#ORG_MISSING[@]}" -gt 0 ]; then
      # shellcheck disable=SC2086 # the preferences are words on purpose
      operation="$(run_operation aws cloudformation create-stack-instances --region "$region" \
        --call-as "$call_as" --stack-set-name "$set" \
        --deployment-targets "OrganizationalUnitIds=$ou" --regions "${ORG_MISSING[@]}" \
        --operation-preferences "$(org_preferences $preferences "${ORG_MISSING[@]}")" \
        --query OperationId --output text)"
      org_wait_for_operation "$set" "$region" "$call_as" "$operation"
    fi
  done
  if [ "$switch" != - ] && [ "$replicate" = false ]; then
    # Every instance (every destination bucket) exists now: switch it on everywhere.
    org_update_stack_set "$set" "$region" "$call_as" "$all_preferences" "${settings[@]/#$off/$on}"
  fi
}

# What `deploy.sh stackset` would change, read-only: CloudFormation offers no change set
# for a StackSet (change sets are per stack), so this compares the deployed template with
# TEMPLATE (a file) and lists the stack instances a run would create. CALL_AS - is a
# self-managed StackSet (instances in the caller's account; OUS ignored).
stack_set_preview() {
  local set="$1" region="$2" call_as="$3" template_file="$4" ous="$5" regions="$6" deployed_template ou
  local account wanted have
  local -a call=() order missing
  read -r -a order <<<"$regions"
  [ "$call_as" = - ] || call=(--call-as "$call_as")
  printf 'StackSet %s (administered in %s): no change set exists for StackSets; compared:\n' \
    "$set" "$region" >&3
  if [ "$DRY_RUN" = true ]; then
    printf '  (--dry-run: nothing read) the deployed template with %s, and the instances\n' \
      "${template_file##*/}" >&3
    printf '  of %s in %s\n' "${ous/#-/the caller\'s account}" "${order[*]}" >&3
    return 0
  fi
  if ! deployed_template="$(aws cloudformation describe-stack-set --region "$region" \
    ${call[@]+"${call[@]}"} --stack-set-name "$set" --query StackSet.TemplateBody \
    --output text 2>&1)"; then
    case "$deployed_template" in
      *StackSetNotFoundException*)
        printf '  the StackSet does not exist: a run creates it, with instances in %s\n' \
          "${order[*]}" >&3
        return 0
        ;;
      *) fail "$deployed_template" ;;
    esac
  fi
  if [ "$deployed_template" = "$(cat "$template_file")" ]; then
    printf '  template: unchanged\n' >&3
  else
    printf '  template: changed (%s bytes deployed, %s in %s): a run updates every instance\n' \
      "${#deployed_template}" "$(wc -c <"$template_file" | tr -d ' ')" "${template_file##*/}" >&3
  fi
  if [ "$call_as" = - ]; then
    account="$(aws sts get-caller-identity --query Account --output text)"
    have=" $(aws cloudformation list-stack-instances --region "$region" --stack-set-name "$set" \
      --query "Summaries[?Account=='$account'].Region" --output text | tr '\t\n' '  ') "
    missing=()
    for wanted in "${order[@]}"; do
      case "$have" in
        *" $wanted "*) ;;
        *) missing+=("$wanted") ;;
      esac
    done
    printf '  account %s: new instances in: %s\n' "$account" "${missing[*]:-none}" >&3
    return 0
  fi
  for ou in $ous; do
    org_collect_missing "$set" "$region" "$call_as" "$ou" "${order[@]}"
    printf '  %s: new instances in: %s\n' "$ou" "${ORG_MISSING[*]:-none}" >&3
  done
}
