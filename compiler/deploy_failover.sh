# shellcheck shell=bash
# Part of deploy.sh (compiler/deploy_script.py copies it in after its library, whose
# `run`, `show`, `fail` and DRY_RUN it uses): the bucket-replication pass and the
# promotion of a read replica. Kept as a real file so shellcheck reads it on its own.

# Whether stack STACK in REGION exists and its last operation succeeded, so that its
# buckets can be a replication destination. Under --dry-run: no (a first deploy).
stack_ready() {
  local stack="$1" region="$2" status
  if [ "$DRY_RUN" = true ]; then
    return 1
  fi
  if ! status="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null)"; then
    return 1
  fi
  case "$status" in
    CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE | IMPORT_COMPLETE) return 0 ;;
    *) return 1 ;;
  esac
}

# true when every stack named in "STACK REGION" pairs is ready, else false: whether the
# writer region's buckets may replicate on the first pass already (every later run).
replication_ready() {
  while [ "$#" -ge 2 ]; do
    if ! stack_ready "$1" "$2"; then
      printf false
      return 0
    fi
    shift 2
  done
  printf true
}

# The identifier of the read replica in REGION whose source is the writer WRITER (an
# identifier): a replica's name changes with its writer's, so replicas are found by source.
replica_in() {
  local region="$1" writer="$2" found
  if [ "$DRY_RUN" = true ]; then
    printf '<replica of %s in %s>' "$writer" "$region"
    return 0
  fi
  found="$(aws rds describe-db-instances --region "$region" \
    --query "DBInstances[?ends_with(ReadReplicaSourceDBInstanceIdentifier || '', ':db:$writer')].DBInstanceIdentifier" \
    --output text)" || fail "cannot list the databases of $region"
  case "$found" in
    '' | None) fail "no read replica of $writer in $region (already promoted?)" ;;
    *[[:space:]]*) fail "more than one read replica of $writer in $region: $found" ;;
  esac
  printf '%s' "$found"
}

# Promote REGION's read replica of WRITER to a standalone, writable instance with
# automated backups (RETENTION days), and wait until it is available. Its master password
# stays the old writer's (replicated data), which REGION's instances keep reading from
# REGION's copy of the old writer's secret, even while the old writer region is down: the
# deploy that makes REGION the writer region creates a master secret of its own there and
# sets the instance's password from it. RDS must not manage that password: it
# creates no read replica of an instance whose password it manages.
promote_replica() {
  local region="$1" writer="$2" retention="$3" old_region="$4" replica
  replica="$(replica_in "$region" "$writer")"
  run aws rds promote-read-replica --region "$region" --db-instance-identifier "$replica" \
    --backup-retention-period "$retention"
  run aws rds wait db-instance-available --region "$region" --db-instance-identifier "$replica"
  printf '%s\n' "deploy.sh: $replica in $region is now a standalone writer. Next, in infra.yaml:" \
    "put $region first under regions: and set" \
    "  database:" \
    "    promoted:" \
    "      identifier: $replica" \
    "      source_region: $old_region" \
    "then compile and deploy (docs/failover.md)." >&3
}

# Set variable VARIABLE to output OUTPUT of StackSet SET's stack instance in REGION for
# ACCOUNT (SET administered in ADMIN_REGION): CloudFormation names an instance's stack,
# so it is found through the StackSet, then read like any stack (read_output).
stack_instance_output() {
  local _variable="$1" _set="$2" _admin="$3" _account="$4" _region="$5" _output="$6" _stack
  if [ "$DRY_RUN" = true ]; then
    printf -v "$_variable" '<%s output of the %s instance of %s>' "$_output" "$_region" "$_set"
    return 0
  fi
  _stack="$(aws cloudformation describe-stack-instance --region "$_admin" \
    --stack-set-name "$_set" --stack-instance-account "$_account" \
    --stack-instance-region "$_region" --query StackInstance.StackId --output text)" ||
    fail "StackSet $_set has no instance in $_region"
  read_output "$_variable" "$_stack" "$_region" "$_output"
}
