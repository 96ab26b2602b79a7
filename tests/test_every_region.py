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
(tests/test_examples.py), so a rerun lints only what changed. The StackSet templates are
never clean on their own: their lint view has raw findings that the compile drops
(`confirmed_in_region`). What is remembered for them is the outcome the test asserts, no
finding left once confirmed (`confirmed_clean_marker`), so an unchanged set of templates
is not linted again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

import compiler
from compiler.caches import is_empty_entry
from compiler.lint import LintJob, clean_marker, lint_templates
from compiler.pipeline import compile_spec, confirmed_in_region, lint_regions
from compiler.spec.regions import alb_log_delivery, az_count, commercial_regions
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.security.test_checkov import checkov_scan

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


# The code between the templates on disk and the findings the compile keeps: cfn-lint's
# version and our rule configuration are in `clean_marker`, this is the rest.
LINT_SOURCES = (
    "lint.py",
    "lint_view.py",
    "lint_relations.py",
    "lint_processes.py",
    "cfn_lint_shortcuts.py",
    "json_text.py",
    "pipeline.py",
)


def confirmed_clean_marker(jobs: list[LintJob], batches: list, cache_dir: Path) -> Path:
    """Where "linting these jobs left no finding once confirmed in each region" is kept.
    Keyed by everything the outcome depends on: each job's clean-marker key (its bytes,
    its regions, the cfn-lint version, our rule configuration and lint scheme), every
    regional template `confirmed_in_region` may lint instead, keyed the same way, and the
    source of our lint, lint view and pipeline modules."""
    digest = hashlib.sha256()
    for job in jobs:
        digest.update(clean_marker(job, cache_dir).name.encode())
    for result in batches:
        for stack in result.stacks:
            regional = LintJob(result.out_dir / stack.path, (stack.region,))
            key = clean_marker(regional, cache_dir).name if stack.kind == "region" else ""
            digest.update(json.dumps([stack.kind, stack.path, stack.region, key]).encode())
    package = Path(compiler.__file__).parent
    for name in LINT_SOURCES:
        digest.update((package / name).read_bytes())
    return cache_dir / f"{digest.hexdigest()}.confirmed-clean"


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
    marker = confirmed_clean_marker(jobs, batches, lint_cache) if lint_cache else None
    if marker and is_empty_entry(marker):
        return  # these very templates passed the assertion below with this cfn-lint and code
    findings = lint_templates(jobs, cache_dir=lint_cache)
    for result in batches:  # as compile reports them (`pipeline.confirmed_in_region`)
        findings = confirmed_in_region(findings, result.stacks, result.out_dir)
    assert findings == [], "\n".join(str(f) for f in findings)
    if marker:
        marker.touch()


def test_specs_in_newer_regions_pass_checkov(tmp_path: Path, checkov_cache: Path | None):
    result = compiled(tmp_path / "spec", MIXED)
    scanned = checkov_scan(result.out_dir, checkov_cache)
    regional = {f"/regions/{name}.json" for name in MIXED}
    assert regional <= {check["file_path"] for check in scanned["passed_checks"]}
    failed = [
        f"{c['check_id']} {c['resource']} in {c['file_path']}: {c['check_name']}"
        for c in scanned["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)


def test_the_remembered_outcome_is_keyed_by_every_template_it_depends_on(tmp_path: Path):
    """A regional template `confirmed_in_region` could lint instead, a StackSet job's
    bytes or regions: each change is a new key, so an old outcome vouches for nothing."""
    result = compiled(tmp_path / "spec", ["us-east-1", "us-west-2"])
    (stackset,) = [stack for stack in result.stacks if stack.kind == "stackset"]
    job = LintJob(result.out_dir / stackset.path, ("us-east-1", "us-west-2"))
    cache = tmp_path / "cache"
    key = confirmed_clean_marker([job], [result], cache)
    assert key == confirmed_clean_marker([job], [result], cache)
    one_region = LintJob(job.path, ("us-east-1",))
    assert confirmed_clean_marker([one_region], [result], cache) != key
    regional = result.out_dir / "regions" / "us-west-2.json"
    regional.write_bytes(regional.read_bytes() + b"\n")
    assert confirmed_clean_marker([job], [result], cache) != key
