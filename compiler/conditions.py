"""Template conditions that depend on the region alone, evaluated, and `Fn::If` on them
resolved: a regional template as CloudFormation sees it in one region.

The writer/replica database and bucket replication are one conditioned shape in every
regional template (so the StackSet template equals them); `infra diff` and `infra graph`
read them per region through these functions.
"""

from __future__ import annotations

from typing import Any

from compiler import template_regions


class _Dropped:
    """A value `AWS::NoValue` removes."""


_DROPPED: Any = _Dropped()


def condition_values(template: dict, region: str) -> dict[str, bool]:
    """The template's conditions known in `region` (by the region and the template's
    Mappings alone, see `template_regions`); one that tests a parameter is left out."""
    known = template_regions.condition_values(template, region)
    return {name: value for name, value in known.items() if value is not None}


def resolve_conditions(node: Any, values: dict[str, bool]) -> Any:
    """`node` with each `Fn::If` on a condition in `values` replaced by its branch, and
    `AWS::NoValue` dropped: what CloudFormation sees in that region."""
    if isinstance(node, list):
        items = [resolve_conditions(item, values) for item in node]
        return [item for item in items if item is not _DROPPED]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::NoValue"}:
        return _DROPPED
    branches = node.get("Fn::If") if len(node) == 1 else None
    if isinstance(branches, list) and len(branches) == 3 and branches[0] in values:
        return resolve_conditions(branches[1] if values[branches[0]] else branches[2], values)
    resolved = {key: resolve_conditions(value, values) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not _DROPPED}


def resources_in_region(template: dict, region: str) -> dict:
    """The template's resources that exist in `region`, with region conditions resolved;
    a resource whose condition tests a parameter is kept."""
    values = condition_values(template, region)
    return {
        name: resolve_conditions(resource, values)
        for name, resource in template_regions.present_resources(template, region).items()
    }
