"""`infra diff`: the spec compiled in memory against the templates on disk, per stack.

Templates are compared as JSON, property by property, so a change reads as
`LaunchTemplate.LaunchTemplateData.InstanceType: "t3.small" -> "t3.large"` rather than
as a text diff of a 3,000-line file. A changed resource is marked as replaced when
CloudFormation would replace it: when its type changes, or when one of its
`createOnlyProperties` changes (from the CloudFormation resource provider schemas that
cfn-lint ships). Those schema files are read only when a resource has changed, and
without importing cfn-lint.

No AWS credentials are involved: "on disk" is whatever `infra compile` wrote last,
typically the templates committed next to the spec.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.conditions import condition_values, resolve_conditions
from compiler.pipeline import compile_in_memory

if TYPE_CHECKING:
    from compiler.render import RenderedFile

MANIFEST = "manifest.json"


class _Absent:
    """A key that is not there, as opposed to a key whose value is JSON null."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class ValueChange:
    """One leaf that differs. `attribute` is the resource attribute it sits under
    (`Properties`, `DependsOn`, ...) or, outside Resources, the template section."""

    attribute: str
    path: str  # dotted keys and [index], relative to `attribute`; "" for the whole value
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    status: str  # added | removed | changed
    resource_type: str  # the new type, or the old one for a removed resource
    changes: tuple[ValueChange, ...] = ()
    replaced_by: tuple[str, ...] = ()  # what forces a replacement: "Type" or create-only paths

    @property
    def replaces(self) -> bool:
        return bool(self.replaced_by)


@dataclass(frozen=True)
class EntryChange:
    """A change outside Resources: an output, a parameter, a mapping, the description..."""

    section: str
    name: str  # "" for sections that are a single value (Description)
    status: str  # added | removed | changed
    changes: tuple[ValueChange, ...] = ()


@dataclass
class StackDiff:
    path: str  # template file, relative to the output directory
    stack_name: str
    status: str  # added (not on disk) | removed (only on disk) | changed | unchanged
    resources: list[ResourceChange] = field(default_factory=list)
    entries: list[EntryChange] = field(default_factory=list)
    note: str = ""  # e.g. the file on disk is not JSON, or only its formatting differs

    @property
    def different(self) -> bool:
        return self.status != "unchanged"


@dataclass
class TemplatesDiff:
    against: Path
    stacks: list[StackDiff]
    # Data the change would destroy when deployed (compiler/data_hazards.py), as lines.
    hazards: list[str] = field(default_factory=list)

    @property
    def different(self) -> bool:
        return any(stack.different for stack in self.stacks)


# --- comparing values -------------------------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _by_tag_key(items: list) -> dict[str, Any] | None:
    """`[{"Key": k, "Value": v}, ...]` as `{k: v}`; None for any other list."""
    if not items or not all(isinstance(i, dict) and set(i) == {"Key", "Value"} for i in items):
        return None
    keys = [i["Key"] for i in items]
    if not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        return None
    return {i["Key"]: i["Value"] for i in items}


def value_changes(old: Any, new: Any, attribute: str, path: str = "") -> list[ValueChange]:
    """Every leaf where `old` and `new` differ; mappings by key, lists by position."""
    if old == new and type(old) is type(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(new) + [key for key in old if key not in new]
        return [
            change
            for key in keys
            for change in value_changes(
                old.get(key, ABSENT), new.get(key, ABSENT), attribute, _join(path, key)
            )
        ]
    if isinstance(old, list) and isinstance(new, list):
        old_tags, new_tags = _by_tag_key(old), _by_tag_key(new)
        if old_tags is not None and new_tags is not None:
            # Tags compare by key: one new tag is one change, not a shift of the rest.
            keys = list(new_tags) + [key for key in old_tags if key not in new_tags]
            return [
                change
                for key in keys
                for change in value_changes(
                    old_tags.get(key, ABSENT),
                    new_tags.get(key, ABSENT),
                    attribute,
                    f"{path}[{key}]",
                )
            ]
        return [
            change
            for index in range(max(len(old), len(new)))
            for change in value_changes(
                old[index] if index < len(old) else ABSENT,
                new[index] if index < len(new) else ABSENT,
                attribute,
                _join(path, index),
            )
        ]
    return [ValueChange(attribute, path, old, new)]


# --- replacement, from the resource provider schemas --------------------------------


def _provider_schemas_dir() -> Path:
    """cfn-lint's bundled resource provider schemas, found without importing cfn-lint
    (its import alone takes a second): `providers/<region>.json` names each type's schema
    file in `resources/`."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; it is a dependency of infra-compiler")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _schema_files(region: str) -> dict[str, str]:
    providers = _provider_schemas_dir() / "providers"
    path = providers / f"{region}.json"
    if not path.is_file():
        path = providers / "us-east-1.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def create_only_paths(resource_type: str, region: str) -> tuple[tuple[str, ...], ...]:
    """The create-only property paths of a resource type, e.g. `(("CidrBlock",), ...)`.

    A change to any of them makes CloudFormation create a new resource and delete the
    old one. Unknown types (custom resources) have none we can know of.
    """
    schema_hash = _schema_files(region).get(resource_type)
    if schema_hash is None:
        return ()
    schema_file = _provider_schemas_dir() / "resources" / f"{schema_hash}.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    paths = []
    for pointer in schema.get("createOnlyProperties", []):
        parts = tuple(pointer.strip("/").split("/"))
        if parts and parts[0] == "properties":
            paths.append(parts[1:])
    return tuple(paths)


def _values_at(node: Any, parts: tuple[str, ...]) -> list[Any]:
    """The values at a provider-schema path; `*` walks every element of a list."""
    if not parts:
        return [node]
    head, rest = parts[0], parts[1:]
    if head == "*":
        return (
            [v for item in node for v in _values_at(item, rest)] if isinstance(node, list) else []
        )
    if isinstance(node, dict) and head in node:
        return _values_at(node[head], rest)
    return [ABSENT]


def replacement_causes(
    old: dict,
    new: dict,
    region: str,
    old_conditions: dict[str, bool] | None = None,
    new_conditions: dict[str, bool] | None = None,
) -> tuple[str, ...]:
    """Why CloudFormation would replace a resource going from `old` to `new`; () if it won't.
    Properties are compared as they are in `region`: `Fn::If` on a region condition
    (e.g. the writer or a replica database) resolved with each template's conditions."""
    if old.get("Type") != new.get("Type"):
        return ("Type",)
    old_props = resolve_conditions(old.get("Properties", {}), old_conditions or {})
    new_props = resolve_conditions(new.get("Properties", {}), new_conditions or {})
    return tuple(
        ".".join(path)
        for path in create_only_paths(new["Type"], region)
        if _values_at(old_props, path) != _values_at(new_props, path)
    )


def _resolve_in_region(node: Any, mappings: dict, region: str) -> Any:
    """`node` with `AWS::Region` set and every resolvable `Fn::FindInMap` looked up."""
    if isinstance(node, list):
        return [_resolve_in_region(item, mappings, region) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::Region"}:
        return region
    if list(node) == ["Fn::FindInMap"]:
        keys = _resolve_in_region(node["Fn::FindInMap"], mappings, region)
        if isinstance(keys, list) and len(keys) == 3 and all(isinstance(k, str) for k in keys):
            return mappings.get(keys[0], {}).get(keys[1], {}).get(keys[2], ABSENT)
    return {key: _resolve_in_region(value, mappings, region) for key, value in node.items()}


def mapped_replacement_causes(
    resource: dict, old_mappings: dict, new_mappings: dict, region: str
) -> tuple[str, ...]:
    """Create-only properties whose `Fn::FindInMap` values changed, as `Path (region)`.

    The StackSet template looks region values up in Mappings: a new region CIDR leaves
    its subnets' text alone but replaces them in that region's stack instance.
    """
    regions = sorted(
        {key for table in (*old_mappings.values(), *new_mappings.values()) for key in table}
    )
    props = resource.get("Properties", {})
    causes = []
    for path in create_only_paths(resource["Type"], region):
        values = _values_at(props, path)
        for where in regions:
            before = _resolve_in_region(values, old_mappings, where)
            after = _resolve_in_region(values, new_mappings, where)
            if before != after:
                causes.append(f"{'.'.join(path)} ({where})")
    return tuple(causes)


# --- templates and stacks ------------------------------------------------------------


def _leaf_changes(before: dict, after: dict) -> tuple[ValueChange, ...]:
    """A resource's changes: its type first, then every attribute (Properties, DependsOn...)."""
    if before == after:
        return ()
    leaves = []
    if before.get("Type") != after.get("Type"):
        leaves.append(ValueChange("Type", "", before.get("Type"), after.get("Type")))
    for attribute in list(after) + [a for a in before if a not in after]:
        if attribute != "Type":
            leaves += value_changes(
                before.get(attribute, ABSENT), after.get(attribute, ABSENT), attribute
            )
    return tuple(leaves)


def _resource_changes(
    old: dict,
    new: dict,
    region: str,
    old_mappings: dict,
    new_mappings: dict,
    conditions: tuple[dict[str, bool], dict[str, bool]] = ({}, {}),
) -> list[ResourceChange]:
    changes: list[ResourceChange] = []
    for logical_id, resource in new.items():
        if logical_id not in old:
            changes.append(ResourceChange(logical_id, "added", resource.get("Type", "")))
            continue
        before = old[logical_id]
        leaves = _leaf_changes(before, resource)
        causes = replacement_causes(before, resource, region, *conditions) if leaves else ()
        if (
            old_mappings != new_mappings
            and "Type" in resource
            and before.get("Type") == resource["Type"]
        ):
            causes += mapped_replacement_causes(resource, old_mappings, new_mappings, region)
        if leaves or causes:
            changes.append(
                ResourceChange(logical_id, "changed", resource.get("Type", ""), leaves, causes)
            )
    for logical_id, resource in old.items():
        if logical_id not in new:
            changes.append(ResourceChange(logical_id, "removed", resource.get("Type", "")))
    return changes


def _entry_changes(section: str, old: Any, new: Any) -> list[EntryChange]:
    if old == new:
        return []
    if not (isinstance(old, dict) and isinstance(new, dict)):
        if old is ABSENT or new is ABSENT:
            return [EntryChange(section, "", "added" if old is ABSENT else "removed")]
        return [EntryChange(section, "", "changed", tuple(value_changes(old, new, section)))]
    entries = []
    for name in list(new) + [n for n in old if n not in new]:
        before, after = old.get(name, ABSENT), new.get(name, ABSENT)
        if before is ABSENT:
            entries.append(EntryChange(section, name, "added"))
        elif after is ABSENT:
            entries.append(EntryChange(section, name, "removed"))
        elif before != after:
            entries.append(
                EntryChange(section, name, "changed", tuple(value_changes(before, after, section)))
            )
    return entries


def diff_template(
    old: dict, new: dict, region: str
) -> tuple[list[ResourceChange], list[EntryChange]]:
    """Resources, then every other section (Parameters, Outputs, Mappings, ...)."""
    resources = _resource_changes(
        old.get("Resources", {}),
        new.get("Resources", {}),
        region,
        old.get("Mappings", {}),
        new.get("Mappings", {}),
        (condition_values(old, region), condition_values(new, region)),
    )
    entries: list[EntryChange] = []
    for section in list(new) + [s for s in old if s not in new]:
        if section != "Resources":
            entries += _entry_changes(section, old.get(section, ABSENT), new.get(section, ABSENT))
    return resources, entries


@dataclass(frozen=True)
class _StackOnDisk:
    path: str
    stack_name: str


def stacks_on_disk(against: Path) -> list[_StackOnDisk]:
    """The templates of an earlier compile: those its manifest lists, else every JSON file.

    The manifest is what separates templates from the other files a compile writes
    (manifest.json, deploy.sh) and from unrelated files in the directory.
    """
    manifest = against / MANIFEST
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["stacks"]
        return [_StackOnDisk(e["template"], e.get("stack_name", "")) for e in entries]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not against.is_dir():
        return []
    return [
        _StackOnDisk(p.relative_to(against).as_posix(), "")
        for p in sorted(against.rglob("*.json"))
        if p.name != MANIFEST and p.is_file()
    ]


def _diff_file(against: Path, file: RenderedFile, stack_name: str, region: str) -> StackDiff:
    on_disk = against / file.path
    if not on_disk.is_file():
        return StackDiff(file.path, stack_name, "added", note="not on disk")
    content = on_disk.read_bytes()
    if content == file.content:
        return StackDiff(file.path, stack_name, "unchanged")
    new = json.loads(file.content)
    try:
        old = json.loads(content)
    except ValueError as error:
        return StackDiff(file.path, stack_name, "changed", note=f"on disk is not JSON: {error}")
    if not isinstance(old, dict):
        return StackDiff(file.path, stack_name, "changed", note="on disk is not a template")
    resources, entries = diff_template(old, new, region)
    note = "" if resources or entries else "same JSON, different formatting"
    return StackDiff(file.path, stack_name, "changed", resources, entries, note)


def diff_against(
    spec_path: Path, against: Path | None = None, environment: str | None = None
) -> TemplatesDiff:
    """Compile `spec_path` in memory and compare each stack with its template under `against`
    (by default where `infra compile` writes the environment, see `environments.output_dir`).

    Raises `SpecError` for an invalid spec, like every command.
    """
    from compiler.environments import output_dir

    result = compile_in_memory(spec_path, environment)
    against = against or output_dir(result.spec, environment)
    contents = {file.path: file for file in result.files}
    stacks = [
        _diff_file(against, contents[stack.path], stack.stack_name, stack.region)
        for stack in result.stacks
    ]
    compiled = {stack.path for stack in result.stacks}
    stacks += [
        StackDiff(old.path, old.stack_name, "removed", note="on disk, no longer compiled")
        for old in stacks_on_disk(against)
        if old.path not in compiled and (against / old.path).is_file()
    ]
    return TemplatesDiff(against, stacks, _hazards(against, result.spec))


def _hazards(against: Path, spec) -> list[str]:
    from compiler.data_hazards import data_hazards, hazard_lines, previous_layout

    try:
        manifest = json.loads((against / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return hazard_lines(data_hazards(previous_layout(manifest), spec))


# --- output ------------------------------------------------------------------------

MAX_SHOWN_VALUE = 120


def show_value(value: Any, limit: int = MAX_SHOWN_VALUE) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_line(change: ValueChange, owner: str) -> str:
    where = f"{owner}.{change.path}" if change.path else owner
    return f"~ {where}: {show_value(change.old)} -> {show_value(change.new)}"


def _resource_owner(logical_id: str, attribute: str) -> str:
    """Properties read as `Resource.Property`; other attributes as `Resource (DependsOn)`."""
    return logical_id if attribute == "Properties" else f"{logical_id} ({attribute})"


def human_lines(diff: TemplatesDiff) -> list[str]:
    """The report `infra diff` prints: one block per stack, then a one-line summary."""
    lines: list[str] = []
    marks = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}
    for stack in diff.stacks:
        name = f" ({stack.stack_name})" if stack.stack_name else ""
        note = f": {stack.note}" if stack.note else ""
        lines.append(f"{marks[stack.status]} {stack.path}{name}{note}")
        for resource in stack.resources:
            label = f"{resource.logical_id} ({resource.resource_type})"
            if resource.status != "changed":
                lines.append(f"    {marks[resource.status]} {label}")
                continue
            if resource.replaces:
                causes = ", ".join(resource.replaced_by)
                lines.append(f"    ! {label} is replaced: {causes} changed")
            lines += [
                "    " + _change_line(c, _resource_owner(resource.logical_id, c.attribute))
                for c in resource.changes
            ]
        for entry in stack.entries:
            owner = f"{entry.section}.{entry.name}" if entry.name else entry.section
            if entry.status != "changed":
                lines.append(f"    {marks[entry.status]} {owner}")
                continue
            lines += ["    " + _change_line(c, owner) for c in entry.changes]
    lines += [f"! {hazard}" for hazard in diff.hazards]
    lines.append(summary_line(diff))
    return lines


def summary_line(diff: TemplatesDiff) -> str:
    changed = [s for s in diff.stacks if s.different]
    if not changed:
        return f"no differences: {len(diff.stacks)} templates match {diff.against}"
    resources = [r for s in changed for r in s.resources]
    counts = {
        status: sum(1 for r in resources if r.status == status)
        for status in ("added", "removed", "changed")
    }
    replaced = sum(1 for r in resources if r.replaces)
    return (
        f"{len(changed)} of {len(diff.stacks)} templates differ from {diff.against}: "
        f"{counts['added']} resources added, {counts['removed']} removed, "
        f"{counts['changed']} changed ({replaced} replaced)"
    )


def _value_json(change: ValueChange) -> dict:
    data: dict[str, Any] = {"attribute": change.attribute, "path": change.path}
    if change.old is not ABSENT:
        data["old"] = change.old
    if change.new is not ABSENT:
        data["new"] = change.new
    return data


def to_json(diff: TemplatesDiff) -> dict:
    """Machine-readable report; an absent side of a change has no `old` / `new` key."""
    return {
        "against": str(diff.against),
        "different": diff.different,
        "hazards": diff.hazards,
        "stacks": [
            {
                "template": stack.path,
                "stack_name": stack.stack_name,
                "status": stack.status,
                "note": stack.note,
                "resources": [
                    {
                        "logical_id": r.logical_id,
                        "type": r.resource_type,
                        "status": r.status,
                        "replaces": r.replaces,
                        "replaced_by": list(r.replaced_by),
                        "changes": [_value_json(c) for c in r.changes],
                    }
                    for r in stack.resources
                ],
                "entries": [
                    {
                        "section": e.section,
                        "name": e.name,
                        "status": e.status,
                        "changes": [_value_json(c) for c in e.changes],
                    }
                    for e in stack.entries
                ],
            }
            for stack in diff.stacks
        ],
    }
