"""Every commercial region compiles and lints clean, and the regions opened since August
2022 pass checkov too.

Regions are compiled in batches of specs, since a spec holds at most 16 regions. Each
batch's StackSet template is linted in every region of the batch, as `infra compile`
lints it: cfn-lint checks resource types, instance types and engine versions per region,
and each region's mapped values through the lint view (`compiler/lint_view.py`); the
StackSet template resolves, region by region, to exactly the regional templates
(tests/test_assemble.py), so this covers each region's template (tests/test_lint_once.py
proves it no weaker) at a fraction of the cost of linting 34 of them. The regions issue
#12 names are linted as regional templates too, each in its own region.
Clean templates are remembered in pytest's cache like the examples'
(tests/test_examples.py), so a rerun lints only what changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compiler.lint import LintJob, lint_templates
from compiler.pipeline import compile_spec, confirmed_in_region, lint_regions
from compiler.spec.regions import alb_log_delivery, az_count, commercial_regions
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.security.test_checkov import merge_reports, run_checkov

# cfn-lint in every commercial region, and checkov: the full tier's
pytestmark = pytest.mark.full

BATCHES = 3
# The regions issue #12 names, all opened since August 2022, and one older region so
# that the StackSet template holds both ways of delivering ALB access logs.
NEWER_REGIONS = ["ca-west-1", "ap-southeast-4", "il-central-1", "mx-central-1"]
MIXED = ["us-east-1", *NEWER_REGIONS]


def spec_text(regions: list[str]) -> str:
    """The example spec moved to `regions`: latency routing (any number of regions), a
    created certificate in each, as many AZs as every region offers (three at most)."""
    data = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    data["regions"] = [{"name": name, "cidr": f"10.{i}.0.0/16"} for i, name in enumerate(regions)]
    data["dns"]["routing"] = "latency"
    data["network"]["availability_zones"] = min(3, *(az_count(name) for name in regions))
    del data["load_balancer"]["certificate_arns"]
    return yaml.safe_dump(data, sort_keys=False)


def compiled(directory: Path, regions: list[str]):
    spec = copy_example(directory, spec_text(regions))
    return compile_spec(spec, directory / "out", lint=False)


def test_the_regions_include_those_opened_since_august_2022():
    regions = commercial_regions()
    assert set(NEWER_REGIONS) <= set(regions)
    assert len(regions) >= 34  # cfn-lint 1.58 lists 34 commercial regions
    assert {alb_log_delivery(name).kind for name in regions} == {"account", "service"}


def test_every_region_compiles_and_lints_clean(tmp_path: Path, lint_cache: Path | None):
    regions = list(commercial_regions())
    jobs: list[LintJob] = []
    linted_regions: list[str] = []
    batches = []
    for index in range(BATCHES):
        result = compiled(tmp_path / f"batch{index}", regions[index::BATCHES])
        batches.append(result)
        (stackset,) = [stack for stack in result.stacks if stack.kind == "stackset"]
        batch = tuple(lint_regions(result.spec, stackset))
        linted_regions += batch
        jobs.append(LintJob(result.out_dir / stackset.path, batch))
    mixed = compiled(tmp_path / "mixed", MIXED)
    batches.append(mixed)
    for stack in mixed.stacks:
        if stack.kind == "region":
            jobs.append(LintJob(mixed.out_dir / stack.path, (stack.region,)))
        if stack.kind == "stackset":
            jobs.append(LintJob(mixed.out_dir / stack.path, tuple(lint_regions(mixed.spec, stack))))
    assert sorted(linted_regions) == regions
    assert {job.regions for job in jobs} >= {(name,) for name in MIXED}
    findings = lint_templates(jobs, cache_dir=lint_cache)
    for result in batches:  # as compile reports them (`pipeline.confirmed_in_region`)
        findings = confirmed_in_region(findings, result.stacks, result.out_dir)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_specs_in_newer_regions_pass_checkov(tmp_path: Path):
    result = compiled(tmp_path / "spec", MIXED)
    scanned = merge_reports(run_checkov(result.out_dir))
    regional = {f"/regions/{name}.json" for name in MIXED}
    assert regional <= {check["file_path"] for check in scanned["passed_checks"]}
    failed = [
        f"{c['check_id']} {c['resource']} in {c['file_path']}: {c['check_name']}"
        for c in scanned["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
