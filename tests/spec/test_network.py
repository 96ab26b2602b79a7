"""`network`: AZ count bounds, NAT mode and the flow log retention values."""

from __future__ import annotations

import pytest

from compiler.spec.types import LOG_RETENTION_DAYS
from tests.spec.helpers import assert_problem, edit, only_problem, set_value, validate

RETENTION = "flow_logs_retention_days: 365"


@pytest.mark.parametrize("days", [1, 90, 3653])
def test_allowed_log_retention(example_text, days):
    spec = validate(edit(example_text, RETENTION, f"flow_logs_retention_days: {days}"))
    assert spec.network.flow_logs_retention_days == days


@pytest.mark.parametrize("days", [0, 2, 45, 365 * 10])
def test_log_retention_that_cloudwatch_does_not_offer(example_text, days):
    assert days not in LOG_RETENTION_DAYS
    bad = edit(example_text, RETENTION, f"flow_logs_retention_days: {days}")
    allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
    assert_problem(
        only_problem(bad),
        bad,
        str(days),
        "network.flow_logs_retention_days",
        f"CloudWatch Logs cannot keep logs for {days} days; choose one of {allowed}",
        after="flow_logs_retention_days: ",
    )


def test_nat_gateways_is_per_az_or_single(example_text):
    assert validate(edit(example_text, "nat_gateways: per_az", "nat_gateways: single"))
    bad = edit(example_text, "nat_gateways: per_az", "nat_gateways: per-az")
    assert_problem(
        only_problem(bad),
        bad,
        "per-az",
        "network.nat_gateways",
        "Input should be 'per_az' or 'single' (got 'per-az')",
    )


def test_availability_zones_outside_2_to_6(example_text):
    for count, bound in (("1", "greater than or equal to 2"), ("7", "less than or equal to 6")):
        bad = set_value(example_text, "availability_zones", count)
        assert_problem(
            only_problem(bad),
            bad,
            count,
            "network.availability_zones",
            f"Input should be {bound} (got {count})",
            after="availability_zones: ",
        )
