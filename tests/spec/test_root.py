"""The root of the spec: project, environment, tags and the list of regions."""

from __future__ import annotations

import pytest
from awscli.customizations.cloudformation.deploy import DeployCommand
from awscli.shorthand import ShorthandParser
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compiler.spec.root import MAX_TAGS, TagKeyText, TagValue
from tests.spec.helpers import (
    assert_problem,
    edit,
    only_problem,
    problems,
    validate,
    without_section,
)

TAGS = "  Team: platform\n  CostCenter: cc-1042\n"
REGIONS = (
    "  - name: us-east-1\n    cidr: 10.10.0.0/16\n  - name: us-west-2\n    cidr: 10.20.0.0/16\n"
)


def with_tags(example_text: str, tags: str) -> str:
    return edit(example_text, TAGS, tags)


@pytest.mark.parametrize(
    ("tags", "missing"),
    [
        ("  CostCenter: cc-1042\n", "Team"),
        ("  Team: platform\n", "CostCenter"),
        ("  Owner: someone\n", "Team and CostCenter"),
        ("  team: platform\n  costcenter: cc-1042\n", "Team and CostCenter"),  # case matters
    ],
)
def test_required_tags(example_text, tags, missing):
    bad = with_tags(example_text, tags)
    # a check of the whole tag mapping: reported where the mapping starts
    assert_problem(
        only_problem(bad),
        bad,
        tags.strip(),
        "tags",
        f"tags must include {missing} (cost and ownership reports use them)",
    )


def test_environment_tag_is_taken_from_environment(example_text):
    bad = with_tags(example_text, TAGS + "  Environment: prod\n")
    assert_problem(
        only_problem(bad),
        bad,
        "Environment: prod",
        "tags.Environment",
        "do not set the Environment tag here; it is taken from `environment`",
    )


@pytest.mark.parametrize("key", ["aws:createdBy", "AWS:Owner"])
def test_aws_prefixed_tag_is_reserved(example_text, key):
    bad = with_tags(example_text, TAGS + f"  {key}: x\n")
    assert_problem(
        only_problem(bad),
        bad,
        f"{key}: x",
        f"tags.{key}",
        f"tag keys starting with 'aws:' are reserved by AWS: {key}",
    )


def test_tag_key_with_a_character_aws_refuses_points_at_the_key(example_text):
    bad = with_tags(example_text, TAGS + "  'Bad#Key': x\n")
    assert_problem(
        only_problem(bad),
        bad,
        "'Bad#Key'",
        "tags.Bad#Key",
        "tag keys are 1 to 128 letters, digits, spaces and _ . : / + @ - (not '=': `aws "
        "cloudformation deploy --tags KEY=VALUE` would split the key there) (got 'Bad#Key')",
    )


def test_tag_key_longer_than_128(example_text):
    key = "k" * 129
    bad = with_tags(example_text, TAGS + f"  {key}: x\n")
    assert_problem(only_problem(bad), bad, key, f"tags.{key}", "tag keys are 1 to 128", exact=False)


def test_tag_value_must_be_text(example_text):
    # an unquoted number is an int in YAML; tag values are strings
    bad = with_tags(example_text, "  Team: platform\n  CostCenter: 1042\n")
    assert_problem(
        only_problem(bad),
        bad,
        "1042",
        "tags.CostCenter",
        "Input should be a valid string (got 1042)",
    )


def test_tag_value_with_a_character_aws_refuses(example_text):
    bad = with_tags(example_text, "  Team: platform!\n  CostCenter: cc-1042\n")
    assert_problem(
        only_problem(bad),
        bad,
        "platform!",
        "tags.Team",
        "tag values are 1 to 256 letters, digits, spaces and _ . : / = + @ -, not starting "
        "with '=' (the AWS CLI's Key=K,Value=V shorthand refuses that) (got 'platform!')",
    )


def test_empty_tag_value_is_refused(example_text):
    # CloudWatch alarms, dashboards and SSM documents take no empty tag value
    bad = with_tags(example_text, "  Team: platform\n  CostCenter: ''\n")
    assert_problem(
        only_problem(bad),
        bad,
        "''",
        "tags.CostCenter",
        "tag values are 1 to 256 letters, digits, spaces and _ . : / = + @ -, not starting "
        "with '=' (the AWS CLI's Key=K,Value=V shorthand refuses that) (got '')",
    )


def test_all_tags_add_environment(example_text):
    spec = validate(example_text)
    assert spec.all_tags() == {
        "Environment": "production",
        "Team": "platform",
        "CostCenter": "cc-1042",
    }


@pytest.mark.parametrize("regions", ["  - name: us-east-1\n    cidr: 10.10.0.0/16\n", "  []\n"])
def test_fewer_than_two_regions(example_text, regions):
    bad = edit(example_text, REGIONS, regions)
    # the certificate left for us-west-2 is not reported: consistency checks run only
    # once every section is valid
    assert_problem(
        only_problem(bad),
        bad,
        regions.strip(),
        "regions",
        f"List should have at least 2 items, not {regions.count('name:')}",
    )


def test_more_than_sixteen_regions(example_text):
    many = "".join(f"  - name: us-east-1\n    cidr: 10.{i}.0.0/16\n" for i in range(17))
    bad = edit(example_text, REGIONS, many)
    assert_problem(
        only_problem(bad),
        bad,
        "- name: us-east-1",
        "regions",
        "List should have at most 16 items, not 17",
    )


def test_regions_must_be_a_list_of_mappings(example_text):
    bad = edit(example_text, REGIONS, "  - us-east-1\n  - us-west-2\n")
    first, second = problems(bad)
    assert_problem(
        first,
        bad,
        "us-east-1",
        "regions[0]",
        "expected a mapping with the keys cidr, name (got 'us-east-1')",
    )
    assert_problem(
        second,
        bad,
        "us-west-2",
        "regions[1]",
        "expected a mapping with the keys cidr, name (got 'us-west-2')",
    )


@pytest.mark.parametrize("project", ["Storefront", "store_front", "s", "storefront-", "9lives"])
def test_project_must_be_a_slug(example_text, project):
    bad = edit(example_text, "project: storefront", f"project: {project}")
    problem = only_problem(bad)
    assert_problem(
        problem, bad, project, "project", f"(got '{project}')", exact=False, after="project: "
    )


def test_environment_longer_than_20(example_text):
    name = "production-environment"
    bad = edit(example_text, "environment: production", f"environment: {name}")
    assert_problem(
        only_problem(bad),
        bad,
        name,
        "environment",
        f"String should have at most 20 characters (got '{name}')",
    )


@pytest.mark.parametrize("key", ["project", "environment", "tags", "regions"])
def test_missing_required_section_is_reported_at_the_document(example_text, key):
    bad = without_section(example_text, key)
    first_key = next(line for line in bad.splitlines() if line[:1].isalpha())
    assert_problem(only_problem(bad), bad, first_key, "(document)", f"missing required key '{key}'")


def test_tag_key_with_an_equals_sign_is_refused(example_text):
    # `aws cloudformation deploy --tags KEY=VALUE` (deploy.sh) splits at the first '='
    bad = with_tags(example_text, TAGS + "  team=area: x\n")
    assert_problem(
        only_problem(bad),
        bad,
        "team=area",
        "tags.team=area",
        "not '=': `aws cloudformation deploy --tags KEY=VALUE` would split the key there",
        exact=False,
    )


def test_tag_value_starting_with_an_equals_sign_is_refused(example_text):
    # the StackSet calls' shorthand Key=K,Value=V refuses `Value==x`
    bad = with_tags(example_text, "  Team: '=platform'\n  CostCenter: cc-1042\n")
    assert_problem(
        only_problem(bad),
        bad,
        "'=platform'",
        "tags.Team",
        "not starting with '=' (the AWS CLI's Key=K,Value=V shorthand refuses that)",
        exact=False,
    )


def test_tag_value_with_an_equals_sign_inside_is_accepted(example_text):
    spec = validate(with_tags(example_text, "  Team: a=b\n  CostCenter: cc-1042\n"))
    assert spec.tags["Team"] == "a=b"


def test_more_tags_than_aws_allows_a_resource(example_text):
    extra = "".join(f"  Key{i}: v\n" for i in range(MAX_TAGS - 1))  # Team, CostCenter too
    bad = with_tags(example_text, TAGS + extra)
    assert_problem(
        only_problem(bad), bad, "Team: platform", "tags", "at most 48 items", exact=False
    )
    assert len(validate(with_tags(example_text, TAGS + extra[: extra.index("  Key2:")])).tags) == 4


# Every key and value the spec accepts must reach CloudFormation as written through the
# two ways deploy.sh passes stack tags to the AWS CLI: `deploy --tags KEY=VALUE` and the
# StackSet calls' shorthand `Key=K,Value=V` (compiler/deploy_script.py).
TAG_KEYS = st.from_regex(TagKeyText.__metadata__[0].pattern, fullmatch=True).map(str.strip)
TAG_VALUES = st.from_regex(TagValue.__metadata__[0].pattern, fullmatch=True).map(str.strip)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(TAG_KEYS, TAG_VALUES)
def test_accepted_tags_reach_aws_as_written_through_the_cli(key, value):
    assume(key and value and not key.lower().startswith("aws:") and key != "Environment")
    parsed = DeployCommand(None).parse_key_value_arg([f"{key}={value}"], "tags")
    assert parsed == {key: value}
    assert ShorthandParser().parse(f"Key={key},Value={value}") == {"Key": key, "Value": value}
