"""The global stack: first in deploy order, in the primary region, deployable inline
(it creates the template bucket the other stacks upload to), lint-clean in every shape."""

from __future__ import annotations

import json

import pytest

from compiler import deploy_plan, naming
from compiler.assemble import StackTemplate, assemble, build_global_template
from compiler.lint import LintJob, lint_templates
from compiler.pipeline import compile_spec
from compiler.render import one_entry_a_line, template_bytes
from tests.builders.example import make_spec
from tests.conftest import EXAMPLE_SPEC


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, compile_spec(EXAMPLE_SPEC, out, lint=False)


def test_global_stack_is_first_in_the_manifest(compiled):
    out, _ = compiled
    stacks = json.loads((out / "manifest.json").read_text())["stacks"]
    first = stacks[0]
    assert (first["kind"], first["stack_name"], first["region"], first["template"]) == (
        "global",
        "storefront-production-global",
        "us-east-1",
        "global.json",
    )
    assert [s["kind"] for s in stacks[1:]] == ["region", "region", "stackset", "health-alarms"]


def test_global_template_over_the_inline_limit_names_a_template_bucket(compiled):
    # With the CIS monitoring filters and alarms the global template is over CloudFormation's
    # inline limit: the deploy uploads it to a bucket given for its region (issue #14
    # bootstraps one), which the manifest must say.
    out, _ = compiled
    content = (out / "global.json").read_bytes()
    assert json.loads(content) == build_global_template(make_spec()).to_dict()
    (stack,) = [
        s
        for s in json.loads((out / "manifest.json").read_text())["stacks"]
        if s["kind"] == "global"
    ]
    assert stack["bytes"] == len(content)
    assert (stack["bytes"] > deploy_plan.TEMPLATE_BODY_LIMIT) == (
        stack["template_bucket"] is not None
    )


def test_global_template_outputs_what_the_deploy_consumes(compiled):
    _, result = compiled
    outputs = result.stacks[0].template.to_dict()["Outputs"]
    for name in (
        deploy_plan.EXECUTION_ROLE_OUTPUT,
        deploy_plan.STACK_SET_ADMINISTRATION_ROLE_OUTPUT,
        deploy_plan.STACK_SET_EXECUTION_ROLE_OUTPUT,
        "ManagementRoleArn",
        "HostedZoneId",
    ):
        assert name in outputs, name


def test_the_global_stack_and_the_stackset_stay_put_when_the_regions_are_reordered():
    """The failover runbook puts the promoted region first: the global stack (its hosted
    zone, whose name servers the registrar holds) and the StackSet (a resource of the
    region it is administered from) must neither move nor change."""
    east = {"name": "us-east-1", "cidr": "10.10.0.0/16"}
    west = {"name": "us-west-2", "cidr": "10.20.0.0/16"}
    promoted = {"promoted": {"identifier": "db-1", "source_region": "us-east-1"}}
    before = make_spec(regions=[east, west])
    after = make_spec(regions=[west, east], database=promoted)
    placed = {
        spec.primary_region: {s.kind: s.region for s in assemble(spec) if s.kind != "region"}
        for spec in (before, after)
    }
    # The health-check alarms are where Route 53's metrics are, whatever the order.
    stay = {"global": "us-east-1", "stackset": "us-east-1", "health-alarms": "us-east-1"}
    assert placed == {"us-east-1": stay, "us-west-2": stay}
    assert build_global_template(before).to_dict() == build_global_template(after).to_dict()


def test_global_region_places_the_global_stack_and_its_template_bucket():
    east = {"name": "us-east-1", "cidr": "10.10.0.0/16"}
    west = {"name": "us-west-2", "cidr": "10.20.0.0/16"}
    spec = make_spec(regions=[east, west], global_region="us-west-2")
    stacks = assemble(spec)
    assert {s.kind: s.region for s in stacks if s.kind != "region"} == {
        "global": "us-west-2",
        "stackset": "us-west-2",
        "health-alarms": "us-east-1",  # where Route 53's metrics are
    }
    assert "deployed once in us-west-2" in stacks[0].template.to_dict()["Description"]
    # Over the inline limit: DEPLOY_BUCKET in the global stack's region only, then each
    # region's bootstrap bucket.
    sizes = {s.path: (deploy_plan.TEMPLATE_BODY_LIMIT + 1, "0" * 64) for s in stacks}
    plan = deploy_plan.plan_deploy(spec, stacks, sizes)
    buckets = {
        s.region: [
            getattr(source, "name", getattr(source, "output", "")) for source in s.template_bucket
        ]
        for s in plan.by_kind("region")
    }
    assert buckets["us-west-2"] == [
        "DEPLOY_BUCKET_US_WEST_2",
        "DEPLOY_BUCKET",
        "TemplateBucketName",
    ]
    assert buckets["us-east-1"] == ["DEPLOY_BUCKET_US_EAST_1", "TemplateBucketName"]
    bootstrap = naming.bootstrap_stack_name(spec)
    assert {s.region: s.template_bucket[-1].stack_name for s in plan.by_kind("region")} == {
        "us-east-1": bootstrap,
        "us-west-2": bootstrap,
    }


def test_one_entry_a_line_is_the_same_json():
    data = {"A": 1, "Resources": {"X": {"Type": "T", "Properties": {"k": ["v", "é"]}}}, "E": {}}
    text = one_entry_a_line(data).decode("utf-8")
    assert json.loads(text) == data
    assert '"X":{"Type":"T","Properties":{"k":["v","é"]}}' in text.splitlines()


def test_small_global_templates_stay_indented():
    spec = make_spec()
    stack = StackTemplate("global", "s", "us-east-1", "global.json", build_global_template(spec))
    stack.template.resources = dict(list(stack.template.resources.items())[:3])
    stack.template.outputs = {}
    assert template_bytes(stack).startswith(b'{\n  "')


SHAPES = {
    "trail-and-zone": {},
    "organisation-trail-given-zone": {
        "audit": {"trail": False},
        "dns": {"hosted_zone_id": "Z0123456789ABCDEFGHIJ"},
        "access": {
            "admin_principals": ["arn:aws:iam::123456789012:root"],
            "allow_account_root": True,
            "require_mfa": False,
        },
    },
}


@pytest.mark.full  # cfn-lint of a whole template per shape: the full tier's
@pytest.mark.parametrize("sections", SHAPES.values(), ids=SHAPES.keys())
def test_global_template_lints_clean(tmp_path, sections):
    spec = make_spec(**sections)
    (stack,) = [s for s in assemble(spec) if s.kind == "global"]
    path = tmp_path / "global.json"
    path.write_bytes(template_bytes(stack))
    assert lint_templates([LintJob(path, (spec.primary_region,))]) == []
