# shellcheck shell=bash
# Part of deploy.sh (compiler/deploy_script.py copies it in after deploy_library.sh, whose
# `fail` and DRY_RUN it uses): the preflight checklist. Every check prints one line,
# `ok`, `warn` (could not be checked: the API refused or does not exist there) or `FAIL`;
# `preflight_end` stops the run before anything changes if one failed.

# AWS refuses a reservation that leaves an account less unreserved concurrency than this
# (its error says "below its minimum value of [10]"; larger accounts see 50 or 100).
LAMBDA_UNRESERVED_MINIMUM=10
PREFLIGHT_FAILURES=0

check_line() {
  printf '  %-4s  %s\n' "$1" "$2" >&3
  if [ "$1" = FAIL ]; then
    PREFLIGHT_FAILURES=$((PREFLIGHT_FAILURES + 1))
  fi
}

preflight_begin() {
  PREFLIGHT_FAILURES=0
  printf 'deploy.sh: preflight (nothing is changed until every check passes)\n' >&3
}

preflight_end() {
  if [ "$PREFLIGHT_FAILURES" -gt 0 ]; then
    fail "preflight: $PREFLIGHT_FAILURES check(s) failed; nothing was deployed"
  fi
  printf 'deploy.sh: preflight passed\n' >&3
}

# Asked in REGION (the run's primary region): a CLI v2 older than 2.9 with no region
# configured refuses an STS call without one.
check_credentials() {
  local region="$1" identity
  if identity="$(aws sts get-caller-identity --region "$region" --query '[Account,Arn]' --output text 2>&1)"; then
    check_line ok "credentials: account ${identity%%$'\t'*} as ${identity#*$'\t'}"
  else
    check_line FAIL "credentials: $identity"
  fi
}

# Region REGION is enabled in the account (asked in region ASK_IN, which is enabled).
check_region() {
  local region="$1" ask_in="$2" status
  if ! status="$(aws ec2 describe-regions --region "$ask_in" --all-regions \
    --region-names "$region" --query 'Regions[0].OptInStatus' --output text 2>&1)"; then
    check_line FAIL "region $region: $status"
    return 0
  fi
  case "$status" in
    opt-in-not-required | opted-in) check_line ok "region $region: enabled ($status)" ;;
    *) check_line FAIL "region $region: $status; enable it: aws account enable-region --region-name $region" ;;
  esac
}

# Stack STACK in REGION is in a state this run can deploy; sets STACK_FOUND to its status
# (NONE when this run creates it from nothing), which check_quotas and check_global_output read.
STACK_FOUND=""
check_stack() {
  local stack="$1" region="$2" answer
  if ! answer="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>&1)"; then
    case "$answer" in
      *"does not exist"*) answer=NONE ;;
      *)
        STACK_FOUND=""
        check_line FAIL "stack $stack ($region): $answer"
        return 0
        ;;
    esac
  fi
  STACK_FOUND="$answer"
  if [ "$answer" = REVIEW_IN_PROGRESS ]; then
    STACK_FOUND=NONE # only a change set (deploy.sh plan) made it: it has no resources yet
  fi
  if [ "$answer" = ROLLBACK_COMPLETE ]; then
    # Its first create failed and rolled back: no resources, no outputs; deploy_stack
    # deletes and re-creates it, so the later checks treat it as a stack not made yet.
    STACK_FOUND=NONE
  fi
  case "$answer" in
    NONE) check_line ok "stack $stack ($region): none yet, this run creates it" ;;
    ROLLBACK_COMPLETE) check_line ok "stack $stack ($region): ROLLBACK_COMPLETE, this run deletes and re-creates it" ;;
    REVIEW_IN_PROGRESS) check_line ok "stack $stack ($region): REVIEW_IN_PROGRESS (a change set made it), this run creates it" ;;
    *_COMPLETE) check_line ok "stack $stack ($region): $answer" ;;
    UPDATE_ROLLBACK_FAILED) check_line FAIL "stack $stack ($region): UPDATE_ROLLBACK_FAILED; aws cloudformation continue-update-rollback --region $region --stack-name $stack first" ;;
    ROLLBACK_FAILED) check_line FAIL "stack $stack ($region): ROLLBACK_FAILED (a failed first create); aws cloudformation delete-stack --region $region --stack-name $stack first (a new database in it may need aws rds modify-db-instance --no-deletion-protection before)" ;;
    *) check_line FAIL "stack $stack ($region): $answer" ;;
  esac
}

# The template bucket given in variable VARIABLE (set) exists and can be reached.
check_bucket() {
  local variable="$1" region="$2" answer
  if answer="$(aws s3api head-bucket --region "$region" --bucket "${!variable}" 2>&1)"; then
    check_line ok "bucket ${!variable} (\$$variable, $region): reachable"
  else
    check_line FAIL "bucket ${!variable} (\$$variable, $region): ${answer:-not reachable}"
  fi
}

# The bucket of the bootstrap stack in REGION can be reached, if the stack exists.
check_bootstrap() {
  local region="$1" status bucket="" key value answer
  status="$(aws cloudformation describe-stacks --region "$region" --stack-name "$BOOTSTRAP_STACK" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null || printf NONE)"
  if [ "$status" = NONE ] || [ "$status" = REVIEW_IN_PROGRESS ]; then
    check_line ok "bootstrap $BOOTSTRAP_STACK ($region): none yet, this run creates it"
    return 0
  fi
  if [ "$status" = ROLLBACK_COMPLETE ]; then
    # Its first create failed: no bucket, no output; deploy_stack deletes and re-creates it.
    check_line ok "bootstrap $BOOTSTRAP_STACK ($region): ROLLBACK_COMPLETE, this run deletes and re-creates it"
    return 0
  fi
  while IFS=$'\t' read -r key value; do
    if [ "$key" = TemplateBucketName ]; then
      bucket="$value"
    fi
  done < <(aws cloudformation describe-stacks --region "$region" --stack-name "$BOOTSTRAP_STACK" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text 2>/dev/null || true)
  if [ -z "$bucket" ]; then
    check_line FAIL "bootstrap $BOOTSTRAP_STACK ($region): $status, without a TemplateBucketName output"
  elif answer="$(aws s3api head-bucket --region "$region" --bucket "$bucket" 2>&1)"; then
    check_line ok "bootstrap bucket $bucket ($region): reachable"
  else
    check_line FAIL "bootstrap bucket $bucket ($region): ${answer:-not reachable}"
  fi
}

# A number one AWS CLI call prints (a quota comes as 5.0), or nothing if the call failed.
ask_number() {
  local answer
  answer="$("$@" --output text 2>/dev/null)" || return 0
  answer="${answer%%.*}"
  case "$answer" in
    '' | *[!0-9]*) ;;
    *) printf '%s' "$answer" ;;
  esac
}

# USED + NEED <= QUOTA for what WHAT names; warn when either is unknown.
check_room() {
  local what="$1" used="$2" need="$3" quota="$4"
  if [ -z "$used" ] || [ -z "$quota" ]; then
    check_line warn "$what: could not be read (service quotas or the describe call refused)"
  elif [ $((used + need)) -le "$quota" ]; then
    check_line ok "$what: $used used + $need new <= $quota"
  else
    check_line FAIL "$what: $used used + $need new > quota $quota; request an increase in Service Quotas"
  fi
}

# The quotas a first create of a stack in REGION hits: ELASTIC_IPS, NAT_GATEWAYS (one per
# AZ), VPCS and RESERVED Lambda concurrency. Only when the stack is new (STACK_FOUND NONE):
# an existing stack's resources already count as used.
check_quotas() {
  local region="$1" eips="$2" nats="$3" vpcs="$4" reserved="$5" used quota subnets busiest
  if [ "$STACK_FOUND" != NONE ]; then
    return 0
  fi
  if [ "$eips" -gt 0 ]; then
    used="$(ask_number aws ec2 describe-addresses --region "$region" --query 'length(Addresses)')"
    quota="$(ask_number aws service-quotas get-service-quota --region "$region" \
      --service-code ec2 --quota-code L-0263D0A3 --query Quota.Value)"
    check_room "Elastic IPs in $region" "$used" "$eips" "$quota"
  fi
  if [ "$nats" -gt 0 ]; then
    busiest=""
    if subnets="$(aws ec2 describe-nat-gateways --region "$region" \
      --filter Name=state,Values=pending,available,deleting \
      --query 'NatGateways[].SubnetId' --output text 2>/dev/null)"; then
      busiest=0
      if [ -n "$subnets" ] && [ "$subnets" != None ]; then
        # shellcheck disable=SC2086 # one word per subnet ID
        busiest="$(aws ec2 describe-subnets --region "$region" --subnet-ids $subnets \
          --query 'Subnets[].AvailabilityZone' --output text 2>/dev/null |
          tr '\t' '\n' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')"
      fi
    fi
    quota="$(ask_number aws service-quotas get-service-quota --region "$region" \
      --service-code vpc --quota-code L-FE5A380F --query Quota.Value)"
    check_room "NAT gateways in the busiest AZ of $region" "$busiest" 1 "$quota"
  fi
  if [ "$vpcs" -gt 0 ]; then
    used="$(ask_number aws ec2 describe-vpcs --region "$region" --query 'length(Vpcs)')"
    quota="$(ask_number aws service-quotas get-service-quota --region "$region" \
      --service-code vpc --quota-code L-F678F1CE --query Quota.Value)"
    check_room "VPCs in $region" "$used" "$vpcs" "$quota"
  fi
  if [ "$reserved" -gt 0 ]; then
    used="$(ask_number aws lambda get-account-settings --region "$region" \
      --query AccountLimit.UnreservedConcurrentExecutions)"
    if [ -z "$used" ]; then
      check_line warn "Lambda concurrency in $region: could not be read"
    elif [ $((used - reserved)) -ge "$LAMBDA_UNRESERVED_MINIMUM" ]; then
      check_line ok "Lambda concurrency in $region: $used unreserved - $reserved reserved >= $LAMBDA_UNRESERVED_MINIMUM"
    else
      check_line FAIL "Lambda concurrency in $region: $used unreserved - $reserved reserved < $LAMBDA_UNRESERVED_MINIMUM; request a higher Concurrent executions quota (L-B99A9384)"
    fi
  fi
}

# The global stack's output OUTPUT (the execution role) exists, if the global stack does.
check_global_output() {
  local stack="$1" region="$2" output="$3" key value found=""
  if [ "$STACK_FOUND" = NONE ]; then
    check_line ok "$output: made by $stack in this run"
    return 0
  fi
  while IFS=$'\t' read -r key value; do
    if [ "$key" = "$output" ]; then
      found="$value"
    fi
  done < <(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text 2>/dev/null || true)
  if [ -n "$found" ] && [ "$found" != None ]; then
    check_line ok "$output: $found"
    check_execution_role "$found" "$region"
  else
    check_line FAIL "$output: $stack ($region) has no such output; deploy it first (deploy.sh global)"
  fi
}

# The first non-empty line of TEXT: the CLI starts its error message with an empty one.
first_line() {
  local line
  while IFS= read -r line; do
    if [ -n "$line" ]; then
      printf '%s' "$line"
      return 0
    fi
  done <<<"$1"
}

# The IAM role ARN whose policies decide what caller ARN may do, printed; nothing (status 1)
# when it cannot be told. An assumed-role session (arn:P:sts::A:assumed-role/ROLE/SESSION)
# is role ROLE, but the session ARN drops the role's path: arn:P:iam::A:role/ROLE is wrong
# for a role with one, which simulate-principal-policy then answers NoSuchEntity.
caller_policy_arn() {
  local arn="$1" partition account rest
  case "$arn" in
    arn:*:iam::*:user/* | arn:*:iam::*:role/*) printf '%s' "$arn" ;;
    arn:*:sts::*:assumed-role/*/*)
      partition="${arn#arn:}"
      partition="${partition%%:*}"
      rest="${arn#arn:"$partition":sts::}"
      account="${rest%%:*}"
      rest="${rest#*:assumed-role/}"
      printf 'arn:%s:iam::%s:role/%s' "$partition" "$account" "${rest%%/*}"
      ;;
    *) return 1 ;;
  esac
}

# The execution role ROLE_ARN (the global stack's output) can do its job: CloudFormation
# assumes it for the regional stacks (its trust policy must allow the service principal
# cloudformation.amazonaws.com) and the caller hands it over with --role-arn, which needs
# iam:PassRole on it. Either question refused (no iam:GetRole or
# iam:SimulatePrincipalPolicy, or an emulator without the call) is a warning, not a FAIL.
check_execution_role() {
  local role_arn="$1" region="$2" name answer caller source
  name="${role_arn##*/}"
  if ! answer="$(aws iam get-role --region "$region" --role-name "$name" \
    --query "Role.AssumeRolePolicyDocument.Statement[?Effect=='Allow'].Principal.Service | []" \
    --output text 2>&1)"; then
    check_line warn "execution role $name: trust policy could not be checked ($(first_line "$answer"))"
  else
    if printf '%s\n' "$answer" | tr '\t' '\n' | grep -qx cloudformation.amazonaws.com; then
      check_line ok "execution role $name: trusted by cloudformation.amazonaws.com"
    else
      check_line FAIL "execution role $name: its trust policy does not let cloudformation.amazonaws.com assume it"
    fi
  fi
  if ! caller="$(aws sts get-caller-identity --region "$region" --query Arn --output text 2>&1)"; then
    check_line warn "iam:PassRole on $name: could not be checked ($(first_line "$caller"))"
    return 0
  fi
  if ! source="$(caller_policy_arn "$caller")"; then
    check_line warn "iam:PassRole on $name: could not be checked for $caller (not a user or role)"
    return 0
  fi
  if ! answer="$(aws iam simulate-principal-policy --region "$region" \
    --policy-source-arn "$source" --action-names iam:PassRole --resource-arns "$role_arn" \
    --query 'EvaluationResults[0].EvalDecision' --output text 2>&1)"; then
    case "$answer" in
      *NoSuchEntity*) check_line warn "iam:PassRole on $name: could not be checked: no role $source (the session ARN $caller does not show the role's path)" ;;
      *) check_line warn "iam:PassRole on $name: could not be checked ($(first_line "$answer"))" ;;
    esac
    return 0
  fi
  case "$answer" in
    allowed) check_line ok "iam:PassRole on $name: allowed for $source" ;;
    *) check_line FAIL "iam:PassRole on $name: $answer for $source; grant it iam:PassRole on $role_arn" ;;
  esac
}
