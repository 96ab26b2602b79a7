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
#   OUS REGIONS         blank-separated OU IDs; regions in deploy order, the writer first
#   SETTING...          the rest of create-/update-stack-set's options (template,
#                       capabilities, parameters, tags)
deploy_org_stack_set() {
  local set="$1" region="$2" call_as="$3" auto_deployment="$4" preferences="$5"
  local ous="$6" regions="$7" ou operation all_preferences
  shift 7
  local -a settings=("$@") order
  read -r -a order <<<"$regions"
  # shellcheck disable=SC2086 # the preferences are words on purpose
  all_preferences="$(org_preferences $preferences "${order[@]}")"
  # Managed execution queues conflicting operations (an automatic deployment running when
  # deploy.sh updates) instead of failing them with OperationInProgressException.
  settings+=(--call-as "$call_as" --auto-deployment "$auto_deployment"
    --managed-execution Active=true)
  if org_stack_set_exists "$set" "$region" "$call_as"; then
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
}

# For stack_set_preview (deploy_stackset_preview.sh): each organizational unit of OUS and
# the regions of REGION... (deploy order) in which a run would create instances.
org_print_new_instances() {
  local set="$1" region="$2" call_as="$3" ous="$4" ou
  shift 4
  for ou in $ous; do
    org_collect_missing "$set" "$region" "$call_as" "$ou" "$@"
    printf '  %s: new instances in: %s\n' "$ou" "${ORG_MISSING[*]:-none}" >&3
  done
}
