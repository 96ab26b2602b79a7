"""`infra check --format sarif`: the report as SARIF 2.1.0, for code-scanning UIs.

One run per tool that ran (GitHub code scanning keeps runs apart by tool name). Every
result points at the spec file, line and column, with the spec key as its logical
location and the templates it was found in as properties. A waived finding carries a
suppression with the reason: `inSource` for the spec's waivers, `external` for the
compiler's own, so a code-scanning UI lists it as dismissed with that justification.
No timestamps or absolute paths: the same spec gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from urllib.parse import quote

from compiler.check import CheckReport
from compiler.check.findings import BUILT_IN, CFN_LINT, CHECKOV, Finding
from compiler.errors import format_spec_path

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION = {
    CFN_LINT: "https://github.com/aws-cloudformation/cfn-lint",
    CHECKOV: "https://www.checkov.io/",
}


def artifact_uri(file: str) -> str:
    """The spec's path as given, as a URI: relative to where the command ran (what a
    code-scanning upload from the repository root needs), or a file: URI if absolute."""
    path = PurePath(file)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def sarif_document(report: CheckReport) -> dict:
    runs = []
    for tool in (CFN_LINT, CHECKOV):
        if tool in report.tools:
            mine = [finding for finding in report.findings if finding.tool == tool]
            runs.append(_run(tool, report.tools[tool], mine))
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def sarif_text(report: CheckReport) -> str:
    return json.dumps(sarif_document(report), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _run(tool: str, version: str, findings: list[Finding]) -> dict:
    rule_ids = sorted({finding.rule for finding in findings})
    rules = [_rule(rule, [f for f in findings if f.rule == rule]) for rule in rule_ids]
    return {
        "tool": {
            "driver": {
                "name": tool,
                "version": version,
                "informationUri": INFORMATION[tool],
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(finding, rule_ids.index(finding.rule)) for finding in findings],
    }


def _rule(rule: str, findings: list[Finding]) -> dict:
    described: dict = {"id": rule}
    if findings[0].tool == CHECKOV:  # a check's name describes it; cfn-lint's messages vary
        described["shortDescription"] = {"text": findings[0].message}
    help_uri = next((f.help_uri for f in findings if f.help_uri), None)
    if help_uri:
        described["helpUri"] = help_uri
    return described


def _result(finding: Finding, rule_index: int) -> dict:
    spec = finding.spec
    result: dict = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": finding.level,
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(spec.file)},
                    "region": {"startLine": spec.line, "startColumn": spec.column},
                },
                "logicalLocations": [
                    {"fullyQualifiedName": format_spec_path(spec.path), "kind": "member"}
                ],
            }
        ],
        "properties": {
            "templates": [f"{place.template}:{place.line}" for place in finding.places],
            **({"resource": finding.resource} if finding.resource else {}),
        },
    }
    waiver = finding.waiver
    if waiver is not None:
        suppression: dict = {
            "kind": "external" if waiver.source == BUILT_IN else "inSource",
            "status": "accepted",
            "justification": waiver.reason,
        }
        if waiver.location is not None:
            suppression["location"] = {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(waiver.location.file)},
                    "region": {
                        "startLine": waiver.location.line,
                        "startColumn": waiver.location.column,
                    },
                }
            }
        result["suppressions"] = [suppression]
    return result
