"""`patching`: schedule syntax, window hours, concurrency formats, approval rule values, and
the checks against `compute` (instances left serving, the image's operating system)."""

from __future__ import annotations

import pytest

from compiler.spec.patching import check_schedule
from tests.spec.helpers import assert_problem, edit, only_problem, validate

SCHEDULE = "schedule: cron(0 3 ? * SUN *)"
CUTOFF = "cutoff_hours: 1"
CONCURRENCY = 'max_concurrency: "50%"'
CLASSIFICATIONS = "classifications: [Security, Bugfix]"
MIN_SIZE = "  min_size: 2\n"


def without_patching_section(example_text: str) -> str:
    start = example_text.index("\npatching:")
    end = example_text.index("\n\n", start + 1)
    return example_text[:start] + example_text[end:]


def test_example_spec_patches_weekly_half_the_instances_at_a_time(example_text):
    patching = validate(example_text).patching
    assert patching.operating_system == "AMAZON_LINUX_2023"
    assert patching.schedule == "cron(0 3 ? * SUN *)"
    assert (patching.duration_hours, patching.cutoff_hours) == (3, 1)
    assert (patching.max_concurrency, patching.max_errors) == ("50%", "1")
    assert patching.classifications == ["Security", "Bugfix"]
    assert patching.severities == ["Critical", "Important"]
    assert patching.approve_after_days == 7
    assert patching.schedule_timezone is None


def test_spec_without_a_patching_section_still_gets_patched(example_text):
    text = without_patching_section(example_text)
    assert "patching:" not in text
    assert validate(text).patching == validate(example_text).patching


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(30 23 ? * TUE#3 *)",  # third Tuesday
        "cron(0 2 L * ? *)",  # last day of the month
        "cron(15 10 ? * 6L *)",  # last Friday
        "cron(0 18 ? * MON-FRI *)",
        "cron(0/30 1-4 ? * SAT,SUN *)",
        "rate(1 day)",
        "rate(7 days)",
        "rate(12 hours)",
    ],
)
def test_schedules_systems_manager_accepts(schedule):
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("weekly", "'weekly' is not a schedule; write cron("),
        ("cron(0 3 ? * SUN)", "has 5 fields, not 6"),
        ("cron(0 3 * * SUN *)", "exactly one of day-of-month ('*') and day-of-week ('SUN')"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month ('?') and day-of-week ('?')"),
        ("cron(0 24 ? * SUN *)", "24 is outside 0..23 in the hours field"),
        ("cron(0 3 ? * FUNDAY *)", "the day-of-week field 'FUNDAY' is not valid"),
        ("rate(1 days)", "Systems Manager wants rate(1 day)"),
        ("rate(2 hour)", "Systems Manager wants rate(2 hours)"),
        ("rate(0 days)", "the rate must be at least 1"),
    ],
)
def test_bad_schedule_is_reported_at_the_schedule(example_text, schedule, message):
    bad = edit(example_text, SCHEDULE, f"schedule: {schedule}")
    assert_problem(
        only_problem(bad),
        bad,
        schedule,
        "patching.schedule",
        message,
        exact=False,
        after="\npatching:",
    )


@pytest.mark.parametrize("concurrency", ["0", "half", "-1", "150%", "0%", "5.5%"])
def test_bad_concurrency_format(example_text, concurrency):
    bad = edit(example_text, CONCURRENCY, f'max_concurrency: "{concurrency}"')
    assert_problem(
        only_problem(bad),
        bad,
        f'"{concurrency}"',
        "patching.max_concurrency",
        "use a number of instances like 1, or a percentage from 1% to 100% like 50% "
        f"(got '{concurrency}')",
    )


def test_bad_max_errors_format(example_text):
    bad = edit(example_text, 'max_errors: "1"', 'max_errors: "all"')
    assert_problem(
        only_problem(bad),
        bad,
        '"all"',
        "patching.max_errors",
        "use a number of failed instances like 1 (0 stops at the first), or a percentage "
        "like 10% (got 'all')",
    )


@pytest.mark.parametrize("cutoff", [3, 4])
def test_cutoff_not_before_the_end_of_the_window(example_text, cutoff):
    bad = edit(example_text, CUTOFF, f"cutoff_hours: {cutoff}")
    assert_problem(
        only_problem(bad),
        bad,
        f"{cutoff}  ",
        "patching.cutoff_hours",
        f"cutoff_hours ({cutoff}) must be less than duration_hours (3), or no instance "
        "could start patching; lower the cutoff or lengthen the window",
        after="cutoff_hours: ",
    )


def test_window_longer_than_a_day_is_refused(example_text):
    bad = edit(example_text, "duration_hours: 3", "duration_hours: 25")
    assert_problem(
        only_problem(bad),
        bad,
        "25",
        "patching.duration_hours",
        "Input should be less than or equal to 24 (got 25)",
        after="duration_hours: ",
    )


def test_unknown_classification_points_at_the_item(example_text):
    bad = edit(example_text, CLASSIFICATIONS, "classifications: [Security, Bugfixes]")
    assert_problem(
        only_problem(bad),
        bad,
        "Bugfixes",
        "patching.classifications[1]",
        "Input should be 'Security', 'Bugfix', 'Enhancement', 'Recommended' or 'Newpackage' "
        "(got 'Bugfixes')",
    )


def test_security_classification_cannot_be_left_out(example_text):
    bad = edit(example_text, CLASSIFICATIONS, "classifications: [Bugfix]")
    assert_problem(
        only_problem(bad),
        bad,
        "[Bugfix]",
        "patching.classifications",
        "must include Security: patching exists to install security fixes",
    )


def test_unknown_severity_points_at_the_item(example_text):
    bad = edit(example_text, "severities: [Critical, Important]", "severities: [Critical, High]")
    assert_problem(
        only_problem(bad),
        bad,
        "High",
        "patching.severities[1]",
        "Input should be 'Critical', 'Important', 'Medium' or 'Low' (got 'High')",
    )


def test_approval_delay_is_at_most_360_days(example_text):
    bad = edit(example_text, "approve_after_days: 7", "approve_after_days: 361")
    assert_problem(
        only_problem(bad),
        bad,
        "361",
        "patching.approve_after_days",
        "Input should be less than or equal to 360 (got 361)",
    )


def test_timezone_must_be_an_iana_name(example_text):
    bad = edit(
        example_text, "  # schedule_timezone: Europe/Berlin", "  schedule_timezone: Berlin/Europe"
    )
    assert_problem(
        only_problem(bad),
        bad,
        "Berlin/Europe",
        "patching.schedule_timezone",
        "'Berlin/Europe' is not an IANA time zone name like Europe/Berlin or UTC",
    )


def test_timezone_is_taken(example_text):
    text = edit(
        example_text, "  # schedule_timezone: Europe/Berlin", "  schedule_timezone: Europe/Berlin"
    )
    assert validate(text).patching.schedule_timezone == "Europe/Berlin"


@pytest.mark.parametrize(("concurrency", "at_once"), [("2", 2), ("100%", 2), ("51%", 2)])
def test_concurrency_must_leave_an_instance_serving(example_text, concurrency, at_once):
    bad = edit(example_text, CONCURRENCY, f'max_concurrency: "{concurrency}"')
    assert_problem(
        only_problem(bad),
        bad,
        f'"{concurrency}"',
        "patching.max_concurrency",
        f"'{concurrency}' patches (and may reboot) {at_once} of the compute.min_size 2 "
        "instances at once, leaving none serving; use at most 1 or a percentage like 50%",
    )


def test_a_single_instance_group_is_still_patched(example_text):
    text = edit(example_text, MIN_SIZE, "  min_size: 1\n")
    text = edit(text, "  desired_capacity: 2\n", "  desired_capacity: 1\n")
    assert validate(text).patching.max_concurrency == "50%"


def test_baseline_must_be_for_the_images_operating_system(example_text):
    bad = edit(
        example_text,
        "operating_system: AMAZON_LINUX_2023",
        "operating_system: AMAZON_LINUX_2",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "AMAZON_LINUX_2",
        "patching.operating_system",
        "the image (al2023-ami-kernel-default-x86_64) runs AMAZON_LINUX_2023 but the patch "
        "baseline is for AMAZON_LINUX_2; set `patching.operating_system: AMAZON_LINUX_2023`",
        after="operating_system: ",
    )


@pytest.mark.parametrize(
    "schedule", ["cron(0 3 ? *  SUN *)", "rate(7  days)", "cron(0 3 ? * SUN * )"]
)
def test_schedule_with_extra_whitespace_is_refused_at_its_value(example_text, schedule):
    bad = edit(example_text, SCHEDULE, f"schedule: '{schedule}'")
    tidy = " ".join(schedule.split()).replace(" )", ")")
    assert_problem(
        only_problem(bad),
        bad,
        f"'{schedule}'",
        "patching.schedule",
        f"{schedule!r} has extra or non-space whitespace, which AWS refuses; write {tidy!r}",
    )


# --- the patch window and the database's maintenance window (sun:07:00-sun:08:00 UTC) --


@pytest.mark.parametrize(
    ("schedule", "extra"),
    [
        ("cron(0 5 ? * SUN *)", ""),  # 05:00-08:00: meets 07:00
        ("cron(30 7 ? * SUN *)", ""),  # opens inside it
        ("cron(0 6 ? * MON-SUN *)", ""),  # a range that wraps to Sunday
        ("cron(0 6 ? * * *)", ""),  # every day
        ("cron(0 8 ? * SUN *)", "  schedule_timezone: Europe/Berlin\n"),  # 07:00 UTC in winter
    ],
)
def test_a_patch_window_over_the_database_window_is_located(example_text, schedule, extra):
    bad = edit(example_text, SCHEDULE, f"schedule: {schedule}")
    if extra:
        bad = edit(bad, "  # schedule_timezone: Europe/Berlin    # IANA name\n", extra)
    assert_problem(
        only_problem(bad),
        bad,
        schedule,
        "patching.schedule",
        "the patch window (",
        exact=False,
    )
    assert "overlaps the database's maintenance window (sun:07:00-sun:08:00 UTC)" in only_problem(
        bad
    )


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(0 3 ? * SUN *)",  # the default: 03:00-06:00
        "cron(0 8 ? * SUN *)",  # opens as the database window closes
        "cron(0 4 ? * MON-SAT *)",  # never on Sunday
        "rate(7 days)",  # no fixed week: not judged here
    ],
)
def test_a_patch_window_clear_of_the_database_window_is_accepted(example_text, schedule):
    assert (
        validate(edit(example_text, SCHEDULE, f"schedule: {schedule}")).patching.schedule
        == schedule
    )
