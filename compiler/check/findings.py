"""What `infra check` reports: findings of both tools in spec terms, and who waived them.

A tool reports the same finding once per template (each region's template, the StackSet
template); placed in the spec they are one finding, listed once with every template it
was found in (`merge_places`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.spec.checks import WaiverSpec
    from compiler.spec_map import SpecLocation

CFN_LINT, CHECKOV = "cfn-lint", "checkov"
BUILT_IN, IN_SPEC = "built-in", "spec"  # who waived a finding


@dataclass(frozen=True)
class Waiver:
    reason: str
    source: str  # IN_SPEC: the spec's `checks.waivers`; BUILT_IN: the compiler's own
    location: SpecLocation | None = None  # where a spec waiver is written


@dataclass(frozen=True)
class TemplatePlace:
    template: str  # relative to the output directory: regions/us-east-1.json
    line: int


@dataclass(frozen=True)
class Finding:
    tool: str  # CFN_LINT | CHECKOV
    rule: str  # E3012, CKV_AWS_18
    level: str  # SARIF's: error | warning | note
    message: str
    resource: str | None  # the logical ID it is about, when it is about one
    spec: SpecLocation  # the spec key that produced it (the document when none did)
    places: tuple[TemplatePlace, ...]
    waiver: Waiver | None = None
    help_uri: str | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    def sort_key(self) -> tuple:
        return (
            self.spec.line,
            self.spec.column,
            self.tool,
            self.rule,
            self.resource or "",
            self.message,
            self.places,
        )


def merge_places(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per spec location, tool, rule, resource, message and waiver, with the
    templates of all; sorted by where the spec says it."""
    merged: dict[tuple, list[TemplatePlace]] = {}
    first: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.spec, finding.tool, finding.rule, finding.level, finding.message,
               finding.resource, finding.waiver)  # fmt: skip
        first.setdefault(key, finding)
        merged.setdefault(key, []).extend(finding.places)
    result = [
        replace(first[key], places=tuple(sorted(set(places), key=lambda p: (p.template, p.line))))
        for key, places in merged.items()
    ]
    return sorted(result, key=Finding.sort_key)


def waiver_for(
    finding: Finding, waivers: Sequence[WaiverSpec], locations: Sequence[SpecLocation]
) -> Waiver | None:
    """The spec waiver that covers `finding`: one for its resource before one for every
    resource. Only checkov checks can be waived (see compiler/spec/checks.py)."""
    if finding.tool != CHECKOV:
        return None
    matches = [
        index
        for index, waiver in enumerate(waivers)
        if waiver.id == finding.rule and waiver.resource in (None, finding.resource)
    ]
    if not matches:
        return None
    index = min(matches, key=lambda i: (waivers[i].resource is None, i))
    return Waiver(waivers[index].reason, IN_SPEC, locations[index])


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[WaiverSpec], locations: Sequence[SpecLocation]
) -> tuple[list[Finding], list[int]]:
    """`findings` with the spec's waivers applied (a finding the compiler waived keeps its
    built-in waiver), and the indexes of the waivers that waived nothing."""
    used: set[int] = set()
    result = []
    for finding in findings:
        waiver = finding.waiver or waiver_for(finding, waivers, locations)
        if waiver is not None and waiver.source == IN_SPEC and waiver.location is not None:
            used.add(locations.index(waiver.location))
        result.append(replace(finding, waiver=waiver))
    return result, [index for index in range(len(waivers)) if index not in used]
