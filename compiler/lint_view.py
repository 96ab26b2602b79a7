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
region's own template has it (tests/test_assemble.py proves the resolution). Resources
that refer to one another across a pair of types some cfn-lint rule relates (a subnet
and its VPC: `lint_relations`) are copied for each region, and their copies refer to the
same region's copies, so that those rules see one region's values together. Every other
resource with lookups is copied once for all the regions whose values make the same
copy, referring to the original resources: cfn-lint knows another resource only by its
type and condition, which the original has as every copy does (the database, whose
password names the master secret, whose replica regions differ by region, is one copy
for all regions). A copy leaves out what cfn-lint checks on its own and the copy holds
as the original does, checked there in every region: the resource's Tags, for the types
whose Tags cfn-lint checks alone (`lint_relations.TAGS_VALIDATED_ALONE`), and in a
policy document (`lint_relations.POLICY_DOCUMENTS`) the statements that do not differ
from the original's, a finding in one of the others reported at the original's index
(`LintView.renumbered`). The copies come after the StackSet template's own resources (the last
section), which keep their lines; a finding on a copy is reported at the original
resource, for each region whose values the copy holds. The view grows by what differs
between regions, not by whole templates.

What the view does not check region by region (linting every regional template,
`infra compile --lint-every-template`, does):
- lookups outside the resources. The builders put them only in conditions that ask
  whether this is a given region (`Fn::Equals [Ref AWS::Region, lookup]`, guarded by
  tests/test_lint_view.py); a regional template has them resolved, and cfn-lint can then
  tell that two such conditions are one (an `Fn::If` branch no region reaches, W1028);
- values built from `AWS::Region` itself (`${AWS::Region}` in a name): cfn-lint resolves
  it to each linted region and accepts the value when one region's is valid, as with a
  lookup. The names the spec can make too long are refused before lint
  (`spec/consistency.py`, bucket names against the longest region name);
- a resource without lookups that a related rule pairs with one that has them (a
  subnet of a literal CIDR in a VPC of a mapped one). The builders map every subnet's
  CIDR, as they map the VPC's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from compiler import naming
from compiler.lint_relations import (
    ANY,
    POLICY_DOCUMENTS,
    TAGS,
    TAGS_VALIDATED_ALONE,
    identifier_properties,
    related,
)
from compiler.naming import REGION_MAP

_REGION_KEY = {"Ref": "AWS::Region"}


# Where the items of a copy's shortened lists were in the original's: {path of a list in
# the resource: the original's index of each item the copy's list holds}.
Renumbering = dict[tuple[str | int, ...], tuple[int, ...]]
# The same for each copy's logical ID.
Renumbered = Mapping[str, Mapping[tuple[str | int, ...], tuple[int, ...]]]


class LintView(NamedTuple):
    template: dict[str, Any]
    # copy's logical ID -> (original logical ID, the regions whose values it holds)
    copies: dict[str, tuple[str, tuple[str, ...]]]
    # where each copy's shortened lists' items were (`_differing_statements`)
    renumbered: Renumbered = MappingProxyType({})


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
            if isinstance(target, str) and target.split(".")[0] in renamed:  # "Vpc.CidrBlock"
                name, _, attribute = target.partition(".")
                return {"Fn::GetAtt": f"{renamed[name]}.{attribute}"}
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


def lint_view(
    template: dict[str, Any],
    regions: Iterable[str],
    copies_in: Iterable[str] | None = None,
) -> LintView:
    """`template` (a StackSet template) with the copies of the resources that hold a
    region lookup for `regions`; `template` itself is not changed. `copies_in`: the
    regions whose copies the view holds (all by default): a region's own copies, and
    each copy shared with other regions, the same (and of the same ID) whichever of its
    regions are asked for, so that two views of halves of the regions hold it alike."""
    resources: dict[str, Any] = template.get("Resources") or {}
    rows: dict[str, dict[str, Any]] = (template.get("Mappings") or {}).get(REGION_MAP) or {}
    # A region outside the mapping has no copies: the template's Rules refuse it.
    regions = [region for region in regions if region in rows]
    wanted = set(regions if copies_in is None else copies_in)
    holders = [name for name, resource in resources.items() if _holds_region_lookup(resource)]
    tied = _tied(resources, holders)
    ids = {(name, region): naming.logical_id(name, "lint", region) for name in holders
           for region in regions}  # fmt: skip
    if set(resources) & set(ids.values()):
        raise ValueError("lint copies would reuse a logical ID")
    # Each resource not tied to another is copied once for each set of regions whose
    # values make the same copy; the copy is named after the first of them.
    shared: dict[tuple[str, str], tuple[str, ...]] = {}  # (name, first region) -> regions
    made: dict[tuple[str, str], Any] = {}
    for name in holders:
        if name in tied:
            continue
        first: dict[str, str] = {}  # copy as JSON -> the first region that makes it
        for region in regions:
            copy = _trimmed(_resolved(resources[name], rows[region], {}), resources[name])
            key = first.setdefault(_dumped(copy[0]), region)
            shared[name, key] = (*shared.get((name, key), ()), region)
            made.setdefault((name, key), copy)
    copies: dict[str, tuple[str, tuple[str, ...]]] = {}
    renumbered: dict[str, Renumbering] = {}
    added: dict[str, Any] = {}
    for region in regions:
        renamed = {name: ids[name, region] for name in tied}
        for name in holders:
            if name in tied and region in wanted:
                copy = _trimmed(_resolved(resources[name], rows[region], renamed), resources[name])
                _depends_on(copy[0], renamed)
                covered: tuple[str, ...] = (region,)
            elif (name, region) in shared and wanted & set(shared[name, region]):
                copy, covered = made[name, region], shared[name, region]
            else:
                continue
            added[ids[name, region]] = copy[0]
            copies[ids[name, region]] = (name, covered)
            if copy[1]:
                renumbered[ids[name, region]] = copy[1]
    if not added:
        return LintView(template, {})
    view = dict(template)  # same key order: what comes before the copies keeps its lines
    view["Resources"] = {**resources, **added}
    return LintView(view, copies, renumbered)


def _without_own_tags(copy: Any, original: dict[str, Any]) -> Any:
    """`copy` without its Tags when they are the original's (no region lookup in them, no
    reference to a resource copied for each region) and cfn-lint validates the Tags of
    a resource of its type on their own (`TAGS_VALIDATED_ALONE`): cfn-lint checks the
    original's in every region, as it would the copy's."""
    properties = copy.get("Properties") if isinstance(copy, dict) else None
    if (
        not isinstance(properties, dict)
        or TAGS not in properties
        or original.get("Type") not in TAGS_VALIDATED_ALONE
        or properties[TAGS] != original["Properties"][TAGS]
    ):
        return copy
    return {**copy, "Properties": {key: value for key, value in properties.items() if key != TAGS}}


def _trimmed(copy: Any, original: dict[str, Any]) -> tuple[Any, Renumbering]:
    """`copy` without what cfn-lint checks on the original as it would on the copy: its
    Tags when they are the original's (`_without_own_tags`), and in its policy documents
    the statements that are the original's (`_differing_statements`), with where each
    statement left in a list was in the original's."""
    copy = _without_own_tags(copy, original)
    renumbered: Renumbering = {}
    for pattern in POLICY_DOCUMENTS.get(str(original.get("Type")), ()):
        for path in _paths(copy, original, pattern):
            document, own = _at(copy, path), _at(original, path)
            kept = _differing_statements(document, own)
            if kept is not None:
                copy = _replaced(
                    copy, (*path, "Statement"), [document["Statement"][i] for i in kept]
                )
                renumbered[(*path, "Statement")] = kept
    return copy, renumbered


def _differing_statements(document: Any, own: Any) -> tuple[int, ...] | None:
    """The indexes of the statements of a copy's policy `document` that differ from the
    original's (`own`), when some but not all do and each that does keeps its `Sid`:
    cfn-lint checks each statement alone but for the `Sid`s, which must be unique, and
    checks those on the original, whose `Sid`s these then are. None: keep them all."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    originals = own.get("Statement") if isinstance(own, dict) else None
    if not isinstance(statements, list) or not isinstance(originals, list):
        return None
    if len(statements) != len(originals):
        return None
    pairs = enumerate(zip(statements, originals, strict=True))
    kept = tuple(i for i, (mine, theirs) in pairs if mine != theirs)
    if not kept or len(kept) == len(statements):
        return None
    for i in kept:
        mine, theirs = statements[i], originals[i]
        if not isinstance(mine, dict) or not isinstance(theirs, dict):
            return None
        if mine.get("Sid") != theirs.get("Sid"):
            return None
    return kept


def _paths(copy: Any, original: Any, pattern: tuple[str, ...]) -> list[tuple[str | int, ...]]:
    """The paths `pattern` (ANY: each index of a list) names in both `copy` and `original`."""
    found: list[tuple[str | int, ...]] = [()]
    for step in pattern:
        following: list[tuple[str | int, ...]] = []
        for path in found:
            mine, theirs = _at(copy, path), _at(original, path)
            if step == ANY:
                if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
                    following += [(*path, i) for i in range(len(mine))]
            elif (
                isinstance(mine, dict)
                and isinstance(theirs, dict)
                and step in mine
                and step in theirs
            ):
                following.append((*path, step))
        found = following
    return found


def _at(node: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _replaced(node: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """`node` with the value at `path` replaced, its containers along the path copied
    (a copy's parts may be shared with other copies)."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(node, list):
        made = list(node)
    else:
        made = dict(node)
    made[step] = _replaced(node[step], rest, value)
    return made


def held_in_both(template: dict[str, Any], view: LintView, others: Iterable[str]) -> frozenset[str]:
    """The logical IDs that `view` (of some regions' copies, `lint_view`'s `copies_in`)
    shares with the view of the `others` regions' copies of the same template: the
    template's own resources, and each copy shared with one of `others` (the same under
    one ID in both). A copy made for one region alone is in its region's view only. What
    the other view holds, without making it (at 16 regions its copies are a tenth of a
    shared run's set-up)."""
    also = set(others)
    return frozenset(template.get("Resources") or {}).union(
        copy for copy, (_original, covered) in view.copies.items() if also.intersection(covered)
    )


def _tied(resources: dict[str, Any], holders: list[str]) -> set[str]:
    """The holders to copy for each region: those linked to another holder across a pair
    of types a cfn-lint rule relates, and those whose primary identifier (which E3019
    compares between resources) names another holder."""
    names = set(holders)
    tied: set[str] = set()
    for name in holders:
        resource = resources[name]
        links = _references(resource) & (names - {name})
        for other in links:
            if related(str(resource.get("Type")), str(resources[other].get("Type"))):
                tied |= {name, other}
        properties = resource.get("Properties")
        if links and isinstance(properties, dict):
            identifiers = identifier_properties(str(resource.get("Type")))
            compared = properties if identifiers is None else {
                key: value for key, value in properties.items() if key in identifiers
            }  # fmt: skip
            if _references(compared) & links:
                tied.add(name)
    return tied
