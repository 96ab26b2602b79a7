"""`infra diff`: the spec compiled in memory against the templates on disk, per stack.

Templates are compared as JSON, property by property, so a change reads as
`LaunchTemplate.LaunchTemplateData.InstanceType: "t3.small" -> "t3.large"` rather than
as a text diff of a 3,000-line file. A changed resource is marked as replaced when
CloudFormation would replace it: when its type changes, or when one of its
`createOnlyProperties` changes (from the CloudFormation resource provider schemas that
cfn-lint ships). Those schema files are read only when a resource has changed, and
without importing cfn-lint.

Resources are judged in the region each stack runs in: a resource whose `Condition` is
false there is not created, so adding or removing it is no change to that stack. The
StackSet template runs in every region of its region mapping: a region added to or
removed from the mapping is a stack instance added or removed, with all its resources,
and only the regions it had before and still has can see a resource replaced.

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

from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded
from compiler.conditions import condition_values, resolve_conditions
from compiler.deploy_bootstrap import BOOTSTRAP_TEMPLATE
from compiler.deploy_plan import STATEFUL_TYPES
from compiler.pipeline import compile_in_memory
from compiler.template_regions import mapped_regions, present_resources, resolve

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
    # added | removed | changed; `inactive`: the template's text of it changed, but its
    # condition is false in every region the stack runs in, so nothing is created or deleted.
    status: str
    resource_type: str  # the new type, or the old one for a removed resource
    changes: tuple[ValueChange, ...] = ()
    replaced_by: tuple[str, ...] = ()  # what forces a replacement: "Type" or create-only paths
    condition: str = ""  # for `inactive`: the resource's condition...
    inactive_in: tuple[str, ...] = ()  # ...and the regions where it is false

    @property
    def replaces(self) -> bool:
        return bool(self.replaced_by)


@dataclass(frozen=True)
class InstanceChange:
    """A StackSet stack instance that a region added to or removed from the template creates
    or deletes, with the resources it holds in that region."""

    region: str
    status: str  # added | removed
    resources: int


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
    instances: list[InstanceChange] = field(default_factory=list)  # StackSet templates only

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


def mapped_replacement_causes(
    resource: dict, old_mappings: dict, new_mappings: dict, region: str, regions: list[str]
) -> tuple[str, ...]:
    """Create-only properties whose `Fn::FindInMap` values changed in one of `regions`,
    as `Path (region)`.

    The StackSet template looks region values up in Mappings: a new region CIDR leaves
    its subnets' text alone but replaces them in that region's stack instance. `regions`
    are those the stack set has before and after: a region's first values make a new
    instance, and its last ones go with its instance; neither replaces anything.
    """
    props = resource.get("Properties", {})
    causes = []
    for path in create_only_paths(resource["Type"], region):
        values = _values_at(props, path)
        for where in regions:
            before = resolve(values, old_mappings, where)
            after = resolve(values, new_mappings, where)
            if before != after:
                causes.append(f"{'.'.join(path)} ({where})")
    return tuple(causes)


# --- templates and stacks ------------------------------------------------------------


def _section(template: Any, name: str) -> dict:
    """A section of a template as a mapping; {} when a hand-edited one is not one."""
    value = template.get(name) if isinstance(template, dict) else None
    return value if isinstance(value, dict) else {}


def _resource_type(resource: Any) -> str:
    kind = resource.get("Type") if isinstance(resource, dict) else None
    return kind if isinstance(kind, str) else ""


def _leaf_changes(before: Any, after: Any) -> tuple[ValueChange, ...]:
    """A resource's changes: its type first, then every attribute (Properties, DependsOn...)."""
    if before == after:
        return ()
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return tuple(value_changes(before, after, "Resource"))
    leaves = []
    if before.get("Type") != after.get("Type"):
        leaves.append(ValueChange("Type", "", before.get("Type"), after.get("Type")))
    for attribute in list(after) + [a for a in before if a not in after]:
        if attribute != "Type":
            leaves += value_changes(
                before.get(attribute, ABSENT), after.get(attribute, ABSENT), attribute
            )
    return tuple(leaves)


def _changed(
    logical_id: str, before: Any, after: Any, schema_region: str, mapped_in: list[str],
    old_mappings: dict, new_mappings: dict, conditions: dict[str, tuple[dict, dict]],
) -> ResourceChange | None:  # fmt: skip
    """A resource in the stack before and after: changed, replaced, or None if the same.
    `conditions` holds each region's condition values before and after, so that an
    `Fn::If` on a region condition (the writer or a replica database) is judged as it is
    in each region the resource is kept in."""
    leaves = _leaf_changes(before, after)
    kind = _resource_type(after)
    causes: tuple[str, ...] = ()
    if kind and kind == _resource_type(before):
        if leaves:
            found: dict[str, None] = {}  # ordered, without repeats
            for region in mapped_in:
                found.update(
                    dict.fromkeys(
                        replacement_causes(before, after, schema_region, *conditions[region])
                    )
                )
            causes = tuple(found)
        if old_mappings != new_mappings:
            causes += mapped_replacement_causes(
                after, old_mappings, new_mappings, schema_region, mapped_in
            )
    elif leaves:
        causes = ("Type",)
    if not (leaves or causes):
        return None
    return ResourceChange(logical_id, "changed", kind or _resource_type(before), leaves, causes)


def _resource_changes(
    old: dict, new: dict, schema_region: str, regions: list[str]
) -> list[ResourceChange]:
    """Resource changes of a stack that runs in `regions` (one, or a stack set's), each
    resource judged by its condition's value in each region."""
    old_resources, new_resources = _section(old, "Resources"), _section(new, "Resources")
    old_mappings, new_mappings = _section(old, "Mappings"), _section(new, "Mappings")
    conditions = {
        region: (condition_values(old, region), condition_values(new, region)) for region in regions
    }
    # Per region: whether each resource exists there before and after.
    present = [
        (region, present_resources(old, region), present_resources(new, region))
        for region in regions
    ]
    changes: list[ResourceChange] = []
    for logical_id in list(new_resources) + [i for i in old_resources if i not in new_resources]:
        before = old_resources.get(logical_id, ABSENT)
        after = new_resources.get(logical_id, ABSENT)
        kind = _resource_type(after) or _resource_type(before)
        kept_in = [
            region for region, was, now in present if logical_id in was and logical_id in now
        ]
        if kept_in:
            change = _changed(
                logical_id, before, after, schema_region, kept_in, old_mappings, new_mappings,
                conditions,
            )  # fmt: skip
            if change:
                changes.append(change)
        elif any(logical_id in now for _, _, now in present):
            changes.append(ResourceChange(logical_id, "added", kind))
        elif any(logical_id in was for _, was, _ in present):
            changes.append(ResourceChange(logical_id, "removed", kind))
        elif before != after and present:
            # Written into or out of the template, but created in none of its regions.
            holder = after if isinstance(after, dict) else before
            condition = holder.get("Condition", "") if isinstance(holder, dict) else ""
            changes.append(
                ResourceChange(
                    logical_id,
                    "inactive",
                    kind,
                    condition=str(condition),
                    inactive_in=tuple(region for region, _, _ in present),
                )
            )
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
    old: dict, new: dict, region: str, regions: list[str] | None = None
) -> tuple[list[ResourceChange], list[EntryChange]]:
    """Resources, then every other section (Parameters, Outputs, Mappings, ...).

    `regions` are where the stack runs, for its resources' conditions ([region] by
    default); `region` also picks the resource provider schemas that say what replaces."""
    resources = _resource_changes(old, new, region, [region] if regions is None else regions)
    entries: list[EntryChange] = []
    for section in list(new) + [s for s in old if s not in new]:
        if section != "Resources":
            entries += _entry_changes(section, old.get(section, ABSENT), new.get(section, ABSENT))
    return resources, entries


# Far above any template CloudFormation takes (1 MB from S3): a file larger than this in
# the compared directory is not read whole.
MAX_TEMPLATE_BYTES = 10_000_000


@dataclass(frozen=True)
class _StackOnDisk:
    path: str
    stack_name: str
    kind: str = ""  # global | region | stackset, as the manifest says; "" when unknown
    region: str = ""


def _kind_and_region(path: str) -> tuple[str, str]:
    """For templates without a manifest entry: what `assemble` names its templates."""
    parts = path.split("/")
    if path == "stackset.json":
        return "stackset", ""
    if len(parts) == 2 and parts[0] == "regions" and parts[1].endswith(".json"):
        return "region", parts[1].removesuffix(".json")
    return "", ""


def stacks_on_disk(against: Path) -> list[_StackOnDisk]:
    """The templates of an earlier compile: those its manifest lists, else every JSON file.

    The manifest is what separates templates from the other files a compile writes
    (manifest.json, bootstrap.json, deploy.sh) and from unrelated files in the directory.
    """
    manifest = against / MANIFEST
    try:
        entries = json.loads(read_bounded(manifest, MAX_TEMPLATE_BYTES))["stacks"]
        return [
            _StackOnDisk(
                e["template"],
                e.get("stack_name", ""),
                str(e.get("kind") or _kind_and_region(e["template"])[0]),
                str(e.get("region") or _kind_and_region(e["template"])[1]),
            )
            for e in entries
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        pass  # no manifest, or not one a compile wrote: every JSON file then
    except (NotARegularFile, InputTooLarge):
        pass
    if not against.is_dir():
        return []
    paths = [p.relative_to(against).as_posix() for p in sorted(against.rglob("*.json"))]
    return [
        _StackOnDisk(path, "", *_kind_and_region(path))
        for path in paths
        if path.rsplit("/", 1)[-1] != MANIFEST
        and path != BOOTSTRAP_TEMPLATE  # deploy.sh's own stack, not one of the spec's
        and (against / path).is_file()
    ]


def _instances(old: dict | None, new: dict | None) -> tuple[list[InstanceChange], list[str]]:
    """A stack set's instances that come and go, and the regions it keeps."""
    before = mapped_regions(old) if old is not None else []
    after = mapped_regions(new) if new is not None else []
    changes = [
        InstanceChange(r, "added", len(present_resources(new or {}, r)))
        for r in after
        if r not in before
    ]
    changes += [
        InstanceChange(r, "removed", len(present_resources(old or {}, r)))
        for r in before
        if r not in after
    ]
    return changes, [r for r in after if r in before]


def _whole_stack(stack: StackDiff, template: dict, kind: str, region: str) -> StackDiff:
    """A stack that is only compiled, or only on disk: all its resources come or go."""
    if kind == "stackset":
        old, new = (None, template) if stack.status == "added" else (template, None)
        stack.instances = _instances(old, new)[0]
    else:
        stack.resources = [
            ResourceChange(logical_id, stack.status, _resource_type(resource))
            for logical_id, resource in present_resources(template, region).items()
        ]
    return stack


def _not_a_template(old: Any) -> str | None:
    """What makes a hand-edited file unreadable as a template, at the levels the diff
    walks (it compares anything below these as values)."""
    if not isinstance(old, dict):
        return "not a JSON object"
    resources, mappings = old.get("Resources", {}), old.get("Mappings", {})
    if not isinstance(resources, dict):
        return "Resources is not an object"
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            return f"Resources.{logical_id} is not an object"
        if not isinstance(resource.get("Properties", {}), dict | None):
            return f"Resources.{logical_id}.Properties is not an object"
    if not isinstance(mappings, dict) or not all(
        isinstance(top, dict) and all(isinstance(second, dict) for second in top.values())
        for top in mappings.values()
    ):
        return "Mappings is not an object of objects of objects"
    return None


def _diff_file(
    against: Path, file: RenderedFile, stack_name: str, kind: str, region: str
) -> StackDiff:
    on_disk = against / file.path
    new = json.loads(file.content)
    if not on_disk.is_file():
        return _whole_stack(
            StackDiff(file.path, stack_name, "added", note="not on disk"), new, kind, region
        )
    try:
        content = read_bounded(on_disk, MAX_TEMPLATE_BYTES)
    except InputTooLarge as error:
        return StackDiff(file.path, stack_name, "changed", note=f"on disk is {error.size}")
    if content == file.content:
        return StackDiff(file.path, stack_name, "unchanged")
    try:
        old = json.loads(content)
    except ValueError as error:
        return StackDiff(file.path, stack_name, "changed", note=f"on disk is not JSON: {error}")
    except RecursionError:
        return StackDiff(file.path, stack_name, "changed", note="on disk is JSON nested too deeply")
    problem = _not_a_template(old)
    if problem:
        return StackDiff(
            file.path, stack_name, "changed", note=f"on disk is not a template: {problem}"
        )
    instances: list[InstanceChange] = []
    regions = [region]
    if kind == "stackset":
        instances, regions = _instances(old, new)
    resources, entries = diff_template(old, new, region, regions)
    note = "" if resources or entries or instances else "same JSON, different formatting"
    return StackDiff(file.path, stack_name, "changed", resources, entries, note, instances)


def _removed_stack(against: Path, old: _StackOnDisk) -> StackDiff:
    stack = StackDiff(old.path, old.stack_name, "removed", note="on disk, no longer compiled")
    try:
        template = json.loads(read_bounded(against / old.path, MAX_TEMPLATE_BYTES))
    except (OSError, ValueError, RecursionError, NotARegularFile, InputTooLarge):
        return stack  # nothing to count; that the file goes is still reported
    if _not_a_template(template):
        return stack
    return _whole_stack(stack, template, old.kind, old.region)


def diff_against(
    spec_path: Path, against: Path | None = None, environment: str | None = None
) -> TemplatesDiff:
    """Compile `spec_path` in memory and compare each stack with its template under `against`
    (by default where `infra compile` writes the environment, see `environments.output_dir`).

    Raises `SpecError` for an invalid spec, like every command.
    """
    from compiler.environments import output_dir

    result = compile_in_memory(spec_path, environment)
    against = against or output_dir(result.loaded, result.spec)
    contents = {file.path: file for file in result.files}
    stacks = [
        _diff_file(against, contents[stack.path], stack.stack_name, stack.kind, stack.region)
        for stack in result.stacks
    ]
    compiled = {stack.path for stack in result.stacks}
    stacks += [
        _removed_stack(against, old)
        for old in stacks_on_disk(against)
        if old.path not in compiled and (against / old.path).is_file()
    ]
    return TemplatesDiff(against, stacks, _hazards(against, result.spec))


def _hazards(against: Path, spec) -> list[str]:
    from compiler.data_hazards import data_hazards, hazard_lines, read_previous_layout

    return hazard_lines(data_hazards(read_previous_layout(against), spec))


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


MARKS = {"added": "+", "removed": "-", "changed": "~", "unchanged": "=", "inactive": "·"}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _stack_header(stack: StackDiff) -> str:
    name = f" ({stack.stack_name})" if stack.stack_name else ""
    note = f": {stack.note}" if stack.note else ""
    if stack.status in ("added", "removed") and not stack.instances and stack.resources:
        verb = "a new stack of" if stack.status == "added" else "the stack goes with its"
        note += f"; {verb} {_plural(len(stack.resources), 'resource')}"
    return f"{MARKS[stack.status]} {stack.path}{name}{note}"


def _resource_lines(stack: StackDiff) -> list[str]:
    if stack.status in ("added", "removed"):
        return []  # the header counts them; `--json` lists them
    lines: list[str] = []
    for resource in stack.resources:
        label = f"{resource.logical_id} ({resource.resource_type})"
        if resource.status == "inactive":
            condition = f"condition {resource.condition}" if resource.condition else "its condition"
            lines.append(
                f"    {MARKS['inactive']} {label}: in the template, not created: "
                f"{condition} is false in {', '.join(resource.inactive_in)}"
            )
        elif resource.status != "changed":
            lines.append(f"    {MARKS[resource.status]} {label}")
        else:
            if resource.replaces:
                causes = ", ".join(resource.replaced_by)
                lines.append(f"    ! {label} is replaced: {causes} changed")
            lines += [
                "    " + _change_line(c, _resource_owner(resource.logical_id, c.attribute))
                for c in resource.changes
            ]
    return lines


def human_lines(diff: TemplatesDiff) -> list[str]:
    """The report `infra diff` prints: one block per stack, then a one-line summary."""
    lines: list[str] = []
    for stack in diff.stacks:
        lines.append(_stack_header(stack))
        for instance in stack.instances:
            what = "new stack instance" if instance.status == "added" else "stack instance deleted"
            lines.append(
                f"    {MARKS[instance.status]} {instance.region}: {what}, "
                f"{_plural(instance.resources, 'resource')}"
            )
        lines += _resource_lines(stack)
        for entry in stack.entries:
            owner = f"{entry.section}.{entry.name}" if entry.name else entry.section
            if entry.status != "changed":
                lines.append(f"    {MARKS[entry.status]} {owner}")
                continue
            lines += ["    " + _change_line(c, owner) for c in entry.changes]
    lines += [f"! {hazard}" for hazard in diff.hazards]
    lines.append(summary_line(diff))
    return lines


def resource_counts(diff: TemplatesDiff) -> dict[str, int]:
    """Resources added, removed, changed and replaced over every stack, a new or deleted
    stack instance counting all its resources; `inactive` ones count nowhere."""
    resources = [r for s in diff.stacks if s.different for r in s.resources]
    instances = [i for s in diff.stacks for i in s.instances]
    counts = {
        status: sum(1 for r in resources if r.status == status)
        + sum(i.resources for i in instances if i.status == status)
        for status in ("added", "removed")
    }
    counts["changed"] = sum(1 for r in resources if r.status == "changed")
    counts["replaced"] = sum(1 for r in resources if r.replaces)
    return counts


def stateful_replacements(diff: TemplatesDiff) -> list[str]:
    """`stack: LogicalId (Type) replaced|removed` for each resource of a stateful type the
    change would replace or remove: what deploy.sh's stack policy refuses to update
    without --allow-stateful-changes, and what `--fail-on-replace` stops CI on."""
    found = []
    for stack in diff.stacks:
        for resource in stack.resources:
            if resource.resource_type not in STATEFUL_TYPES:
                continue
            if resource.replaces or resource.status == "removed":
                what = "replaced" if resource.replaces else "removed"
                found.append(
                    f"{stack.stack_name}: {resource.logical_id} ({resource.resource_type}) {what}"
                )
    return found


def summary_line(diff: TemplatesDiff) -> str:
    changed = [s for s in diff.stacks if s.different]
    if not changed:
        return f"no differences: {len(diff.stacks)} templates match {diff.against}"
    counts = resource_counts(diff)
    comings = [
        _plural(sum(1 for s in changed if s.status == status and not s.instances), "stack")
        + f" {status}"
        for status in ("added", "removed")
        if any(s.status == status and not s.instances for s in changed)
    ]
    comings += [
        _plural(
            sum(1 for s in changed for i in s.instances if i.status == status), "StackSet instance"
        )
        + f" {status}"
        for status in ("added", "removed")
        if any(i.status == status for s in changed for i in s.instances)
    ]
    stacks = f"{', '.join(comings)}; " if comings else ""
    return (
        f"{len(changed)} of {len(diff.stacks)} templates differ from {diff.against}: {stacks}"
        f"{counts['added']} resources added, {counts['removed']} removed, "
        f"{counts['changed']} changed ({counts['replaced']} replaced)"
    )


# How `deploy.sh plan --expect` names a change, as CloudFormation's change sets do.
_EXPECTED_ACTIONS = {"added": "Add", "removed": "Remove", "changed": "Modify"}


def expected_changes(diff: TemplatesDiff) -> str:
    """The prediction `deploy.sh plan --expect FILE` compares each change set with: one
    `STACK<TAB>LOGICAL_ID<TAB>ACTION` line per resource (Add, Modify, Replace, Remove),
    `STACK<TAB>-<TAB>None` for a stack with no resource change, so that the shell compares
    plain words. StackSets are left out: CloudFormation makes no change set for them."""
    lines = [
        "# infra diff --expected-changes: what deploy.sh plan --expect compares each change set",
        f"# with; the templates this was compared against: {diff.against}",
    ]
    for stack in diff.stacks:
        if not stack.stack_name or stack.instances or _kind_and_region(stack.path)[0] == "stackset":
            continue
        active = [r for r in stack.resources if r.status in _EXPECTED_ACTIONS]
        for resource in active:
            action = "Replace" if resource.replaces else _EXPECTED_ACTIONS[resource.status]
            lines.append(f"{stack.stack_name}\t{resource.logical_id}\t{action}")
        if not active:
            lines.append(f"{stack.stack_name}\t-\tNone")
    return "\n".join(lines) + "\n"


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
                "instances": [
                    {"region": i.region, "status": i.status, "resources": i.resources}
                    for i in stack.instances
                ],
                "resources": [
                    {
                        "logical_id": r.logical_id,
                        "type": r.resource_type,
                        "status": r.status,
                        "replaces": r.replaces,
                        "replaced_by": list(r.replaced_by),
                        **(
                            {"condition": r.condition, "inactive_in": list(r.inactive_in)}
                            if r.status == "inactive"
                            else {}
                        ),
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
