"""`compiler.spec.validate_spec`: pydantic errors turned into located problems, unknown
keys with suggestions, every problem reported at once, and the example spec's values."""

from __future__ import annotations

import pytest

from compiler.errors import SpecError
from compiler.spec import InfraSpec
from compiler.spec.compute import DEFAULT_IMAGE_PARAMETER, ComputeSpec
from compiler.spec.regions import RegionSpec
from compiler.spec.storage import BucketSpec
from tests.spec.helpers import (
    FILE,
    assert_problem,
    edit,
    only_problem,
    problems,
    set_value,
    validate,
    where,
)


def test_example_spec_validates_with_its_values(example_text):
    spec = validate(example_text)
    assert (spec.project, spec.environment) == ("storefront", "production")
    assert spec.tags == {"Team": "platform", "CostCenter": "cc-1042"}
    assert [(r.name, r.cidr) for r in spec.regions] == [
        ("us-east-1", "10.10.0.0/16"),
        ("us-west-2", "10.20.0.0/16"),
    ]
    assert spec.primary_region == "us-east-1"
    network = spec.network
    assert (network.availability_zones, network.nat_gateways) == (3, "per_az")
    assert network.flow_logs_retention_days == 365
    compute = spec.compute
    assert compute.instance_type == "t3.small"
    assert (compute.min_size, compute.desired_capacity, compute.max_size) == (2, 2, 10)
    assert compute.image_parameter == DEFAULT_IMAGE_PARAMETER
    assert (compute.cpu_target_percent, compute.app_port) == (60, 80)
    assert compute.root_volume_gb == 20  # not written: the default
    assert compute.ssh_cidrs == ["10.255.0.0/24"]
    balancer = spec.load_balancer
    assert balancer.health_check_path == "/health"
    assert balancer.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert {region: arn.split(":")[3] for region, arn in balancer.certificate_arns.items()} == {
        "us-east-1": "us-east-1",
        "us-west-2": "us-west-2",
    }
    database = spec.database
    assert database.engine_version == "17.5"
    assert database.instance_class == "db.t3.medium"
    assert (database.allocated_storage_gb, database.max_allocated_storage_gb) == (50, 200)
    assert database.multi_az is True
    assert database.backup_retention_days == 7
    assert (database.database_name, database.master_username) == ("app", "dbadmin")
    assert [(b.name, b.noncurrent_version_expiry_days) for b in spec.storage.buckets] == [
        ("assets", 90)
    ]


def test_a_spec_is_immutable(example_text):
    spec = validate(example_text)
    with pytest.raises(ValueError):
        spec.compute.min_size = 5  # type: ignore[misc]


# -- unknown keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "path", "suggestion"),
    [
        ("  min_size: 2", "  min_sizes: 2", "compute.min_sizes", "min_size"),
        ("  nat_gateways: per_az", "  nat_gateway: per_az", "network.nat_gateway", "nat_gateways"),
        ("environment: production", "enviroment: production", "enviroment", "environment"),
        ("    cidr: 10.20.0.0/16", "    cdir: 10.20.0.0/16", "regions[1].cdir", "cidr"),
        (
            "      noncurrent_version_expiry_days: 90",
            "      noncurrent_version_expiry: 90",
            "storage.buckets[0].noncurrent_version_expiry",
            "noncurrent_version_expiry_days",
        ),
    ],
)
def test_misspelt_key_suggests_the_closest_known_key(example_text, old, new, path, suggestion):
    bad = edit(example_text, old, new)
    key = new.strip().split(":")[0]
    found = problems(bad)
    # a misspelt required key is also missing; the unknown key comes with its suggestion
    unknown = [problem for problem in found if "unknown key" in problem]
    assert len(unknown) == 1, found
    assert_problem(unknown[0], bad, key, path, f"unknown key '{key}'; did you mean '{suggestion}'?")


def test_misspelt_required_key_is_also_reported_missing(example_text):
    bad = edit(example_text, "    cidr: 10.20.0.0/16", "    cdir: 10.20.0.0/16")
    missing, unknown = problems(bad)
    assert_problem(missing, bad, "name: us-west-2", "regions[1]", "missing required key 'cidr'")
    assert_problem(unknown, bad, "cdir", "regions[1].cdir", "unknown key 'cdir'", exact=False)


@pytest.mark.parametrize(
    ("after_line", "indent", "model", "path"),
    [
        ("compute:\n", "  ", ComputeSpec, "compute.zzzqqq"),
        ("  - name: us-west-2\n", "    ", RegionSpec, "regions[1].zzzqqq"),
        ("    - name: assets\n", "      ", BucketSpec, "storage.buckets[0].zzzqqq"),
        ("project: storefront", "", InfraSpec, "zzzqqq"),
    ],
)
def test_unknown_key_with_nothing_close_lists_the_known_keys(
    example_text, after_line, indent, model, path
):
    line = example_text[example_text.index(after_line) :].split("\n", 1)[0] + "\n"
    bad = edit(example_text, line, f"{line}{indent}zzzqqq: 1\n")
    known = ", ".join(sorted(model.model_fields))
    assert_problem(
        only_problem(bad), bad, "zzzqqq", path, f"unknown key 'zzzqqq'; known keys: {known}"
    )


def test_section_written_as_a_scalar_lists_its_keys(example_text):
    bad = edit(example_text, "compute:\n", "compute: t3.small\nold_compute:\n")
    wrong_type, unknown = problems(bad)
    known = ", ".join(sorted(ComputeSpec.model_fields))
    assert_problem(
        wrong_type,
        bad,
        "t3.small",
        "compute",
        f"expected a mapping with the keys {known} (got 't3.small')",
    )
    assert_problem(
        unknown, bad, "old_compute", "old_compute", "unknown key 'old_compute'", exact=False
    )


# -- every problem at once -----------------------------------------------------------


def test_independent_mistakes_are_all_reported_sorted_by_line(example_text):
    # made bottom-up so the report's order cannot come from the order of the edits
    bad = set_value(example_text, "backup_retention_days", "99")
    bad = edit(bad, "min_size: 2", "min_size: two")
    bad = edit(bad, "project: storefront", "project: Storefront")
    with pytest.raises(SpecError) as raised:
        validate(bad)
    found = [str(problem) for problem in raised.value.problems]
    assert len(found) == 3
    assert_problem(found[0], bad, "Storefront", "project", "(got 'Storefront')", exact=False)
    assert_problem(
        found[1], bad, "two", "compute.min_size", "(got 'two')", exact=False, after="min_size: "
    )
    assert_problem(
        found[2],
        bad,
        "99",
        "database.backup_retention_days",
        "Input should be less than or equal to 35 (got 99)",
    )
    lines = [problem.line for problem in raised.value.problems]
    assert lines == sorted(lines) and len(set(lines)) == 3
    # the exception's text is what the CLI prints: one problem per line
    assert str(raised.value) == "\n".join(found)


def test_problems_in_one_line_are_ordered_by_column(example_text):
    bad = edit(example_text, "[10.255.0.0/24]", "[0.0.0.0/0, 10.1.0.1/16]")
    first, second = problems(bad)
    assert first.startswith(f"{FILE}:{':'.join(map(str, where(bad, '0.0.0.0/0')))}:")
    assert second.startswith(f"{FILE}:{':'.join(map(str, where(bad, '10.1.0.1/16')))}:")
