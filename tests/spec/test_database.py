"""`database`: backup retention, storage ceiling, engine version and names."""

from __future__ import annotations

import pytest

from tests.spec.helpers import assert_problem, edit, only_problem, set_value, validate


@pytest.mark.parametrize("days", [7, 20, 35])
def test_backup_retention_within_7_to_35(example_text, days):
    spec = validate(set_value(example_text, "backup_retention_days", str(days)))
    assert spec.database.backup_retention_days == days


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (6, "Input should be greater than or equal to 7 (got 6)"),
        (0, "Input should be greater than or equal to 7 (got 0)"),
        (36, "Input should be less than or equal to 35 (got 36)"),
    ],
)
def test_backup_retention_outside_7_to_35(example_text, days, message):
    bad = set_value(example_text, "backup_retention_days", str(days))
    assert_problem(
        only_problem(bad),
        bad,
        str(days),
        "database.backup_retention_days",
        message,
        after="backup_retention_days: ",
    )


def test_storage_ceiling_below_allocated_storage(example_text):
    bad = edit(example_text, "max_allocated_storage_gb: 200", "max_allocated_storage_gb: 40")
    # reported at the key that must change: the ceiling, since it is written
    assert_problem(
        only_problem(bad),
        bad,
        "40",
        "database.max_allocated_storage_gb",
        "max_allocated_storage_gb (40) must be at least allocated_storage_gb (50)",
    )


def test_storage_ceiling_equal_to_allocated_storage(example_text):
    spec = validate(
        edit(example_text, "max_allocated_storage_gb: 200", "max_allocated_storage_gb: 50")
    )
    assert spec.database.max_allocated_storage_gb == spec.database.allocated_storage_gb == 50


def test_unquoted_engine_version_is_a_number_not_a_string(example_text):
    bad = edit(example_text, 'engine_version: "17.5"', "engine_version: 17.5")
    assert_problem(
        only_problem(bad),
        bad,
        "17.5",
        "database.engine_version",
        "Input should be a valid string (got 17.5)",
    )


def test_engine_version_older_than_13(example_text):
    bad = edit(example_text, 'engine_version: "17.5"', 'engine_version: "12.4"')
    assert_problem(
        only_problem(bad),
        bad,
        '"12.4"',
        "database.engine_version",
        "use a PostgreSQL version 13 or newer, quoted, like \"17.5\" (got '12.4')",
    )


def test_multi_az_must_be_a_boolean(example_text):
    bad = edit(example_text, "multi_az: true", "multi_az: sometimes")
    assert_problem(
        only_problem(bad),
        bad,
        "sometimes",
        "database.multi_az",
        "(got 'sometimes')",
        exact=False,
    )


def test_master_username_pattern(example_text):
    bad = edit(example_text, "  multi_az: true\n", "  multi_az: true\n  master_username: Admin\n")
    assert_problem(
        only_problem(bad),
        bad,
        "Admin",
        "database.master_username",
        "use up to 16 lower-case letters, digits and _, starting with a letter (got 'Admin')",
    )


# --- replicas and failover --------------------------------------------------------------


def test_replicas_are_on_by_default_and_can_be_turned_off(example_text):
    assert validate(example_text).database.replicas is True
    spec = validate(edit(example_text, "\ndatabase:\n", "\ndatabase:\n  replicas: false\n"))
    assert spec.database.replicas is False


@pytest.mark.parametrize("replicas", ["true", "false"])
def test_a_double_hyphen_in_the_project_is_refused(example_text, replicas):
    """It is part of every database's RDS identifier, where RDS refuses '--'."""
    bad = edit(example_text, "project: storefront", "project: store--front")
    bad = edit(bad, "\ndatabase:\n", f"\ndatabase:\n  replicas: {replicas}\n")
    assert_problem(
        only_problem(bad),
        bad,
        "store--front",
        "project",
        "'store--front' names the database identifier, where RDS refuses two hyphens in a "
        "row; use single hyphens",
    )


def test_database_logs_are_kept_a_year_unless_the_spec_says_otherwise(example_text):
    assert validate(example_text).database.log_retention_days == 365
    longer = edit(example_text, "\ndatabase:\n", "\ndatabase:\n  log_retention_days: 731\n")
    assert validate(longer).database.log_retention_days == 731
    bad = edit(example_text, "\ndatabase:\n", "\ndatabase:\n  log_retention_days: 100\n")
    assert "CloudWatch Logs cannot keep logs for 100 days" in only_problem(bad)


def test_promoted_names_the_old_writer_region_not_the_first(example_text):
    bad = edit(
        example_text,
        "\ndatabase:\n",
        "\ndatabase:\n  promoted:\n    identifier: db-1\n    source_region: us-east-1\n",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "us-east-1",
        "database.promoted.source_region",
        "us-east-1 is regions[0], the writer's own region: after a failover the promoted "
        "region goes first and this names the region it replicated",
        after="source_region: ",
    )


def test_promoted_source_region_must_be_a_region(example_text):
    bad = edit(
        example_text,
        "\ndatabase:\n",
        "\ndatabase:\n  promoted:\n    identifier: db-1\n    source_region: us-east-9\n",
    )
    assert "'us-east-9' is not a commercial AWS region" in only_problem(bad)
