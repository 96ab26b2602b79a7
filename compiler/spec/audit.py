"""Spec model for the audit trail: a multi-region CloudTrail trail in the global stack."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG

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
        "validation, KMS-encrypted). Set false only where an organisation trail already "
        "records this account.",
        examples=[True],
    )
    log_retention_days: int = Field(
        365,
        ge=1,
        le=3653,
        description="Days the global stack keeps trail logs and the access logs of its buckets.",
        examples=[365],
    )
