"""`compute`: instance counts in order, SSH sources, and value types."""

from __future__ import annotations

import pytest

from tests.spec.helpers import assert_problem, edit, only_problem, problems, validate

SIZES = "  min_size: 2\n  max_size: 10\n  desired_capacity: 2\n"


def with_sizes(example_text: str, minimum: int, maximum: int, desired: int) -> str:
    return edit(
        example_text,
        SIZES,
        f"  min_size: {minimum}\n  max_size: {maximum}\n  desired_capacity: {desired}\n",
    )


@pytest.mark.parametrize(
    ("minimum", "maximum", "desired"),
    [
        (3, 10, 2),  # min > desired
        (2, 10, 11),  # desired > max
        (12, 10, 11),  # min > max, desired between them
        (12, 10, 2),  # min > max and min > desired
        (5, 4, 3),  # everything reversed
    ],
)
def test_sizes_out_of_order(example_text, minimum, maximum, desired):
    bad = with_sizes(example_text, minimum, maximum, desired)
    # reported at a size that must change: desired_capacity, written in every case here
    assert_problem(
        only_problem(bad),
        bad,
        str(desired),
        "compute.desired_capacity",
        "sizes must satisfy min_size <= desired_capacity <= max_size; "
        f"got {minimum} <= {desired} <= {maximum}",
        after="desired_capacity:",
    )


@pytest.mark.parametrize(("minimum", "maximum", "desired"), [(1, 1, 1), (1, 100, 100), (3, 5, 4)])
def test_sizes_in_order(example_text, minimum, maximum, desired):
    compute = validate(with_sizes(example_text, minimum, maximum, desired)).compute
    assert (compute.min_size, compute.desired_capacity, compute.max_size) == (
        minimum,
        desired,
        maximum,
    )


def test_size_out_of_range_is_reported_by_itself(example_text):
    bad = with_sizes(example_text, 0, 10, 2)
    assert_problem(
        only_problem(bad),
        bad,
        "0",
        "compute.min_size",
        "Input should be greater than or equal to 1 (got 0)",
        after="min_size: ",
    )


def test_word_for_an_integer_quotes_the_input(example_text):
    bad = edit(example_text, "min_size: 2", "min_size: two")
    assert_problem(
        only_problem(bad),
        bad,
        "two",
        "compute.min_size",
        "Input should be a valid integer, unable to parse string as an integer (got 'two')",
        after="min_size: ",
    )


def test_fraction_for_an_integer(example_text):
    bad = edit(example_text, "app_port: 80", "app_port: 80.5")
    assert_problem(only_problem(bad), bad, "80.5", "compute.app_port", "(got 80.5)", exact=False)


@pytest.mark.parametrize(
    ("written", "needle", "index"),
    [
        ("[0.0.0.0/0]", "0.0.0.0/0", 0),
        ("['0.0.0.0/0']", "'0.0.0.0/0'", 0),
        ("[10.255.0.0/24, 0.0.0.0/0]", "0.0.0.0/0", 1),
    ],
)
def test_ssh_from_anywhere_is_refused(example_text, written, needle, index):
    bad = edit(example_text, "ssh_cidrs: [10.255.0.0/24]", f"ssh_cidrs: {written}")
    assert_problem(
        only_problem(bad),
        bad,
        needle,
        f"compute.ssh_cidrs[{index}]",
        "SSH from 0.0.0.0/0 would open port 22 to the whole internet; list your management "
        "network instead (for example 10.255.0.0/24)",
    )


@pytest.mark.parametrize("cidr", ["::/0", "2001:db8::/32"])
def test_ipv6_ssh_source_is_refused_as_ipv6(example_text, cidr):
    # `::/0` must be quoted in a flow list; in a block list it may stay plain
    for written, needle in ((f"['{cidr}']", f"'{cidr}'"), (f"\n    - {cidr}", cidr)):
        bad = edit(example_text, "ssh_cidrs: [10.255.0.0/24]", f"ssh_cidrs: {written}")
        assert_problem(
            only_problem(bad),
            bad,
            needle,
            "compute.ssh_cidrs[0]",
            f"'{cidr}' is IPv6; only IPv4 CIDR blocks are supported here",
            after="ssh_cidrs:",
        )


def test_plain_ipv6_in_a_flow_list_is_a_yaml_error_at_the_colon(example_text):
    # YAML does not let a plain scalar start with ':' inside [...]; PyYAML says so
    bad = edit(example_text, "ssh_cidrs: [10.255.0.0/24]", "ssh_cidrs: [::/0]")
    assert_problem(only_problem(bad), bad, "::/0", "(document)", "invalid YAML:", exact=False)


def test_ssh_source_with_host_bits(example_text):
    bad = edit(example_text, "ssh_cidrs: [10.255.0.0/24]", "ssh_cidrs: [10.255.0.1/24]")
    assert_problem(
        only_problem(bad),
        bad,
        "10.255.0.1/24",
        "compute.ssh_cidrs[0]",
        "'10.255.0.1/24' has host bits set; did you mean 10.255.0.0/24?",
    )


def test_single_host_ssh_source(example_text):
    spec = validate(edit(example_text, "[10.255.0.0/24]", "[10.255.0.7/32]"))
    assert spec.compute.ssh_cidrs == ["10.255.0.7/32"]


def test_no_ssh_by_default(example_text):
    spec = validate(edit(example_text, "  ssh_cidrs: [10.255.0.0/24]", "  # no SSH"))
    assert spec.compute.ssh_cidrs == []


def test_every_bad_ssh_source_is_reported(example_text):
    bad = edit(example_text, "[10.255.0.0/24]", "[0.0.0.0/0, 10.1.0.1/16, '::/0']")
    found = problems(bad)
    assert [problem.split(": ")[1] for problem in found] == [
        "compute.ssh_cidrs[0]",
        "compute.ssh_cidrs[1]",
        "compute.ssh_cidrs[2]",
    ]


def test_instance_type_pattern(example_text):
    bad = edit(example_text, "instance_type: t3.small", "instance_type: T3 Small")
    assert_problem(
        only_problem(bad),
        bad,
        "T3 Small",
        "compute.instance_type",
        "use an EC2 instance type like t3.small (got 'T3 Small')",
    )


def test_image_parameter_must_be_a_path(example_text):
    bad = edit(example_text, "image_parameter: /aws", "image_parameter: aws")
    assert_problem(
        only_problem(bad),
        bad,
        "aws/service",
        "compute.image_parameter",
        "use an SSM parameter path starting with '/'",
        exact=False,
    )


def test_cpu_target_bounds(example_text):
    bad = edit(example_text, "cpu_target_percent: 60", "cpu_target_percent: 95")
    assert_problem(
        only_problem(bad),
        bad,
        "95",
        "compute.cpu_target_percent",
        "Input should be less than or equal to 90 (got 95)",
    )
