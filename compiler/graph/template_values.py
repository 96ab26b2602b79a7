"""Reading values and references out of templates as CloudFormation sees them (dicts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Resources = dict[str, dict]


def prop(resource: dict, path: str, default: Any = None) -> Any:
    value: Any = resource.get("Properties", {})
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def readable(value: Any) -> str:
    """A template value as a person reads it; intrinsic functions shortened."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        return "(computed)"
    return str(value)


def ref_id(value: Any) -> str | None:
    """The logical ID a `Ref` or `Fn::GetAtt` names."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            return str(attribute[0])
    return None


def references(value: Any) -> Iterator[str]:
    """Every logical ID (or parameter, or pseudo parameter) `value` refers to."""
    if isinstance(value, dict):
        target = ref_id(value)
        if target is not None:
            yield target
            return
        if "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            yield from re.findall(r"\$\{([^!}][^}.]*)", str(text))
        for child in value.values():
            yield from references(child)
    elif isinstance(value, list):
        for child in value:
            yield from references(child)


def values_at(value: Any, path: str | None) -> list[Any]:
    """The values at a dotted property path; lists are stepped through."""
    found = [value]
    for part in path.split(".") if path else ():
        step: list[Any] = []
        for item in found:
            for element in item if isinstance(item, list) else [item]:
                if isinstance(element, dict) and part in element:
                    step.append(element[part])
        found = step
    return found


def in_region(value: Any, region: str) -> Any:
    """`value` with every `{"Ref": "AWS::Region"}` replaced by `region`."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::Region"}:
            return region
        return {key: in_region(child, region) for key, child in value.items()}
    if isinstance(value, list):
        return [in_region(child, region) for child in value]
    return value
