"""Template conditions that depend on the region alone, evaluated, and `Fn::If` on them
resolved: a regional template as CloudFormation sees it in one region.

The writer/replica database and bucket replication are one conditioned shape in every
regional template (so the StackSet template equals them); `infra diff` and `infra graph`
read them per region through these functions.
"""

from __future__ import annotations

from typing import Any


class _Dropped:
    """A value `AWS::NoValue` removes."""


_DROPPED: Any = _Dropped()


def in_region(node: Any, mappings: dict, region: str) -> Any:
    """`node` with `AWS::Region` set and each resolvable `Fn::FindInMap` looked up."""
    if isinstance(node, list):
        return [in_region(item, mappings, region) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::Region"}:
        return region
    if list(node) == ["Fn::FindInMap"]:
        keys = in_region(node["Fn::FindInMap"], mappings, region)
        if isinstance(keys, list) and len(keys) == 3 and all(isinstance(k, str) for k in keys):
            return mappings.get(keys[0], {}).get(keys[1], {}).get(keys[2], node)
    return {key: in_region(value, mappings, region) for key, value in node.items()}


def condition_values(template: dict, region: str) -> dict[str, bool]:
    """The template's conditions that depend on the region alone (and its Mappings), as
    they are in `region`; a condition that tests a parameter is left out."""
    conditions, mappings = template.get("Conditions", {}), template.get("Mappings", {})
    if not isinstance(conditions, dict) or not isinstance(mappings, dict):
        return {}
    found: dict[str, bool] = {}

    def evaluate(node: Any, seen: frozenset = frozenset()) -> bool | None:
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((function, arguments),) = node.items()
        if function == "Condition" and isinstance(arguments, str) and arguments not in seen:
            return evaluate(conditions.get(arguments), seen | {arguments})
        if not isinstance(arguments, list):
            return None
        if function == "Fn::Equals" and len(arguments) == 2:
            left, right = (in_region(a, mappings, region) for a in arguments)
            both = isinstance(left, str) and isinstance(right, str)
            return left == right if both else None
        values = [evaluate(argument, seen) for argument in arguments]
        if None in values:
            return None
        combine = {"Fn::Not": lambda v: not v[0], "Fn::And": all, "Fn::Or": any}
        return combine[function](values) if function in combine else None

    for name, condition in conditions.items():
        value = evaluate(condition, frozenset({name}))
        if value is not None:
            found[name] = value
    return found


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
        for name, resource in template.get("Resources", {}).items()
        if values.get(resource.get("Condition"), True)
    }
