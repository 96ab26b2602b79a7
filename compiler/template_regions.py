"""A compiled template as CloudFormation sees it in one region.

A per-region template runs in its own region; the StackSet template runs in each region
of its region mapping. In a given region, `AWS::Region` and every `Fn::FindInMap` on the
template's own Mappings have a known value, so are most `Conditions`: and a resource
whose condition is false there is not created. `infra diff` judges resources this way.

Values that depend on anything else (a parameter, an attribute of another resource) are
unknown; a condition that needs one is neither true nor false (`None`), and a resource
behind it counts as present: better a change reported that may not happen than one
hidden that will.
"""

from __future__ import annotations

from typing import Any

from compiler.context import REGION_MAP


class _Unknown:
    """A value that cannot be known from the template and the region alone."""

    def __repr__(self) -> str:
        return "(unknown)"


UNKNOWN: Any = _Unknown()


def resolve(node: Any, mappings: dict, region: str) -> Any:
    """`node` with `AWS::Region` set and every resolvable `Fn::FindInMap` looked up; a
    lookup of a key the mappings do not have is `UNKNOWN`."""
    if isinstance(node, list):
        return [resolve(item, mappings, region) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::Region"}:
        return region
    if list(node) == ["Fn::FindInMap"]:
        keys = resolve(node["Fn::FindInMap"], mappings, region)
        if isinstance(keys, list) and len(keys) == 3 and all(isinstance(k, str) for k in keys):
            table = mappings.get(keys[0]) if isinstance(mappings, dict) else None
            row = table.get(keys[1]) if isinstance(table, dict) else None
            return row.get(keys[2], UNKNOWN) if isinstance(row, dict) else UNKNOWN
    return {key: resolve(value, mappings, region) for key, value in node.items()}


def _known(value: Any) -> bool:
    """True when `value` holds no intrinsic function and nothing unknown."""
    if value is UNKNOWN:
        return False
    if isinstance(value, list):
        return all(_known(item) for item in value)
    if isinstance(value, dict):
        return not any(key == "Ref" or key.startswith("Fn::") for key in value) and all(
            _known(item) for item in value.values()
        )
    return True


class _Evaluator:
    def __init__(self, template: dict, region: str):
        conditions = template.get("Conditions")
        mappings = template.get("Mappings")
        self.conditions = conditions if isinstance(conditions, dict) else {}
        self.mappings = mappings if isinstance(mappings, dict) else {}
        self.region = region
        self.values: dict[str, bool | None] = {}
        self.open: set[str] = set()  # conditions being evaluated: a repeat is a cycle

    def condition(self, name: Any) -> bool | None:
        if not isinstance(name, str) or name not in self.conditions or name in self.open:
            return None  # undefined or circular: CloudFormation refuses the template
        if name not in self.values:
            self.open.add(name)
            self.values[name] = self.truth(self.conditions[name])
            self.open.discard(name)
        return self.values[name]

    def truth(self, node: Any) -> bool | None:
        """Three-valued: a condition function that needs an unknown value is None."""
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((function, arguments),) = node.items()
        if function == "Condition":
            return self.condition(arguments)
        if not isinstance(arguments, list):
            return None
        if function == "Fn::Equals" and len(arguments) == 2:
            left, right = (resolve(a, self.mappings, self.region) for a in arguments)
            return left == right if _known(left) and _known(right) else None
        values = [self.truth(argument) for argument in arguments]
        if function == "Fn::Not" and len(values) == 1:
            return None if values[0] is None else not values[0]
        if function == "Fn::And" and values:
            return False if False in values else (None if None in values else True)
        if function == "Fn::Or" and values:
            return True if True in values else (None if None in values else False)
        return None


def condition_values(template: dict, region: str) -> dict[str, bool | None]:
    """Every condition of `template` in `region`: True, False, or None when unknown."""
    evaluator = _Evaluator(template, region)
    return {name: evaluator.condition(name) for name in evaluator.conditions}


def present_resources(template: dict, region: str) -> dict[str, dict]:
    """The resources CloudFormation creates for `template` in `region`: those without a
    condition, or whose condition is not known to be false."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return {}
    evaluator = _Evaluator(template, region)
    return {
        logical_id: resource
        for logical_id, resource in resources.items()
        if not isinstance(resource, dict)
        or "Condition" not in resource
        or evaluator.condition(resource["Condition"]) is not False
    }


def mapped_regions(template: dict) -> list[str]:
    """The regions a StackSet template serves: the keys of its region mapping."""
    mappings = template.get("Mappings")
    table = mappings.get(REGION_MAP) if isinstance(mappings, dict) else None
    return list(table) if isinstance(table, dict) else []
