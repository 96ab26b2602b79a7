"""`check.report`: the text report's order, wording and summary."""

from __future__ import annotations

from compiler.check import CheckReport
from compiler.check.findings import (
    BUILT_IN,
    CFN_LINT,
    CHECKOV,
    IN_SPEC,
    Finding,
    TemplatePlace,
    Waiver,
)
from compiler.check.report import text_lines
from compiler.spec_map import SpecLocation

EARLY = SpecLocation("infra.yaml", 10, 3, ("compute", "instance_type"))
LATE = SpecLocation("infra.yaml", 76, 13, ("database", "multi_az"))
WAIVER_AT = SpecLocation("infra.yaml", 150, 7, ("checks", "waivers", 0))


def found(tool, rule, level, spec, waiver=None, resource="Database") -> Finding:
    return Finding(tool, rule, level, f"about {rule}", resource, spec,
                   (TemplatePlace("regions/us-east-1.json", 9),), waiver)  # fmt: skip


def test_failed_findings_first_then_waived_then_the_counts():
    report = CheckReport(
        "infra.yaml",
        [
            found(CHECKOV, "CKV_AWS_16", "error", EARLY, Waiver("by design", BUILT_IN)),
            found(CFN_LINT, "I3042", "note", EARLY, resource=None),
            found(
                CHECKOV, "CKV_AWS_157", "error", LATE, Waiver("one instance", IN_SPEC, WAIVER_AT)
            ),
            found(CHECKOV, "CKV_AWS_293", "error", LATE),
        ],
        {CFN_LINT: "1.58.0", CHECKOV: "3.3.30"},
    )
    assert text_lines(report) == [
        "infra.yaml:10:3: compute.instance_type: cfn-lint informational I3042: about I3042 "
        "[regions/us-east-1.json:9]",
        "infra.yaml:76:13: database.multi_az: checkov CKV_AWS_293: about CKV_AWS_293 "
        "[Database in regions/us-east-1.json:9]",
        "infra.yaml:10:3: compute.instance_type: checkov CKV_AWS_16: about CKV_AWS_16 "
        "[Database in regions/us-east-1.json:9]; waived (built-in): by design",
        "infra.yaml:76:13: database.multi_az: checkov CKV_AWS_157: about CKV_AWS_157 "
        "[Database in regions/us-east-1.json:9]; waived (spec at infra.yaml:150): one instance",
        "infra.yaml: cfn-lint: 1 finding; checkov: 1 finding (1 waived in the spec, "
        "1 built-in waivers)",
    ]


def test_a_tool_that_did_not_run_says_so():
    report = CheckReport("infra.yaml", [], {CFN_LINT: "1.58.0"}, checkov_missing=True)
    assert text_lines(report) == ["infra.yaml: cfn-lint: 0 findings; checkov: not run"]
