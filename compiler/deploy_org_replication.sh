# shellcheck shell=bash
# Part of deploy.sh for a service-managed StackSet whose writer region replicates (buckets,
# the database's master secret): compiler/deploy_script.py copies it in after
# deploy_stackset.sh, whose org_* functions it uses. A real file, so that it is linted
# and sourced by tests on its own.
#
# The replication switch (a template parameter, true once every region's destination
# exists) is set per account, not on the StackSet. The StackSet's own value stays false:
# it is what automatic deployment gives an account that joins an OU later, all regions at
# once in no set order, and a writer region created with replication on would fail there
# (the other regions' buckets and keys do not exist yet) and roll back onto a database
# that deletion protection keeps. Each account deploy.sh has deployed in every region gets
# the switch on as a parameter override of its instances, which StackSet updates keep.

# Set SWITCH to true, as a parameter override, on the instances of every account of each
# organizational unit in OUS, in REGIONS (deploy order, the writer first), one operation per
# OU with PREFERENCES (org_preferences' arguments but the regions).
org_switch_on() {
  local set="$1" region="$2" call_as="$3" preferences="$4" switch="$5" ous="$6" regions="$7"
  local ou operation targets unready
  local -a order
  read -r -a order <<<"$regions"
  for ou in $ous; do
    if [ "$DRY_RUN" = false ] && [ -z "$(aws cloudformation list-stack-instances \
      --region "$region" --call-as "$call_as" --stack-set-name "$set" \
      --query "$(org_instances_query "$ou")" --output text)" ]; then
      # An OU without accounts has no instance: there is nothing to switch on, and
      # UpdateStackInstances updates only instances that exist.
      continue
    fi
    # An account whose other regions did not all succeed (within the failure tolerance)
    # keeps replication off: its destinations may not exist. The next run retries it.
    targets="OrganizationalUnitIds=$ou"
    unready="$(org_unready_accounts "$set" "$region" "$call_as" "$ou" "${order[@]:1}" |
      paste -sd, -)"
    if [ -n "$unready" ]; then
      printf 'deploy.sh: WARNING: replication stays off in %s (%s): not every region succeeded there\n' \
        "$unready" "$ou" >&2
      targets="$targets,Accounts=$unready,AccountFilterType=DIFFERENCE"
    fi
    # shellcheck disable=SC2086 # the preferences are words on purpose
    operation="$(run_operation aws cloudformation update-stack-instances --region "$region" \
      --call-as "$call_as" --stack-set-name "$set" \
      --deployment-targets "$targets" --regions "${order[@]}" \
      --parameter-overrides "ParameterKey=$switch,ParameterValue=true" \
      --operation-preferences "$(org_preferences $preferences "${order[@]}")" \
      --query OperationId --output text)"
    org_wait_for_operation "$set" "$region" "$call_as" "$operation"
  done
}
