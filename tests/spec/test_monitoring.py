"""`monitoring:` thresholds and `notifications.emails`: ranges, addresses, cross-checks."""

from __future__ import annotations

import pytest

from compiler.spec.monitoring import MonitoringSpec
from compiler.spec.notifications import NotificationsSpec
from tests.spec.helpers import assert_problem, edit, only_problem, validate

INSTANCE_CPU = "cpu_percent: 80              #"  # monitoring.instances, with its comment
EMAIL = "    - ops@example.com"


def test_example_sets_thresholds_and_an_email(example_text):
    spec = validate(example_text)
    assert spec.monitoring.instances.memory_percent == 90
    assert spec.notifications.emails == ["ops@example.com"]


def without_section(text: str, name: str) -> str:
    """`text` without the top-level key `name` and everything indented under it."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(f"{name}:"):
            inside = True
        elif inside and line.strip() and not line[0].isspace():
            inside = False
        if not inside:
            kept.append(line)
    return "".join(kept)


def test_without_the_sections_every_default_applies(example_text):
    text = without_section(without_section(example_text, "monitoring"), "notifications")
    assert "cpu_percent: 80" not in text and "ops@example.com" not in text
    spec = validate(text)
    assert spec.monitoring == MonitoringSpec()
    assert spec.notifications == NotificationsSpec()
    assert spec.notifications.emails == []


@pytest.mark.parametrize(
    ("old", "new", "needle", "path", "message"),
    [
        (
            "memory_percent: 90",
            "memory_percent: 150",
            "150",
            "monitoring.instances.memory_percent",
            "Input should be less than or equal to 100 (got 150)",
        ),
        (
            "disk_percent: 85",
            "disk_percent: 0",
            "0",
            "monitoring.instances.disk_percent",
            "Input should be greater than or equal to 1 (got 0)",
        ),
        (
            "connections: 200",
            "connections: 100001",
            "100001",
            "monitoring.database.connections",
            "Input should be less than or equal to 100000 (got 100001)",
        ),
        (
            "response_time_p95_seconds: 1.0",
            "response_time_p95_seconds: 0",
            "0",
            "monitoring.load_balancer.response_time_p95_seconds",
            "Input should be greater than 0 (got 0)",
        ),
        (
            "period_seconds: 60 ",
            "period_seconds: 120 ",
            "120",
            "monitoring.period_seconds",
            "Input should be 60, 300, 900 or 3600 (got 120)",
        ),
    ],
)
def test_threshold_out_of_range_is_refused_at_its_value(
    example_text, old, new, needle, path, message
):
    bad = edit(example_text, old, new)
    assert_problem(only_problem(bad), bad, needle, path, message, after=new.split(":")[0] + ":")


def test_evaluation_window_longer_than_cloudwatch_allows_is_refused(example_text):
    bad = edit(example_text, "period_seconds: 60 ", "period_seconds: 900 ")
    bad = edit(bad, "evaluation_periods: 5 ", "evaluation_periods: 100 ")
    assert_problem(
        only_problem(bad),
        bad,
        "100",
        "monitoring.evaluation_periods",
        "evaluation_periods x period_seconds is 90000 seconds; CloudWatch allows 86400 with "
        "900-second periods: use at most 96 evaluation periods",
    )


def test_cpu_alarm_at_or_below_the_scaling_target_is_refused(example_text):
    bad = edit(example_text, INSTANCE_CPU, INSTANCE_CPU.replace("80", "60"))
    assert_problem(
        only_problem(bad),
        bad,
        "60",
        "monitoring.instances.cpu_percent",
        "the CPU alarm threshold (60%) must be above the scaling target "
        "compute.cpu_target_percent (60%), or the group would be in alarm whenever it works "
        "as intended",
        after="  instances:\n    cpu_percent: ",
    )


def test_default_cpu_alarm_below_a_raised_scaling_target_points_at_the_target(example_text):
    text = edit(example_text, f"    {INSTANCE_CPU}", "    #")
    bad = edit(text, "cpu_target_percent: 60", "cpu_target_percent: 85")
    assert_problem(
        only_problem(bad),
        bad,
        "85",
        "compute.cpu_target_percent",
        "the CPU alarm threshold (80%) must be above",
        exact=False,
    )


def test_free_storage_alarm_not_below_the_allocated_storage_is_refused(example_text):
    bad = edit(example_text, "free_storage_gb: 5 ", "free_storage_gb: 50 ")
    assert_problem(
        only_problem(bad),
        bad,
        "50",
        "monitoring.database.free_storage_gb",
        "50 GB free is not less than the 50 GB of database.allocated_storage_gb: the alarm "
        "would fire from the start",
        after="free_storage_gb: ",
    )


@pytest.mark.parametrize(
    "address", ["ops@example", "ops.example.com", "ops@@example.com", "ops @example.com", "@x.io"]
)
def test_bad_email_is_refused_at_the_address(example_text, address):
    bad = edit(example_text, EMAIL, f'    - "{address}"')
    assert_problem(
        only_problem(bad),
        bad,
        f'"{address}"',
        "notifications.emails[0]",
        f"use an e-mail address like ops@example.com (got {address!r})",
    )


def test_repeated_email_is_refused(example_text):
    bad = edit(example_text, EMAIL, f"{EMAIL}\n    - OPS@example.com")
    assert_problem(
        only_problem(bad),
        bad,
        "- ops@example.com",
        "notifications.emails",
        "'OPS@example.com' (emails[1]) repeats emails[0]",
    )


def test_unknown_monitoring_key_suggests_the_right_one(example_text):
    bad = edit(example_text, "memory_percent: 90", "memory_pct: 90")
    assert_problem(
        only_problem(bad),
        bad,
        "memory_pct",
        "monitoring.instances.memory_pct",
        "unknown key 'memory_pct'; did you mean 'memory_percent'?",
    )
