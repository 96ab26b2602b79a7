"""The StackSet template as cfn-lint must see it to check every region's values.

Linting the StackSet template once with all the spec's regions checks what differs by
region in the template's literals (resource types, instance types, engine versions: the
rules that say "... in 'us-west-2'"). It does not check each region's row of the region
mapping: cfn-lint resolves `Fn::FindInMap [RegionMap, {Ref: AWS::Region}, key]` to every
row's value and accepts the lookup when *one* of them is valid (a lookup may be guarded
by a condition or a parameter it cannot know), so an invalid CIDR in one region's row
passes. A StackSet is deployed to every region of the mapping, so each row must be valid.

The lint view therefore adds, for each region, a copy of every resource that holds a
region lookup, with the lookups resolved to that region's values, exactly as the
region's own template has it (tests/test_assemble.py proves the resolution). References
between copied resources point to the same region's copies, so rules that relate two
resources (a subnet and its VPC) see one region's values together. The copies come after
the StackSet template's own resources (the last section), which keep their lines; a
finding on a copy is reported at the original resource, for the copy's region. The view
grows by the resources that hold lookups times the regions, not by whole templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from compiler import naming
from compiler.context import REGION_MAP

_REGION_KEY = {"Ref": "AWS::Region"}


class LintView(NamedTuple):
    template: dict[str, Any]
    # copy's logical ID -> (original logical ID, the regions whose values it holds)
    copies: dict[str, tuple[str, tuple[str, ...]]]


def is_region_lookup(node: Any) -> bool:
    if not isinstance(node, dict) or set(node) != {"Fn::FindInMap"}:
        return False
    lookup = node["Fn::FindInMap"]
    return isinstance(lookup, list) and lookup[:2] == [REGION_MAP, _REGION_KEY]


def _holds_region_lookup(node: Any) -> bool:
    if is_region_lookup(node):
        return True
    if isinstance(node, dict):
        return any(_holds_region_lookup(value) for value in node.values())
    if isinstance(node, list):
        return any(_holds_region_lookup(item) for item in node)
    return False


def _resolved(node: Any, row: dict[str, Any], renamed: dict[str, str]) -> Any:
    """`node` with region lookups replaced by `row`'s values and references to copied
    resources renamed to their copies."""
    if is_region_lookup(node):
        return row[node["Fn::FindInMap"][2]]
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in renamed:
            return {"Ref": renamed[node["Ref"]]}
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            if isinstance(target, list) and target and target[0] in renamed:
                return {"Fn::GetAtt": [renamed[target[0]], *target[1:]]}
        return {key: _resolved(value, row, renamed) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item, row, renamed) for item in node]
    if isinstance(node, str) and renamed:
        return _renamed_in_sub(node, renamed)
    return node


def _renamed_in_sub(text: str, renamed: dict[str, str]) -> str:
    """`${Vpc}` / `${Vpc.CidrBlock}` in an `Fn::Sub` string, to the copy's ID."""
    if "${" not in text:
        return text
    return re.sub(
        r"\$\{([A-Za-z0-9]+)([.}])",
        lambda m: "${" + renamed.get(m[1], m[1]) + m[2],
        text,
    )


def _depends_on(resource: dict[str, Any], renamed: dict[str, str]) -> None:
    depends = resource.get("DependsOn")
    if isinstance(depends, str):
        resource["DependsOn"] = renamed.get(depends, depends)
    elif isinstance(depends, list):
        resource["DependsOn"] = [renamed.get(name, name) for name in depends]


def _references(node: Any) -> set[str]:
    """The logical IDs `node` refers to: `Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`."""
    if isinstance(node, dict):
        found = set().union(*(_references(value) for value in node.values())) if node else set()
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        target = node.get("Fn::GetAtt")
        if isinstance(target, list) and target and isinstance(target[0], str):
            found.add(target[0])
        elif isinstance(target, str):
            found.add(target.split(".")[0])
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    if isinstance(node, str) and "${" in node:
        return set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", node))
    return set()


def _dumped(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


def lint_view(template: dict[str, Any], regions: Iterable[str]) -> LintView:
    """`template` (a StackSet template) with each region's copies of the resources that
    hold a region lookup; `template` itself is not changed.

    A resource that refers to no other such resource is copied once for all the regions
    whose values make the same copy (the database's writer region is one for all): the
    view grows by what differs between regions, not by the region count alone."""
    resources: dict[str, Any] = template.get("Resources") or {}
    rows: dict[str, dict[str, Any]] = (template.get("Mappings") or {}).get(REGION_MAP) or {}
    holders = [name for name, resource in resources.items() if _holds_region_lookup(resource)]
    # Resources with lookups that refer to one another (a subnet, its VPC) are copied for
    # each region, so that each copy refers to the same region's copy.
    refers = {name: _references(resources[name]) & (set(holders) - {name}) for name in holders}
    linked = {name for name in holders if refers[name]}.union(*refers.values())
    taken = set(resources)
    copies: dict[str, tuple[str, tuple[str, ...]]] = {}
    added: dict[str, Any] = {}
    shared: dict[tuple[str, str], str] = {}  # (original, copy as JSON) -> the copy's ID
    for region in regions:
        row = rows.get(region)
        if row is None:  # a region outside the mapping: the template's Rules refuse it
            continue
        renamed = {name: naming.logical_id(name, "lint", region) for name in holders}
        if taken & set(renamed.values()):
            raise ValueError(f"lint copies of {region} would reuse a logical ID")
        renamed_linked = {name: renamed[name] for name in linked}
        for name in holders:
            copy = _resolved(resources[name], row, renamed_linked)
            _depends_on(copy, renamed_linked)
            key = (name, _dumped(copy))
            if name not in linked and key in shared:
                original, covered = copies[shared[key]]
                copies[shared[key]] = (original, (*covered, region))
                continue
            shared[key] = renamed[name]
            added[renamed[name]] = copy
            copies[renamed[name]] = (name, (region,))
        taken |= set(renamed.values())
    if not added:
        return LintView(template, {})
    view = dict(template)  # same key order: what comes before the copies keeps its lines
    view["Resources"] = {**resources, **added}
    return LintView(view, copies)
