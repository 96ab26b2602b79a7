"""`check.sarif`: where results point and how waivers become suppressions (the schema
validation of a real report is in test_check.py)."""

from __future__ import annotations

from compiler.check import CheckReport
from compiler.check.findings import BUILT_IN, CHECKOV, IN_SPEC, Finding, TemplatePlace, Waiver
from compiler.check.sarif import artifact_uri, sarif_document
from compiler.spec_map import SpecLocation

SPEC = SpecLocation("deploy/infra.yaml", 76, 13, ("database", "multi_az"))
WAIVER_AT = SpecLocation("deploy/infra.yaml", 150, 7, ("checks", "waivers", 0))


def test_spec_paths_become_uris():
    assert artifact_uri("deploy/infra.yaml") == "deploy/infra.yaml"
    assert artifact_uri("my specs/infra.yaml") == "my%20specs/infra.yaml"
    assert artifact_uri("/srv/app/infra.yaml") == "file:///srv/app/infra.yaml"


def checkov_finding(rule: str, waiver: Waiver | None) -> Finding:
    return Finding(CHECKOV, rule, "error", f"Ensure {rule}", "Database", SPEC,
                   (TemplatePlace("stackset.json", 3838),), waiver)  # fmt: skip


def test_waivers_are_suppressions_with_their_reason_and_rules_are_indexed():
    findings = [
        checkov_finding("CKV_AWS_16", Waiver("built in", BUILT_IN)),
        checkov_finding("CKV_AWS_157", Waiver("one instance", IN_SPEC, WAIVER_AT)),
        checkov_finding("CKV_AWS_293", None),
    ]
    report = CheckReport("deploy/infra.yaml", findings, {CHECKOV: "3.3.30"})
    (run,) = sarif_document(report)["runs"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        "CKV_AWS_157", "CKV_AWS_16", "CKV_AWS_293",
    ]  # fmt: skip
    built_in, in_spec, failed = run["results"]
    assert [r["ruleIndex"] for r in run["results"]] == [1, 0, 2]
    assert built_in["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "built in"}
    ]
    (suppression,) = in_spec["suppressions"]
    assert suppression["kind"] == "inSource" and suppression["justification"] == "one instance"
    assert suppression["location"]["physicalLocation"]["region"] == {
        "startLine": 150, "startColumn": 7,
    }  # fmt: skip
    assert "suppressions" not in failed
    assert failed["properties"] == {"templates": ["stackset.json:3838"], "resource": "Database"}
