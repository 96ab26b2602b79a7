"""`check.findings`: one finding per spec location across templates, and which spec
waiver covers which finding."""

from __future__ import annotations

from compiler.check.findings import (
    BUILT_IN,
    CFN_LINT,
    CHECKOV,
    IN_SPEC,
    Finding,
    TemplatePlace,
    Waiver,
    apply_waivers,
    merge_places,
)
from compiler.spec.checks import WaiverSpec
from compiler.spec_map import SpecLocation

MULTI_AZ = SpecLocation("infra.yaml", 76, 13, ("database", "multi_az"))
DATABASE = SpecLocation("infra.yaml", 71, 1, ("database",))


def finding(template: str, *, rule="CKV_AWS_157", tool=CHECKOV, resource="Database",
            spec=MULTI_AZ, waiver=None) -> Finding:  # fmt: skip
    return Finding(tool, rule, "error", "Ensure Multi-AZ", resource, spec,
                   (TemplatePlace(template, 40),), waiver)  # fmt: skip


def waiver_at(index: int, **fields) -> tuple[WaiverSpec, SpecLocation]:
    spec = WaiverSpec(**{"reason": f"reason {index}", **fields})
    return spec, SpecLocation("infra.yaml", 150 + index, 7, ("checks", "waivers", index))


def test_the_same_finding_in_several_templates_is_one_with_every_place():
    found = [finding("stackset.json"), finding("regions/us-west-2.json"),
             finding("regions/us-east-1.json"), finding("regions/us-east-1.json", spec=DATABASE)]  # fmt: skip
    merged = merge_places(found)
    assert [(f.spec, [p.template for p in f.places]) for f in merged] == [
        (DATABASE, ["regions/us-east-1.json"]),
        (MULTI_AZ, ["regions/us-east-1.json", "regions/us-west-2.json", "stackset.json"]),
    ]


def test_a_waiver_for_the_resource_wins_over_one_for_every_resource():
    everywhere, on_database = waiver_at(0, id="CKV_AWS_157"), waiver_at(1, id="CKV_AWS_157",
                                                                         resource="Database")  # fmt: skip
    waivers, locations = zip(everywhere, on_database, strict=True)
    result, unused = apply_waivers(
        [finding("a.json"), finding("a.json", resource="Replica")], waivers, locations
    )
    assert [(f.resource, f.waiver) for f in result] == [
        ("Database", Waiver("reason 1", IN_SPEC, on_database[1])),
        ("Replica", Waiver("reason 0", IN_SPEC, everywhere[1])),
    ]
    assert unused == []


def test_a_waiver_of_another_check_or_resource_waives_nothing_and_is_unused():
    waivers, locations = zip(waiver_at(0, id="CKV_AWS_16"),
                             waiver_at(1, id="CKV_AWS_157", resource="Other"), strict=True)  # fmt: skip
    result, unused = apply_waivers([finding("a.json")], waivers, locations)
    assert [f.waiver for f in result] == [None]
    assert unused == [0, 1]


def test_cfn_lint_findings_are_never_waived():
    waivers, locations = zip(waiver_at(0, id="CKV_AWS_157"), strict=True)
    result, unused = apply_waivers([finding("a.json", tool=CFN_LINT)], waivers, locations)
    assert result[0].waiver is None and unused == [0]


def test_a_built_in_waiver_stays_built_in():
    built_in = Waiver("the compiler's reason", BUILT_IN)
    waivers, locations = zip(waiver_at(0, id="CKV_AWS_157"), strict=True)
    result, unused = apply_waivers([finding("a.json", waiver=built_in)], waivers, locations)
    assert result[0].waiver == built_in and unused == [0]
