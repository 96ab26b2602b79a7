"""`audit`: the global stack's trail and log retention; the global stack's bucket names."""

from __future__ import annotations

import pytest

from tests.spec.helpers import (
    add_bucket,
    assert_problem,
    edit,
    only_problem,
    set_value,
    validate,
    without_section,
)


def test_example_keeps_a_trail_for_a_year(example_text):
    audit = validate(example_text).audit
    assert audit.trail is True
    assert audit.log_retention_days == 365


def test_without_an_audit_section_the_trail_is_on(example_text):
    audit = validate(without_section(example_text, "audit")).audit
    assert audit.trail is True
    assert audit.log_retention_days == 365


def test_trail_can_be_left_to_an_organisation_trail(example_text):
    assert validate(set_value(example_text, "trail", "false")).audit.trail is False


@pytest.mark.parametrize("days", ["0", "3654", "-1", "2555"])
def test_retention_that_cloudwatch_logs_cannot_keep_is_located(example_text, days):
    # The trail's log group keeps events as long: only CloudWatch Logs' periods will do.
    anchor = "        # trail logs"
    bad = edit(
        example_text,
        f"  log_retention_days: 365{anchor}",
        f"  log_retention_days: {days}{anchor}",
    )
    problem = only_problem(bad)
    assert_problem(problem, bad, days, "audit.log_retention_days", "", exact=False, after="audit:")
    assert f"CloudWatch Logs cannot keep logs for {int(days)} days" in problem


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("templates", "the global stack's template bucket"),
        ("trail", "the global stack's CloudTrail bucket"),
        ("global-logs", "the global stack's access-log bucket"),
        ("logs", "the region's log bucket"),
    ],
)
def test_bucket_names_of_the_compiler_are_reserved(example_text, name, what):
    bad = add_bucket(example_text, name)
    assert_problem(
        only_problem(bad),
        bad,
        name,
        "storage.buckets[1].name",
        f"'{name}' is the name of {what}; choose another",
        after="    - name: assets\n",
    )


def test_global_bucket_name_too_long_for_s3_points_at_the_project(example_text):
    # storefront-webshop-x-production-global-logs-<12 digits>-us-east-1: 66 characters
    bad = edit(example_text, "project: storefront", "project: storefront-webshop-x")
    assert_problem(
        only_problem(bad),
        bad,
        "storefront-webshop-x",
        "project",
        "the global stack's bucket <project>-<environment>-global-logs-<account>-us-east-1 "
        "would be 66 characters; S3 allows 63. Shorten the project or environment name",
    )
