"""`skip_check` records a checkov waiver in the resource Metadata, in the shape checkov reads."""

from __future__ import annotations

import pytest
from troposphere import s3

from compiler.builders import purpose, skip_check


def test_skips_accumulate_next_to_the_purpose():
    bucket = purpose(s3.Bucket("Logs"), "Log bucket")
    skip_check(bucket, "CKV_AWS_18", "the log bucket cannot log to itself")
    skip_check(bucket, "CKV_AWS_21", "second reason")
    assert bucket.to_dict()["Metadata"] == {
        "Purpose": "Log bucket",
        "checkov": {
            "skip": [
                {"id": "CKV_AWS_18", "comment": "the log bucket cannot log to itself"},
                {"id": "CKV_AWS_21", "comment": "second reason"},
            ]
        },
    }


def test_a_skip_needs_a_reason():
    with pytest.raises(ValueError, match="CKV_AWS_18 on Logs needs a reason"):
        skip_check(s3.Bucket("Logs"), "CKV_AWS_18", " ")
