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

# Promote the read replica IDENTIFIER in REGION to a standalone, writable instance, wait
# until it is available, then give it automated backups (RETENTION days) and a master
# password managed in REGION's Secrets Manager, encrypted with KEY_ALIAS: the writer's
# secret lives in the old writer region, which may be the one that is down.
promote_replica() {
  local region="$1" identifier="$2" retention="$3" key_alias="$4" source
  if [ "$DRY_RUN" = false ]; then
    source="$(aws rds describe-db-instances --region "$region" \
      --db-instance-identifier "$identifier" \
      --query 'DBInstances[0].ReadReplicaSourceDBInstanceIdentifier' --output text)" ||
      fail "no database $identifier in $region"
    case "$source" in
      '' | None) fail "$identifier in $region is not a read replica (already promoted?)" ;;
    esac
  fi
  run aws rds promote-read-replica --region "$region" --db-instance-identifier "$identifier" \
    --backup-retention-period "$retention"
  run aws rds wait db-instance-available --region "$region" --db-instance-identifier "$identifier"
  run aws rds modify-db-instance --region "$region" --db-instance-identifier "$identifier" \
    --manage-master-user-password --master-user-secret-kms-key-id "$key_alias" \
    --apply-immediately
  run aws rds wait db-instance-available --region "$region" --db-instance-identifier "$identifier"
  printf '%s\n' "deploy.sh: $identifier in $region is now a standalone writer; next, put" \
    "$region first under regions: in infra.yaml (see docs/failover.md)" >&3
}
