"""`storage.buckets[]`: the short bucket names (their composed S3 length is a
consistency check, in test_consistency.py)."""

from __future__ import annotations

import pytest

from tests.spec.helpers import (
    add_bucket,
    assert_problem,
    edit,
    only_problem,
    validate,
    without_section,
)

NAME_HINT = (
    "S3 names allow lower-case letters, digits and hyphens, starting and ending with a "
    "letter or digit"
)


@pytest.mark.parametrize("name", ["Assets", "my_assets", "assets-", "-assets", "my.assets"])
def test_bucket_name_with_characters_s3_refuses(example_text, name):
    bad = add_bucket(example_text, name)
    assert_problem(
        only_problem(bad),
        bad,
        name,
        "storage.buckets[1].name",
        f"{NAME_HINT} (got '{name}')",
        after="buckets:",
    )


def test_bucket_short_name_longer_than_20(example_text):
    name = "a" * 21
    bad = add_bucket(example_text, name)
    assert_problem(
        only_problem(bad),
        bad,
        name,
        "storage.buckets[1].name",
        f"String should have at most 20 characters (got '{name}')",
    )


def test_bucket_without_name(example_text):
    bad = edit(example_text, "    - name: assets\n", "    - ")
    assert_problem(
        only_problem(bad),
        bad,
        "noncurrent_version_expiry_days",
        "storage.buckets[0]",
        "missing required key 'name'",
    )


def test_no_buckets(example_text):
    # scheduled tasks may read only the spec's buckets: without buckets, without tasks
    text = without_section(without_section(example_text, "storage"), "scheduled_tasks")
    assert validate(text).storage.buckets == []


def test_expiry_days_bounds(example_text):
    bad = edit(
        example_text, "noncurrent_version_expiry_days: 90", "noncurrent_version_expiry_days: 0"
    )
    assert_problem(
        only_problem(bad),
        bad,
        "0",
        "storage.buckets[0].noncurrent_version_expiry_days",
        "Input should be greater than or equal to 1 (got 0)",
        after="noncurrent_version_expiry_days: ",
    )
