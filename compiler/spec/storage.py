"""Spec model for the S3 buckets each region gets."""

from __future__ import annotations

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG, empty_list, pattern_str

BucketName = pattern_str(
    r"^[a-z0-9][a-z0-9-]*[a-z0-9]$",
    "S3 names allow lower-case letters, digits and hyphens, starting and ending with a letter or digit",
    min_length=2,
    max_length=20,
)


class BucketSpec(BaseModel):
    """A versioned, KMS-encrypted, private bucket. Its S3 name is
    `<project>-<environment>-<name>-<account>-<region>` so it is unique worldwide."""

    model_config = SPEC_MODEL_CONFIG

    name: BucketName = Field(
        description="Short name: lower-case letters, digits and hyphens.", examples=["assets"]
    )
    noncurrent_version_expiry_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days before replaced object versions are deleted.",
        examples=[90],
    )
    replicate: bool = Field(
        True,
        description="Replicate the first region's bucket to the same bucket in every other "
        "region (new objects and delete markers, re-encrypted with that region's key).",
        examples=[True],
    )


class StorageSpec(BaseModel):
    model_config = SPEC_MODEL_CONFIG

    access_log_retention_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Days the region's log bucket keeps load balancer and S3 access logs.",
        examples=[365],
    )
    buckets: list[BucketSpec] = Field(
        default_factory=empty_list,
        max_length=20,
        description="Versioned, KMS-encrypted, private buckets.",
        examples=[[{"name": "assets", "noncurrent_version_expiry_days": 90}]],
    )
