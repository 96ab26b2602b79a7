"""`regions[]`: AWS region names and the size and shape of each VPC CIDR."""

from __future__ import annotations

import pytest

from compiler.spec.regions import AWS_REGION_AZ_COUNTS, LARGEST_VPC_PREFIX
from tests.spec.helpers import assert_problem, edit, only_problem, validate

SECOND_REGION = "name: us-west-2"
SECOND_CIDR = "cidr: 10.20.0.0/16"


def with_second_cidr(example_text: str, cidr: str) -> str:
    return edit(example_text, SECOND_CIDR, f"cidr: {cidr}")


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("us-wset-2", "us-west-2"), ("us-west2", "us-west-2"), ("eu-centrl-1", "eu-central-1")],
)
def test_misspelt_region_is_refused_with_the_closest_region(example_text, name, suggestion):
    bad = edit(example_text, SECOND_REGION, f"name: {name}")
    assert_problem(
        only_problem(bad),
        bad,
        name,
        "regions[1].name",
        f"'{name}' is not an AWS region; did you mean '{suggestion}'?",
    )


def test_region_far_from_any_aws_region_has_no_suggestion(example_text):
    bad = edit(example_text, SECOND_REGION, "name: mars-1")
    assert_problem(
        only_problem(bad), bad, "mars-1", "regions[1].name", "'mars-1' is not an AWS region"
    )


def test_every_listed_region_offers_at_least_two_azs():
    # the network needs two AZs at least; a table entry below that would be a typo
    assert all(count >= 2 for count in AWS_REGION_AZ_COUNTS.values())
    assert AWS_REGION_AZ_COUNTS["us-west-1"] == 2


@pytest.mark.parametrize(
    "cidr", ["10.20.0.0/16", "10.20.0.0/20", f"10.20.0.0/{LARGEST_VPC_PREFIX}"]
)
def test_vpc_cidrs_from_16_to_22_are_accepted(example_text, cidr):
    assert LARGEST_VPC_PREFIX == 22
    assert validate(with_second_cidr(example_text, cidr)).regions[1].cidr == cidr


def test_cidr_too_small_for_the_subnets(example_text):
    bad = with_second_cidr(example_text, "10.20.0.0/23")
    assert_problem(
        only_problem(bad),
        bad,
        "10.20.0.0/23",
        "regions[1].cidr",
        "10.20.0.0/23 is too small for the subnets: each tier's subnets would be /28, and "
        "load balancer subnets need /27 or larger; use /22 or larger",
    )


def test_cidr_larger_than_16(example_text):
    bad = with_second_cidr(example_text, "10.20.0.0/15")
    assert_problem(
        only_problem(bad),
        bad,
        "10.20.0.0/15",
        "regions[1].cidr",
        "a VPC CIDR can be at most /16 (AWS limit); 10.20.0.0/15 is larger",
    )


def test_cidr_with_host_bits_set_suggests_the_network(example_text):
    bad = with_second_cidr(example_text, "10.20.0.1/16")
    assert_problem(
        only_problem(bad),
        bad,
        "10.20.0.1/16",
        "regions[1].cidr",
        "'10.20.0.1/16' has host bits set; did you mean 10.20.0.0/16?",
    )


def test_cidr_without_prefix_length_is_not_called_host_bits(example_text):
    bad = with_second_cidr(example_text, "10.20.0.0")
    assert_problem(
        only_problem(bad),
        bad,
        "10.20.0.0\n",
        "regions[1].cidr",
        "'10.20.0.0' has no prefix length; write a CIDR block like 10.0.0.0/16 "
        "(or 10.20.0.0/32 for this one address)",
    )


@pytest.mark.parametrize("cidr", ["10.20.0/16", "10.300.0.0/16", "ten/16", "010.20.0.0/16"])
def test_text_that_is_not_a_cidr(example_text, cidr):
    bad = with_second_cidr(example_text, cidr)
    assert_problem(
        only_problem(bad),
        bad,
        cidr,
        "regions[1].cidr",
        f"'{cidr}' is not a CIDR block like 10.0.0.0/16",
    )


def test_ipv6_vpc_cidr_is_refused(example_text):
    bad = with_second_cidr(example_text, "'2001:db8::/56'")
    assert_problem(
        only_problem(bad),
        bad,
        "'2001:db8::/56'",
        "regions[1].cidr",
        "'2001:db8::/56' is IPv6; only IPv4 CIDR blocks are supported here",
    )


def test_region_without_name_or_cidr(example_text):
    bad = edit(
        example_text, "  - name: us-west-2\n    cidr: 10.20.0.0/16\n", "  - name: us-west-2\n"
    )
    assert_problem(
        only_problem(bad), bad, "name: us-west-2", "regions[1]", "missing required key 'cidr'"
    )


@pytest.mark.parametrize(
    ("cidr", "refused", "what"),
    [
        ("0.0.0.0/16", "0.0.0.0/8", "'this network' addresses"),
        ("127.0.0.0/16", "127.0.0.0/8", "loopback addresses"),
        ("169.254.0.0/16", "169.254.0.0/16", "link-local addresses"),
        ("224.1.0.0/16", "224.0.0.0/4", "multicast addresses"),
        ("240.0.0.0/16", "240.0.0.0/4", "addresses reserved by IANA for future use"),
    ],
)
def test_vpc_cidr_in_a_range_no_host_can_use(example_text, cidr, refused, what):
    bad = with_second_cidr(example_text, cidr)
    assert_problem(
        only_problem(bad),
        bad,
        cidr,
        "regions[1].cidr",
        f"{cidr} overlaps {refused}, {what}",
        exact=False,
    )


@pytest.mark.parametrize(
    "cidr", ["192.168.0.0/16", "172.16.0.0/16", "100.64.0.0/16", "11.0.0.0/16"]
)
def test_vpc_cidr_outside_the_refused_ranges_is_accepted(example_text, cidr):
    assert validate(with_second_cidr(example_text, cidr)).regions[1].cidr == cidr
