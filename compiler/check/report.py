"""The text report of `infra check`: one line per finding, at the spec key behind it.

    infra.yaml:76:13: database.multi_az: checkov CKV_AWS_157: Ensure that RDS instances
      have Multi-AZ enabled [Database in regions/us-east-1.json:3626, stackset.json:3838]

(on one line), then the waived findings with who waived them and why, then a summary.
"""

from __future__ import annotations

from compiler.check import CheckReport
from compiler.check.findings import BUILT_IN, CFN_LINT, CHECKOV, Finding
from compiler.errors import one_line

# SARIF's `note` (which the findings carry) is what cfn-lint calls `informational`.
LEVEL_WORDS = {"note": "informational"}


def where_found(finding: Finding) -> str:
    places = ", ".join(f"{place.template}:{place.line}" for place in finding.places)
    return f"[{finding.resource} in {places}]" if finding.resource else f"[{places}]"


def finding_line(finding: Finding) -> str:
    """`FILE:LINE:COL: spec.path: tool RULE ...`: the spec location first, as every
    other located message of the compiler, so editors and CI annotate it."""
    what = f"{finding.tool} {finding.rule}"
    if finding.tool == CFN_LINT:
        what = f"{finding.tool} {LEVEL_WORDS.get(finding.level, finding.level)} {finding.rule}"
    line = f"{finding.spec}: {what}: {finding.message} {where_found(finding)}"
    waiver = finding.waiver
    if waiver is not None and waiver.source == BUILT_IN:
        line += f"; waived (built-in): {waiver.reason}"
    elif waiver is not None:
        written = f" at {waiver.location.file}:{waiver.location.line}" if waiver.location else ""
        line += f"; waived (spec{written}): {waiver.reason}"
    return one_line(line)


def text_lines(report: CheckReport) -> list[str]:
    """Failed findings first, then waived ones; each group in spec order."""
    lines = [finding_line(finding) for finding in report.failed]
    lines += [finding_line(finding) for finding in report.findings if finding.waived]
    lines.append(summary(report))
    return lines


def summary(report: CheckReport) -> str:
    parts = []
    for tool in (CFN_LINT, CHECKOV):
        if tool not in report.tools:
            parts.append(f"{tool}: not run")
            continue
        mine = [finding for finding in report.findings if finding.tool == tool]
        failed = sum(not finding.waived for finding in mine)
        in_spec = sum(bool(f.waiver and f.waiver.source != BUILT_IN) for f in mine)
        built_in = sum(bool(f.waiver and f.waiver.source == BUILT_IN) for f in mine)
        text = f"{tool}: {failed} finding{'s' if failed != 1 else ''}"
        if in_spec or built_in:
            text += f" ({in_spec} waived in the spec, {built_in} built-in waivers)"
        parts.append(text)
    return f"{report.spec_file}: " + "; ".join(parts)
