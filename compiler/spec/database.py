"""Spec model for the RDS PostgreSQL database."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, pattern_str


class DatabaseSpec(BaseModel):
    """One PostgreSQL instance per region, in the isolated subnets. The storage ceiling,
    and the class and version RDS offers, are checked in spec/consistency.py."""

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
        description="Master user; RDS generates its password and keeps it in Secrets Manager.",
        examples=["dbadmin"],
    )
