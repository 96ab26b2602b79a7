"""Spec model for the RDS PostgreSQL database."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from compiler.spec.regions import is_commercial_region
from compiler.spec.types import SPEC_MODEL_CONFIG, LogRetentionDays, pattern_str


class PromotedWriterSpec(BaseModel):
    """The writer is a promoted read replica (after `deploy.sh promote REGION`): it keeps
    the create-time properties it had as a replica, so CloudFormation updates it in place
    rather than replacing it with an empty database."""

    model_config = SPEC_MODEL_CONFIG

    identifier: pattern_str(
        r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
        "use the RDS identifier `deploy.sh promote` printed (letters, digits, single hyphens)",
        max_length=63,
    ) = Field(
        description="RDS identifier of the promoted instance, as `deploy.sh promote` prints it.",
        examples=["atlas-production-database-1a2b3c4d5e6f"],
    )
    source_region: str = Field(
        description="The region whose writer it replicated before it was promoted.",
        examples=["us-east-1"],
    )

    @field_validator("source_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if not is_commercial_region(value):
            raise ValueError(f"'{value}' is not a commercial AWS region")
        return value


class DatabaseSpec(BaseModel):
    """One PostgreSQL instance per region, in the isolated subnets: the writer in the first
    region, a cross-region read replica of it in every other (unless `replicas: false`).
    The storage ceiling, and the class and version RDS offers, are checked in
    spec/consistency.py."""

    model_config = SPEC_MODEL_CONFIG

    engine_version: pattern_str(
        r"^1[3-9]\.\d+$", 'use a PostgreSQL version 13 or newer, quoted, like "17.5"'
    ) = Field("17.5", description="PostgreSQL engine version (13 or newer).", examples=["17.5"])
    instance_class: pattern_str(
        r"^db\.[a-z0-9-]+\.[a-z0-9]+$", "use an RDS instance class like db.t3.medium"
    ) = Field("db.t3.medium", description="RDS instance class.", examples=["db.t3.medium"])
    allocated_storage_gb: int = Field(
        50, ge=20, le=65536, description="Initial gp3 storage.", examples=[50]
    )
    max_allocated_storage_gb: int = Field(
        200, ge=20, le=65536, description="Storage autoscaling ceiling.", examples=[200]
    )
    multi_az: bool = Field(
        True, description="Standby in a second AZ with automatic failover.", examples=[True]
    )
    backup_retention_days: int = Field(
        7, ge=7, le=35, description="Days of automated backups (7 to 35).", examples=[7]
    )
    database_name: pattern_str(
        r"^[a-z][a-z0-9_]{0,62}$", "use lower-case letters, digits and _, starting with a letter"
    ) = Field("app", description="Name of the database created at launch.", examples=["app"])
    master_username: pattern_str(
        r"^[a-z][a-z0-9_]{0,15}$",
        "use up to 16 lower-case letters, digits and _, starting with a letter",
    ) = Field(
        "dbadmin",
        description="Master user. Its password is generated and kept in Secrets Manager, never "
        "in a template: by the writer region's stack when the database has read replicas "
        "(RDS makes no replica of a password it manages), otherwise by RDS, which rotates it.",
        examples=["dbadmin"],
    )

    replicas: bool = Field(
        True,
        description="The first region's database is the writer; every other region gets a "
        "cross-region read replica of it (promote one with `deploy.sh promote REGION`). "
        "false: each region has its own, independent and empty, database.",
        examples=[True],
    )
    replica_lag_alarm_seconds: int = Field(
        300,
        ge=1,
        le=86400,
        description="Alarm when a replica is this many seconds behind the writer (its data "
        "loss, should its region be promoted now).",
        examples=[300],
    )
    # The server log is evidence (connections are logged): a year is the usual audit floor.
    log_retention_days: LogRetentionDays = Field(
        365,
        description="Days CloudWatch Logs keeps the database's exported logs (the "
        "`postgresql` and `upgrade` log groups under /aws/rds/instance/, which the stack "
        "creates with the data key).",
        examples=[365],
    )

    promoted: PromotedWriterSpec | None = Field(
        None,
        description="Set after a failover, when the first region's database is a promoted "
        "replica (docs/failover.md); leave it unset otherwise.",
        examples=[
            {"identifier": "atlas-production-database-1a2b3c4d5e6f", "source_region": "us-east-1"}
        ],
    )
