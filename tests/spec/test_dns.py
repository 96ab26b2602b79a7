"""`dns`: the zone and the record in it, routing that fits the number of regions, and
what a missing or malformed piece of zone information reads like."""

from __future__ import annotations

from tests.spec.helpers import (
    assert_problem,
    edit,
    only_problem,
    set_value,
    validate,
    without_line,
    without_section,
)

SECOND_REGION = "  - name: us-west-2\n    cidr: 10.20.0.0/16\n"
THIRD_REGION = "  - name: eu-west-1\n    cidr: 10.30.0.0/16\n"


def with_third_region(text: str) -> str:
    return edit(text, SECOND_REGION, SECOND_REGION + THIRD_REGION)


# -- routing -------------------------------------------------------------------------


def test_example_fails_over_between_its_two_regions(example_text):
    spec = validate(example_text)
    assert spec.dns.routing == "failover"
    assert len(spec.regions) == 2


def test_failover_with_three_regions_points_at_routing_and_names_latency(example_text):
    bad = with_third_region(example_text)
    assert_problem(
        only_problem(bad),
        bad,
        "failover",
        "dns.routing",
        "failover routing serves exactly two regions (a primary and a secondary), but the "
        "spec has 3; use `routing: latency` to serve all 3",
        after="routing: ",
    )


def test_default_failover_with_three_regions_points_at_the_third_region(example_text):
    bad = without_line(with_third_region(example_text), "routing")
    assert_problem(
        only_problem(bad),
        bad,
        "eu-west-1",
        "regions[2].name",
        "dns.routing defaults to failover, which serves exactly two regions, but the spec "
        "has 3; set `dns.routing: latency` to serve all 3",
    )


def test_latency_serves_three_regions(example_text):
    spec = validate(set_value(with_third_region(example_text), "routing", "latency"))
    assert spec.dns.routing == "latency"
    assert [r.name for r in spec.regions] == ["us-east-1", "us-west-2", "eu-west-1"]


def test_latency_serves_two_regions_too(example_text):
    assert validate(set_value(example_text, "routing", "latency")).dns.routing == "latency"


def test_unknown_routing_lists_the_choices(example_text):
    bad = set_value(example_text, "routing", "weighted")
    assert_problem(only_problem(bad), bad, "weighted", "dns.routing", "'failover'", exact=False)


# -- the zone and the record -----------------------------------------------------------


def test_record_outside_the_zone_points_at_the_record(example_text):
    bad = set_value(example_text, "record_name", "shop.example.org")
    assert_problem(
        only_problem(bad),
        bad,
        "shop.example.org",
        "dns.record_name",
        "record_name 'shop.example.org' is not inside zone_name 'example.com'; Route 53 can "
        "only answer for names in the zone",
    )


def test_a_name_that_only_ends_like_the_zone_is_outside_it(example_text):
    bad = set_value(example_text, "record_name", "shopexample.com")
    assert_problem(
        only_problem(bad),
        bad,
        "shopexample.com",
        "dns.record_name",
        "is not inside zone_name 'example.com'",
        exact=False,
    )


def test_the_zone_apex_is_a_valid_record(example_text):
    spec = validate(set_value(example_text, "record_name", "example.com"))
    assert spec.dns.record_name == spec.dns.zone_name == "example.com"


def test_invalid_zone_name_is_the_only_problem_reported(example_text):
    # record_name cannot be compared with a zone that failed: one problem, not two
    bad = set_value(example_text, "zone_name", "Example.com")
    assert_problem(
        only_problem(bad),
        bad,
        "Example.com",
        "dns.zone_name",
        "use a lower-case DNS name like shop.example.com, without a trailing dot "
        "(got 'Example.com')",
    )


def test_missing_dns_section(example_text):
    bad = without_section(example_text, "dns")
    assert_problem(only_problem(bad), bad, "project:", "(document)", "missing required key 'dns'")


def test_missing_zone_name(example_text):
    bad = without_line(example_text, "zone_name")
    assert_problem(only_problem(bad), bad, "record_name", "dns", "missing required key 'zone_name'")


def test_missing_record_name(example_text):
    bad = without_line(example_text, "record_name")
    assert "missing required key 'record_name'" in only_problem(bad)


def test_hosted_zone_id_is_optional_and_taken_as_given(example_text):
    assert validate(example_text).dns.hosted_zone_id is None
    given = edit(
        example_text,
        "  record_name: shop.example.com\n",
        "  hosted_zone_id: Z0123456789ABCDEFGHIJ\n  record_name: shop.example.com\n",
    )
    assert validate(given).dns.hosted_zone_id == "Z0123456789ABCDEFGHIJ"


def test_hosted_zone_id_with_the_api_prefix_is_refused(example_text):
    bad = edit(
        example_text,
        "  record_name: shop.example.com\n",
        "  hosted_zone_id: /hostedzone/Z0123456789ABCDEFGHIJ\n  record_name: shop.example.com\n",
    )
    assert_problem(
        only_problem(bad),
        bad,
        "/hostedzone/",
        "dns.hosted_zone_id",
        "use a Route 53 hosted zone ID like Z0123456789ABCDEFGHIJ",
        exact=False,
    )


def test_health_check_settings_are_bounded(example_text):
    bad = set_value(example_text, "failure_threshold", "11")
    assert_problem(
        only_problem(bad), bad, "11", "dns.failure_threshold", "10", exact=False, after="dns:"
    )
    bad = set_value(example_text, "health_check_interval_seconds", "20")
    assert_problem(
        only_problem(bad),
        bad,
        "20",
        "dns.health_check_interval_seconds",
        "Input should be 10 or 30 (got 20)",
        after="health_check_interval_seconds:",
    )
