"""Checks that span sections: regions against each other, AZs, certificates, buckets.

Each finding must point at the value a user has to edit, not at the document.
"""

from __future__ import annotations

import pytest

from compiler.load import load_spec_text
from compiler.spec.consistency import S3_BUCKET_NAME_MAX, SpecSections, find_inconsistencies
from compiler.spec.root import InfraSpec
from tests.builders.example import EXAMPLE_SPEC
from tests.spec.helpers import (
    add_bucket,
    assert_problem,
    edit,
    only_problem,
    problems,
    set_value,
    validate,
    without_line,
)

CONTEXT = {"spec_dir": EXAMPLE_SPEC.parent}  # where the example's task sources are
SECOND_REGION = "  - name: us-west-2\n    cidr: 10.20.0.0/16\n"
WEST_CERT = (
    "    us-west-2: arn:aws:acm:us-west-2:123456789012:certificate/"
    "0a1b2c3d-2222-4e5f-8a9b-000000000002\n"
)


def certificate_line(region: str, arn_region: str | None = None) -> str:
    arn_region = arn_region or region
    return f"    {region}: arn:aws:acm:{arn_region}:123456789012:certificate/0a1b2c3d-3333\n"


def with_regions(example_text: str, *regions: tuple[str, str]) -> str:
    """The example with its second region replaced by `regions`, each with a certificate
    (and latency routing, which, unlike failover, serves more than two regions)."""
    listed = "".join(f"  - name: {name}\n    cidr: {cidr}\n" for name, cidr in regions)
    text = set_value(edit(example_text, SECOND_REGION, listed), "routing", "latency")
    return edit(text, WEST_CERT, "".join(certificate_line(name) for name, _ in regions))


# -- regions -------------------------------------------------------------------------


def test_duplicate_region_points_at_the_second(example_text):
    bad = edit(example_text, "name: us-west-2", "name: us-east-1")
    duplicate, orphan_certificate = problems(bad)
    assert_problem(
        duplicate,
        bad,
        "us-east-1",
        "regions[1].name",
        "region 'us-east-1' is listed twice (also at regions[0])",
        after="cidr: 10.10.0.0/16",
    )
    # the certificate left for us-west-2 is reported too, and lists each region once
    assert_problem(
        orphan_certificate,
        bad,
        "arn:aws:acm:us-west-2",
        "load_balancer.certificate_arns.us-west-2",
        "'us-west-2' is not one of the spec's regions (us-east-1)",
    )


@pytest.mark.parametrize(
    "cidr",
    [
        "10.10.0.0/16",  # the same block
        "10.10.128.0/17",  # inside the first region's block
        "10.10.4.0/22",
    ],
)
def test_overlapping_region_cidrs(example_text, cidr):
    bad = edit(example_text, "cidr: 10.20.0.0/16", f"cidr: {cidr}")
    assert_problem(
        only_problem(bad),
        bad,
        cidr,
        "regions[1].cidr",
        f"{cidr} overlaps 10.10.0.0/16 of regions[0] (us-east-1); region CIDRs must be "
        "disjoint so the VPCs can be peered or reached over one network",
        after="us-west-2",
    )


def test_disjoint_neighbouring_cidrs_are_accepted(example_text):
    spec = validate(edit(example_text, "cidr: 10.20.0.0/16", "cidr: 10.11.0.0/16"))
    assert [region.cidr for region in spec.regions] == ["10.10.0.0/16", "10.11.0.0/16"]


def test_each_overlapping_pair_is_reported_at_the_later_region(example_text):
    bad = with_regions(example_text, ("us-west-2", "10.10.0.0/17"), ("eu-west-1", "10.10.128.0/17"))
    second, third = problems(bad)
    assert_problem(
        second,
        bad,
        "10.10.0.0/17",
        "regions[1].cidr",
        "10.10.0.0/17 overlaps 10.10.0.0/16 of regions[0] (us-east-1)",
        exact=False,
    )
    # the two /17 halves are disjoint, so the third overlaps only the first
    assert_problem(
        third,
        bad,
        "10.10.128.0/17",
        "regions[2].cidr",
        "10.10.128.0/17 overlaps 10.10.0.0/16 of regions[0] (us-east-1)",
        exact=False,
    )


# -- availability zones --------------------------------------------------------------


def test_more_azs_than_the_region_offers(example_text):
    bad = edit(example_text, "name: us-west-2", "name: us-west-1")
    bad = edit(bad, "us-west-2: arn:aws:acm:us-west-2", "us-west-1: arn:aws:acm:us-west-1")
    assert_problem(
        only_problem(bad),
        bad,
        "3",
        "network.availability_zones",
        "3 AZs asked for, but us-west-1 (regions[1]) offers 2",
        after="availability_zones: ",
    )


def test_two_azs_fit_us_west_1(example_text):
    text = edit(example_text, "name: us-west-2", "name: us-west-1")
    text = edit(text, "us-west-2: arn:aws:acm:us-west-2", "us-west-1: arn:aws:acm:us-west-1")
    text = set_value(text, "availability_zones", "2")
    assert validate(text).network.availability_zones == 2


def test_default_az_count_too_high_points_at_the_region(example_text):
    # with `availability_zones` left out, the only thing written is the region name
    bad = edit(example_text, "name: us-west-2", "name: us-west-1")
    bad = edit(bad, "us-west-2: arn:aws:acm:us-west-2", "us-west-1: arn:aws:acm:us-west-1")
    bad = without_line(bad, "availability_zones")
    assert_problem(
        only_problem(bad),
        bad,
        "us-west-1",
        "regions[1].name",
        "us-west-1 offers 2 AZs, fewer than the default 3; set `network.availability_zones: 2`",
    )


# -- certificates --------------------------------------------------------------------


def test_region_without_certificate_is_accepted(example_text):
    # the regional stack then creates one (builders/certificate.py)
    spec = validate(edit(example_text, WEST_CERT, ""))
    assert list(spec.load_balancer.certificate_arns) == ["us-east-1"]


def test_certificate_for_a_region_not_in_the_spec(example_text):
    bad = edit(example_text, WEST_CERT, WEST_CERT + certificate_line("eu-west-1"))
    assert_problem(
        only_problem(bad),
        bad,
        "arn:aws:acm:eu-west-1",
        "load_balancer.certificate_arns.eu-west-1",
        "'eu-west-1' is not one of the spec's regions (us-east-1, us-west-2)",
    )


def test_certificate_from_the_wrong_region(example_text):
    bad = edit(example_text, WEST_CERT, certificate_line("us-west-2", arn_region="us-east-1"))
    assert_problem(
        only_problem(bad),
        bad,
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-3333",
        "load_balancer.certificate_arns.us-west-2",
        "this certificate is in us-east-1, but ACM certificates only work in their own "
        "region; use one issued in us-west-2",
    )


def test_no_certificates_at_all_is_accepted(example_text):
    good = edit(
        example_text,
        "  certificate_arns:              # ACM, per region; a region left out gets a new "
        "certificate for record_name\n"
        + certificate_line("us-east-1").replace(
            "0a1b2c3d-3333", "0a1b2c3d-1111-4e5f-8a9b-000000000001"
        )
        + WEST_CERT,
        "",
    )
    assert validate(good).load_balancer.certificate_arns == {}


# -- buckets -------------------------------------------------------------------------


def test_duplicate_bucket_name_points_at_the_second(example_text):
    bad = add_bucket(example_text, "assets")
    assert_problem(
        only_problem(bad),
        bad,
        "assets",
        "storage.buckets[1].name",
        "bucket name 'assets' is already used by storage.buckets[0]",
        after="name: assets",
    )


def composed_s3_name(bucket: str, region: str = "us-west-2") -> str:
    """What the storage builder names the bucket, with a 12-digit account ID."""
    return f"storefront-production-{bucket}-123456789012-{region}"


def test_longest_bucket_name_that_fits_s3(example_text):
    bucket = "a" * (S3_BUCKET_NAME_MAX - len(composed_s3_name("")))
    assert len(composed_s3_name(bucket)) == S3_BUCKET_NAME_MAX == 63
    spec = validate(add_bucket(example_text, bucket))
    assert spec.storage.buckets[1].name == bucket


def test_composed_s3_name_too_long(example_text):
    bucket = "a" * (S3_BUCKET_NAME_MAX - len(composed_s3_name("")) + 1)
    bad = add_bucket(example_text, bucket)
    assert_problem(
        only_problem(bad),
        bad,
        bucket,
        "storage.buckets[1].name",
        f"the S3 name <project>-<environment>-{bucket}-<account>-<region> would be 64 "
        "characters; S3 allows 63. Shorten the bucket, project or environment name",
    )


def test_composed_s3_name_counts_the_longest_region(example_text):
    bucket = "a" * (S3_BUCKET_NAME_MAX - len(composed_s3_name("")))  # fits us-west-2
    bad = add_bucket(example_text, bucket)
    bad = edit(bad, "name: us-west-2", "name: ap-southeast-2")
    bad = edit(
        bad, "us-west-2: arn:aws:acm:us-west-2", "ap-southeast-2: arn:aws:acm:ap-southeast-2"
    )
    expected = len(composed_s3_name(bucket, "ap-southeast-2"))
    assert_problem(
        only_problem(bad),
        bad,
        bucket,
        "storage.buckets[1].name",
        f"would be {expected} characters; S3 allows 63",
        exact=False,
    )


def test_several_cross_section_findings_are_reported_together(example_text):
    bad = edit(example_text, "cidr: 10.20.0.0/16", "cidr: 10.10.0.0/16")
    bad = edit(bad, WEST_CERT, certificate_line("us-west-2", arn_region="us-east-1"))
    bad = add_bucket(bad, "assets")
    found = problems(bad)
    assert [problem.split(": ")[1] for problem in found] == [
        "regions[1].cidr",
        "load_balancer.certificate_arns.us-west-2",
        "storage.buckets[1].name",
    ]


# -- names S3 refuses -------------------------------------------------------------------


@pytest.mark.parametrize(("project", "prefix"), [("sthree", "sthree-"), ("xn--shop", "xn--")])
def test_project_that_makes_a_reserved_s3_prefix(example_text, project, prefix):
    bad = edit(example_text, "project: storefront", f"project: {project}")
    # ("xn--" also makes an RDS identifier with two hyphens in a row: a problem of its own)
    (problem,) = [p for p in problems(bad) if "S3 bucket names" in p]
    assert_problem(
        problem,
        bad,
        project,
        "project",
        f"S3 bucket names may not start with '{prefix}', and the bucket "
        f"{project}-production-logs-<account>-<region> would; choose another name",
    )


def test_environment_that_completes_a_reserved_prefix(example_text):
    bad = edit(example_text, "project: storefront", "project: amzn-s3")
    bad = edit(bad, "environment: production", "environment: demo")
    assert_problem(
        only_problem(bad),
        bad,
        "demo",
        "environment",
        "S3 bucket names may not start with 'amzn-s3-demo-', and the bucket "
        "amzn-s3-demo-logs-<account>-<region> would; choose another name",
    )


def test_bucket_name_that_completes_a_reserved_prefix(example_text):
    text = edit(example_text, "project: storefront", "project: amzn")
    text = edit(text, "environment: production", "environment: s3")
    bad = add_bucket(text, "demo")
    assert_problem(
        only_problem(bad),
        bad,
        "demo",
        "storage.buckets[1].name",
        "S3 bucket names may not start with 'amzn-s3-demo-'",
        exact=False,
        after="- name: assets",
    )


def test_prefix_look_alikes_are_accepted(example_text):
    spec = validate(edit(example_text, "project: storefront", "project: sthreeshop"))
    assert spec.project == "sthreeshop"


# -- every problem in one run -------------------------------------------------------------


def test_cross_section_checks_run_on_the_sections_that_validated(example_text):
    # regions[1].cidr is broken, yet the bucket and task checks (which need no region
    # CIDR) still report, and so do the instance-type checks (which need only names)
    bad = edit(example_text, "cidr: 10.20.0.0/16", "cidr: 10.20.0.0/8")
    bad = add_bucket(bad, "assets")
    bad = set_value(bad, "instance_type", "t3.smal")
    found = problems(bad)
    assert [p.split(": ")[1] for p in found] == [
        "regions[1].cidr",
        "compute.instance_type",
        "storage.buckets[1].name",
    ], found


def test_a_check_needing_an_invalid_section_stays_silent(example_text):
    # monitoring is broken: the CPU alarm's check against compute cannot judge, and says
    # nothing rather than judging a default
    bad = set_value(example_text, "cpu_target_percent", "95")  # above the alarm's 80
    bad = edit(bad, "memory_percent: 90 ", "memory_percent: 900 ")
    found = problems(bad)
    assert len(found) == 2, found
    assert "compute.cpu_target_percent" in found[0] and "less than or equal to 90" in found[0]
    assert "monitoring.instances.memory_percent" in found[1]


def test_five_mistakes_in_five_sections_are_reported_in_one_run(example_text):
    bad = set_value(example_text, "instance_type", "t3.smal")  # compute, cross-section
    bad = set_value(bad, "desired_capacity", "12")  # compute sizes: at the key
    bad = edit(bad, "cidr: 10.20.0.0/16", "cidr: 10.10.0.0/16")  # regions overlap
    bad = edit(bad, "    - name: assets\n", "    - name: logs\n")  # a reserved bucket name
    bad = set_value(bad, "engine_version", '"17.1"')  # deprecated version
    bad = edit(bad, "schedule: cron(0 6 * * ? *)", "schedule: cron(0 6 * * ?  *)")  # pydantic
    bad = edit(bad, "    buckets: [assets]", "    buckets: [logs]")  # keep the task consistent
    paths = [problem.split(": ")[1] for problem in problems(bad)]
    assert paths == [
        "regions[1].cidr",
        "compute.instance_type",
        "compute.desired_capacity",
        "database.engine_version",
        "storage.buckets[0].name",
        "scheduled_tasks[0].schedule",
    ]


def test_checks_read_only_sections_so_a_partial_spec_cannot_crash_them(example_text):
    # a check reading anything but a section (a property, a method) would raise
    # AttributeError here, a traceback for a user whose spec has an invalid section
    assert find_inconsistencies(SpecSections({}, [])) == []
    bad = add_bucket(set_value(example_text, "instance_type", "t3.smal"), "assets")
    spec = InfraSpec.model_validate(load_spec_text(bad, "infra.yaml").data, context=CONTEXT)
    sections = SpecSections({name: getattr(spec, name) for name in InfraSpec.model_fields}, [])
    sections.region_names = [(i, region.name) for i, region in enumerate(spec.regions)]
    assert find_inconsistencies(sections) == find_inconsistencies(spec)
    assert len(find_inconsistencies(spec)) == 2
