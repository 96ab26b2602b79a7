# shellcheck shell=bash
# Part of deploy.sh for a service-managed StackSet with read replicas (compiler/
# deploy_script.py copies it in after deploy_failover.sh, whose replica_in it uses): the
# failover of one member account. Kept as a real file so shellcheck reads it on its own.

# Promote REGION's read replica of WRITER (an identifier), in the account deploy.sh runs
# as, to a standalone writer with automated backups (RETENTION days), and wait until it is
# available. Its master password stays the old writer's (replicated data), which REGION's
# instances keep reading from REGION's copy of the writer's secret. Unlike a single
# account's promotion, no spec change follows: the StackSet serves every account of its
# OUs, and one account's promoted instance is named by that account only
# (docs/multi-account.md, "Failing over one member account").
promote_member_replica() {
  local region="$1" writer="$2" retention="$3" replica account
  replica="$(replica_in "$region" "$writer")"
  account="$(if [ "$DRY_RUN" = true ]; then printf '<caller account>'; else
    aws sts get-caller-identity --region "$region" --query Account --output text; fi)"
  run aws rds promote-read-replica --region "$region" --db-instance-identifier "$replica" \
    --backup-retention-period "$retention"
  run aws rds wait db-instance-available --region "$region" --db-instance-identifier "$replica"
  printf '%s\n' "deploy.sh: $replica in $region is now a standalone writer, in account" \
    "$account only. Leave infra.yaml as it is: the StackSet cannot record one account's" \
    "promotion. Until this account has failed back, change nothing under database: in" \
    "the spec: a StackSet update of the database reaches this account's instances too." \
    "Failing back: docs/multi-account.md, \"Failing over one member account\"." >&3
}
