# shellcheck shell=bash
# Part of deploy.sh for a plan with a StackSet: `deploy.sh stackset-plan`. compiler/
# deploy_script.py copies it in after deploy_library.sh (show, fail, DRY_RUN); a
# service-managed StackSet's OUs are read by deploy_stackset.sh's org_print_new_instances,
# copied in with it. A real file, so that shellcheck reads it, and tests source it, alone.

# What `deploy.sh stackset` would change, read-only: CloudFormation offers no change set
# for a StackSet (change sets are per stack), so this compares the deployed template with
# TEMPLATE (a file) and lists the stack instances a run would create. CALL_AS - is a
# self-managed StackSet (instances in the caller's account; OUS ignored).
stack_set_preview() {
  local set="$1" region="$2" call_as="$3" template_file="$4" ous="$5" regions="$6" deployed_template
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
    account="$(aws sts get-caller-identity --region "$region" --query Account --output text)"
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
  org_print_new_instances "$set" "$region" "$call_as" "$ous" "${order[@]}"
}
