"""The StackSet template is exactly the regional template once its lookups are resolved."""

from __future__ import annotations

import copy
import json

import pytest

from compiler.assemble import assemble
from compiler.pipeline import load_and_validate
from tests.conftest import EXAMPLE_SPEC


def resolve_region_lookups(node, mappings: dict, region: str):
    """Replace every `Fn::FindInMap [RegionMap, {Ref: AWS::Region}, key]` with its value."""
    if isinstance(node, dict):
        if set(node) == {"Fn::FindInMap"}:
            table, row, key = node["Fn::FindInMap"]
            assert row == {"Ref": "AWS::Region"}, f"lookup not keyed by region: {node}"
            return mappings[table][region][key]
        return {k: resolve_region_lookups(v, mappings, region) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_region_lookups(item, mappings, region) for item in node]
    return node


@pytest.fixture(scope="module")
def stacks():
    spec = load_and_validate(EXAMPLE_SPEC)
    return spec, {s.path: json.loads(s.template.to_json()) for s in assemble(spec)}


def test_stackset_equals_each_regional_template_when_resolved(stacks):
    spec, templates = stacks
    stackset = copy.deepcopy(templates["stackset.json"])
    mappings = stackset.pop("Mappings")
    stackset.pop("Rules")
    for region in spec.regions:
        regional = templates[f"regions/{region.name}.json"]
        resolved = resolve_region_lookups(stackset, mappings, region.name)
        assert resolved == regional, f"stackset.json differs from regions/{region.name}.json"


def test_stackset_refuses_regions_outside_the_spec(stacks):
    spec, templates = stacks
    assertion = templates["stackset.json"]["Rules"]["RegionIsInSpec"]["Assertions"][0]["Assert"]
    assert assertion == {"Fn::Contains": [[r.name for r in spec.regions], {"Ref": "AWS::Region"}]}


def test_regional_templates_hold_literals_only(stacks):
    _spec, templates = stacks
    for path, template in templates.items():
        if path.startswith("regions/"):
            assert "Fn::FindInMap" not in json.dumps(template)
            assert "Mappings" not in template


def test_stackset_has_no_region_literal(stacks):
    spec, templates = stacks
    stackset = dict(templates["stackset.json"])
    stackset.pop("Mappings")
    stackset.pop("Rules")
    text = json.dumps(stackset)
    for region in spec.regions:
        assert region.cidr not in text
        assert region.name not in text
