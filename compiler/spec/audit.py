"""Spec model for the audit trail: a multi-region CloudTrail trail in the global stack."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, LogRetentionDays

# Short names of the global stack's buckets (`naming.bucket_name`): the trail's logs, and
# the access logs of the global stack's other buckets.
TRAIL_BUCKET = "trail"
GLOBAL_LOG_BUCKET = "global-logs"


class AuditSpec(BaseModel):
    """CloudTrail for every region of the account, with its own encrypted log bucket."""

    model_config = SPEC_MODEL_CONFIG

    trail: bool = Field(
        True,
        description="Create a multi-region CloudTrail trail (management events, log file "
        "validation, KMS-encrypted), delivered to a CloudWatch Logs group with the CIS "
        "monitoring metric filters and alarms. Set false only where an organisation trail "
        "already records this account and its log group carries those alarms "
        "(docs/audit-monitoring.md).",
        examples=[True],
    )
    # A CloudWatch Logs retention: the trail's log group keeps its events this long too.
    log_retention_days: LogRetentionDays = Field(
        365,
        description="Days the global stack keeps trail logs (its bucket and its CloudWatch "
        "Logs group) and the access logs of its buckets; a CloudWatch Logs retention period.",
        examples=[365],
    )
