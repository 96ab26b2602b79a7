"""`stackset`: the permission model, its targets, and the operation preferences, each
refused where CloudFormation would refuse it, at the key to change."""

from __future__ import annotations

from tests.spec.helpers import assert_problem, edit, only_problem, problems, validate

SERVICE_MANAGED = """
stackset:
  permission_model: service_managed
  organizational_unit_ids: [ou-ab12-cd34ef56]
"""
# What a service-managed spec drops from the example: values that name one account's
# resources, which every member account would be handed.
ACCOUNT_BOUND = (
    (
        "  certificate_arns:              # ACM, per region; a region left out gets a new "
        "certificate for record_name\n"
        "    us-east-1: arn:aws:acm:us-east-1:123456789012:certificate/"
        "0a1b2c3d-1111-4e5f-8a9b-000000000001\n"
        "    us-west-2: arn:aws:acm:us-west-2:123456789012:certificate/"
        "0a1b2c3d-2222-4e5f-8a9b-000000000002\n"
    ),
)


def member_ready(text: str) -> str:
    """The example made fit for member accounts: no certificate ARNs (its read replicas
    stay: their secret is found by name in every account)."""
    return edit(text, ACCOUNT_BOUND[0], "")


def without_replicas(text: str) -> str:
    return edit(
        text, "  backup_retention_days: 7 ", "  replicas: false\n  backup_retention_days: 7 "
    )


def with_stackset(text: str, section: str) -> str:
    return text + section


def test_default_is_self_managed_one_account_at_a_time_in_region_order(example_text):
    spec = validate(example_text)
    assert spec.stackset.permission_model == "self_managed"
    preferences = spec.stackset.operation_preferences
    assert preferences.region_concurrency == "SEQUENTIAL"
    assert preferences.max_concurrent == ("MaxConcurrentCount", 1)
    assert preferences.failure_tolerance == ("FailureToleranceCount", 0)


def test_service_managed_spec_validates_with_auto_deployment_on_by_default(example_text):
    spec = validate(with_stackset(member_ready(example_text), SERVICE_MANAGED))
    assert spec.stackset.service_managed
    assert spec.stackset.organizational_unit_ids == ["ou-ab12-cd34ef56"]
    assert spec.stackset.effective_auto_deployment.enabled is True
    assert spec.stackset.effective_auto_deployment.retain_stacks_on_account_removal is False


def test_root_id_is_a_target(example_text):
    text = with_stackset(
        member_ready(example_text), SERVICE_MANAGED.replace("ou-ab12-cd34ef56", "r-ab12")
    )
    assert validate(text).stackset.organizational_unit_ids == ["r-ab12"]


def test_malformed_ou_id_is_located(example_text):
    text = with_stackset(
        member_ready(example_text), SERVICE_MANAGED.replace("ou-ab12-cd34ef56", "ou-AB12-x")
    )
    assert_problem(
        only_problem(text),
        text,
        "ou-AB12-x",
        "stackset.organizational_unit_ids[0]",
        "use an organizational unit ID like ou-ab12-cd34ef56",
        exact=False,
    )


def test_service_managed_without_targets_is_refused(example_text):
    text = with_stackset(
        member_ready(example_text), "\nstackset:\n  permission_model: service_managed\n"
    )
    # The key is not written: the problem is at the `stackset` key, not at its first entry.
    assert_problem(
        only_problem(text),
        text,
        "stackset:",
        "stackset.organizational_unit_ids",
        "service_managed needs the organizational units",
        exact=False,
        after=member_ready(example_text),
    )


def test_self_managed_refuses_organization_settings(example_text):
    text = with_stackset(
        example_text,
        (
            "\nstackset:\n  organizational_unit_ids: [ou-ab12-cd34ef56]\n"
            "  auto_deployment: {enabled: true}\n  call_as: DELEGATED_ADMIN\n"
        ),
    )
    found = problems(text)
    assert len(found) == 3, found
    for needle, path in (
        ("[ou-ab12", "stackset.organizational_unit_ids"),
        ("{enabled", "stackset.auto_deployment"),
        ("DELEGATED_ADMIN", "stackset.call_as"),
    ):
        matching = [p for p in found if f": {path}: " in p]
        assert matching, (path, found)
        assert_problem(
            matching[0], text, needle, path, "service-managed StackSets only", exact=False
        )


def test_delegated_admin_allowed_when_service_managed(example_text):
    text = with_stackset(
        member_ready(example_text), SERVICE_MANAGED + "  call_as: DELEGATED_ADMIN\n"
    )
    assert validate(text).stackset.call_as == "DELEGATED_ADMIN"


def test_automatic_deployment_off_is_refused_at_its_key(example_text):
    text = with_stackset(
        member_ready(example_text),
        SERVICE_MANAGED
        + ("  auto_deployment:\n    enabled: false\n    retain_stacks_on_account_removal: false\n"),
    )
    assert_problem(
        only_problem(text),
        text,
        "false",
        "stackset.auto_deployment.enabled",
        "automatic deployment off is not supported",
        exact=False,
        after="enabled",
    )


def test_count_and_percentage_are_exclusive(example_text):
    text = with_stackset(
        example_text,
        (
            "\nstackset:\n  operation_preferences:\n    max_concurrent_count: 1\n"
            "    max_concurrent_percentage: 50\n    failure_tolerance_count: 0\n"
            "    failure_tolerance_percentage: 10\n"
        ),
    )
    found = problems(text)
    assert len(found) == 2, found
    assert_problem(
        found[0],
        text,
        "50",
        "stackset.operation_preferences.max_concurrent_percentage",
        "not both",
        exact=False,
        after="max_concurrent_percentage",
    )
    assert_problem(
        found[1],
        text,
        "10",
        "stackset.operation_preferences.failure_tolerance_percentage",
        "not both",
        exact=False,
        after="failure_tolerance_percentage",
    )


def test_percentages_and_counts_keep_cloudformation_ranges(example_text):
    text = with_stackset(
        example_text,
        (
            "\nstackset:\n  operation_preferences:\n    max_concurrent_percentage: 0\n"
            "    failure_tolerance_percentage: 101\n"
        ),
    )
    found = problems(text)
    assert any(
        "max_concurrent_percentage: Input should be greater than or equal to 1" in p for p in found
    ), found
    assert any(
        "failure_tolerance_percentage: Input should be less than or equal to 100" in p
        for p in found
    ), found


def test_strict_tolerance_caps_concurrency(example_text):
    text = with_stackset(
        example_text,
        (
            "\nstackset:\n  operation_preferences:\n    max_concurrent_count: 5\n"
            "    failure_tolerance_count: 1\n"
        ),
    )
    problem = only_problem(text)
    assert "at most failure tolerance + 1 = 2 accounts" in problem
    soft = text + "    concurrency_mode: SOFT_FAILURE_TOLERANCE\n"
    assert validate(soft).stackset.operation_preferences.max_concurrent == ("MaxConcurrentCount", 5)


def test_region_order_puts_the_writer_first(example_text):
    text = with_stackset(
        example_text,
        ("\nstackset:\n  operation_preferences:\n    region_order: [us-west-2, us-east-1]\n"),
    )
    assert_problem(
        only_problem(text),
        text,
        "us-west-2, us-east-1]",
        "stackset.operation_preferences.region_order[0]",
        "starts with us-west-2; the writer region us-east-1",
        exact=False,
    )


def test_region_order_lists_each_spec_region(example_text):
    text = with_stackset(
        example_text,
        ("\nstackset:\n  operation_preferences:\n    region_order: [us-east-1, eu-west-1]\n"),
    )
    assert "eu-west-1 is not one of the spec's regions" in only_problem(text)
    text = with_stackset(
        example_text, ("\nstackset:\n  operation_preferences:\n    region_order: [us-east-1]\n")
    )
    assert "leaves out us-west-2" in only_problem(text)


def test_service_managed_refuses_values_bound_to_one_account(example_text):
    text = with_stackset(example_text, SERVICE_MANAGED)
    assert_problem(
        only_problem(text),
        text,
        "us-east-1: arn:aws:acm",
        "load_balancer.certificate_arns",
        "an ACM certificate belongs to one account",
        exact=False,
    )


def test_service_managed_keeps_read_replicas(example_text):
    spec = validate(with_stackset(member_ready(example_text), SERVICE_MANAGED))
    assert spec.database.replicas is True
    assert len(spec.regions) == 2


def test_replicas_need_one_region_after_another(example_text):
    parallel = SERVICE_MANAGED + "  operation_preferences:\n    region_concurrency: PARALLEL\n"
    text = with_stackset(member_ready(example_text), parallel)
    # replicas is not written in the example: the finding points at the key that was
    assert_problem(
        only_problem(text),
        text,
        "PARALLEL",
        "stackset.operation_preferences.region_concurrency",
        "PARALLEL deploys every region at once, but the read replicas of us-west-2 need the "
        "writer database of us-east-1 to exist first; use SEQUENTIAL",
        exact=False,
    )
    # Without replicas, or self-managed (the writer region's instance is created alone
    # first), regions may go at once.
    assert validate(with_stackset(without_replicas(member_ready(example_text)), parallel))
    self_managed = "\nstackset:\n  operation_preferences:\n    region_concurrency: PARALLEL\n"
    assert validate(with_stackset(example_text, self_managed))


def test_service_managed_refuses_a_promoted_writer(example_text):
    promoted = edit(
        member_ready(example_text),
        "  backup_retention_days: 7 ",
        "  promoted:\n    identifier: shop-db-1\n    source_region: us-west-2\n"
        "  backup_retention_days: 7 ",
    )
    text = with_stackset(promoted, SERVICE_MANAGED)
    assert_problem(
        only_problem(text),
        text,
        "identifier: shop-db-1",
        "database.promoted",
        "each account's promoted replica has its own",
        exact=False,
    )
