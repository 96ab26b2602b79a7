"""`regions[]`: AWS region names and the size and shape of each VPC CIDR; what differs
between regions (AZ count, ALB access-log delivery), from cfn-lint's region data."""

from __future__ import annotations

import importlib.util
import re

import pytest

from compiler.spec import regions
from compiler.spec.regions import (
    ALB_LOG_DELIVERY_SERVICE,
    LARGEST_VPC_PREFIX,
    alb_log_delivery,
    az_count,
    commercial_regions,
    is_commercial_region,
)
from tests.spec.helpers import assert_problem, edit, only_problem, validate

# Opened since August 2022; refused as "not an AWS region" before this table came from
# cfn-lint (ca-west-1 and mx-central-1 are also in the issue that asked for them).
NEWER_REGIONS = [
    "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-west-1",
    "eu-central-2", "eu-south-2", "il-central-1", "me-central-1", "mx-central-1",
]  # fmt: skip

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
    assert all(az_count(name) >= 2 for name in commercial_regions())
    assert az_count("us-west-1") == 2
    assert az_count("us-east-1") == 6


def test_azs_kept_for_older_accounts_are_not_counted():
    # cfn-lint names four AZs in each; an account is offered three
    assert az_count("ap-northeast-1") == 3
    assert az_count("ca-central-1") == 3


def test_region_data_read_from_source_is_what_cfn_lint_holds():
    from cfnlint.helpers import AVAILABILITY_ZONES

    assert regions._cfn_lint_availability_zones() == AVAILABILITY_ZONES


def test_commercial_regions_are_the_aws_partition_of_botocore():
    """botocore (installed for development with awscli and moto) keeps the partitions'
    region lists: every commercial region cfn-lint knows is one, and the name pattern
    used to pick them is botocore's own."""
    if importlib.util.find_spec("botocore") is None:
        pytest.skip("botocore is not installed")
    import botocore.loaders

    endpoints = botocore.loaders.Loader().load_data("endpoints")
    partitions = {p["partition"]: p for p in endpoints["partitions"]}
    assert partitions["aws"]["regionRegex"] == regions._COMMERCIAL_REGION_NAME.pattern
    botocore_regions = set(partitions["aws"]["regions"])
    cfn_lint_regions = set(regions._cfn_lint_availability_zones())
    assert set(commercial_regions()) == botocore_regions & cfn_lint_regions
    other_partitions = {
        r for p in partitions.values() if p["partition"] != "aws" for r in p["regions"]
    }
    assert not set(commercial_regions()) & other_partitions


@pytest.mark.parametrize("name", NEWER_REGIONS)
def test_regions_opened_since_august_2022_are_accepted(example_text, name):
    spec = validate(
        edit(example_text, SECOND_REGION, f"name: {name}").replace(
            "    us-west-2: arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-2222-4e5f-8a9b-000000000002\n",
            "",
        )
    )
    assert spec.regions[1].name == name
    assert is_commercial_region(name)


@pytest.mark.parametrize("name", ["us-gov-west-1", "cn-north-1", "us-iso-east-1", "eusc-de-east-1"])
def test_regions_of_other_partitions_are_refused_as_such(example_text, name):
    bad = edit(example_text, SECOND_REGION, f"name: {name}")
    problem = only_problem(bad)
    assert "regions[1].name" in problem
    assert f"'{name}' is outside the commercial AWS partition" in problem


def test_older_regions_deliver_alb_logs_as_their_elb_account():
    # ELB user guide, "Enable access logs for your Application Load Balancer"
    assert alb_log_delivery("us-east-1") == ("account", "127311923021")
    assert alb_log_delivery("eu-west-1") == ("account", "156460612806")
    accounts = [alb_log_delivery(name).principal for name in commercial_regions()
                if alb_log_delivery(name).kind == "account"]  # fmt: skip
    assert len(accounts) == 21
    assert all(re.fullmatch(r"\d{12}", account) for account in accounts)
    assert len(set(accounts)) == len(accounts), "each region has an ELB account of its own"


@pytest.mark.parametrize("name", [*NEWER_REGIONS, "ap-southeast-3"])
def test_newer_regions_deliver_alb_logs_as_the_service_principal(name):
    # Jakarta (December 2021) is not in the ELB account list either
    assert alb_log_delivery(name) == ("service", ALB_LOG_DELIVERY_SERVICE)


def test_elb_account_table_names_only_commercial_regions():
    # a misspelt key would leave its region on the service principal without a word
    assert set(regions._ELB_LOG_ACCOUNTS) <= set(commercial_regions())


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


# --- global_region ---------------------------------------------------------------------

WEST_FIRST = (
    "regions:\n  - name: us-west-2\n    cidr: 10.20.0.0/16\n"
    "  - name: us-east-1\n    cidr: 10.10.0.0/16\n"
)


def with_regions(example_text: str, regions_yaml: str, global_region: str | None = None) -> str:
    """The example with its `regions:` block replaced (and `global_region` set if given)."""
    start = example_text.index("\nregions:") + 1
    end = example_text.index("\n\n", start) + 1
    extra = f"global_region: {global_region}\n" if global_region else ""
    return example_text[:start] + extra + regions_yaml + example_text[end:]


def test_the_global_stack_stays_in_us_east_1_whatever_the_order(example_text):
    """A failover puts another region first: the global stack (hosted zone) must not move."""
    assert validate(example_text).global_stack_region == "us-east-1"
    reordered = validate(with_regions(example_text, WEST_FIRST))
    assert reordered.primary_region == "us-west-2"
    assert reordered.global_stack_region == "us-east-1"


def test_without_us_east_1_the_global_stack_defaults_to_the_first_region():
    from tests.builders.example import make_spec

    eu = {"name": "eu-west-1", "cidr": "10.30.0.0/16"}
    west = {"name": "us-west-2", "cidr": "10.20.0.0/16"}
    no_certificates = {"certificate_arns": {}}
    spec = make_spec(regions=[eu, west], load_balancer=no_certificates)
    assert spec.global_stack_region == "eu-west-1"
    pinned = make_spec(regions=[west, eu], global_region="eu-west-1", load_balancer=no_certificates)
    assert pinned.global_stack_region == "eu-west-1"


def test_global_region_outside_the_spec_regions_is_refused_at_it(example_text):
    bad = with_regions(example_text, WEST_FIRST, global_region="eu-west-1")
    assert_problem(
        only_problem(bad),
        bad,
        "eu-west-1",
        "global_region",
        "'eu-west-1' is not one of the spec's regions (us-west-2, us-east-1); the global "
        "stack and the StackSet are deployed in one of them",
    )
