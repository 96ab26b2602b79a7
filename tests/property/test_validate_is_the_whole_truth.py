"""If `infra validate` passes, `compile` lints clean: for every example spec, and for
generated specs whose instance type, database class and PostgreSQL version are drawn from
everything AWS offers anywhere (deprecated versions included), not just what fits.

Specs the compiler refuses are skipped; those it accepts must lint with no finding. The
StackSet template is linted against every region of the spec (as `compile` does), so a
type missing in any one region would show. Linting costs seconds a template: a few
generated specs, and a lint cache kept in pytest's cache directory for the examples.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from compiler.errors import SpecError
from compiler.lint import LintJob, lint_templates
from compiler.pipeline import compile_spec, lint_regions, load_and_validate
from compiler.spec import offerings
from tests.builders.example import copy_example
from tests.fixtures.examples import examples
from tests.property.tally import COUNTS
from tests.property.valid_specs import REGIONS, valid_specs

pytestmark = pytest.mark.full  # hundreds of generated inputs: the full tier's

GENERATED_SPECS = 5
# The StackSet template is every regional template at once, linted against every region;
# the global template holds no instance, class or version (the examples lint it here too).
EXAMPLE_KINDS = ("stackset", "global")
GENERATED_KINDS = ("stackset",)


def all_known_versions() -> list[str]:
    """Versions the spec's pattern allows (1x.y): current ones and a few deprecated."""
    deprecated = {v for v in ("13.9", "14.6", "15.2", "16.1", "17.1") if offerings.is_deprecated(v)}
    known = offerings.engine_versions() | deprecated
    return sorted(v for v in known if re.fullmatch(r"1[3-9]\.\d+", v))


@st.composite
def offering_specs(draw: st.DrawFn) -> dict:
    """A valid spec with its EC2 type, RDS class and version drawn from what the first
    region offers (so that many fit) and from every version RDS knows (so that some,
    deprecated or missing elsewhere, do not)."""
    data = draw(valid_specs())
    first = data["regions"][0]["name"]
    data.setdefault("compute", {})["instance_type"] = draw(
        st.sampled_from(sorted(offerings.instance_types(first)))
    )
    database = data.get("database") or {}
    data["database"] = database
    database["instance_class"] = draw(st.sampled_from(sorted(offerings.db_instance_classes(first))))
    database["engine_version"] = draw(st.sampled_from(all_known_versions()))
    return data


def lint_jobs(
    spec_path: Path, out: Path, kinds: tuple[str, ...], environment: str | None = None
) -> list[LintJob]:
    result = compile_spec(spec_path, out, environment=environment, lint=False)
    return [
        LintJob(out / stack.path, tuple(lint_regions(result.spec, stack)))
        for stack in result.stacks
        if stack.kind in kinds
    ]


def test_every_example_that_validates_lints_clean(tmp_path, lint_cache):
    jobs = []
    for example in examples():
        for environment in example.environments():
            load_and_validate(example.spec, environment)  # raises if it did not validate
            out = tmp_path / example.name / (environment or "base")
            jobs += lint_jobs(example.spec, out, EXAMPLE_KINDS, environment)
    assert len(jobs) >= 2 * len(examples())
    findings = lint_templates(jobs, cache_dir=lint_cache)
    assert findings == [], "\n".join(str(finding) for finding in findings)


def test_generated_specs_that_validate_lint_clean(tmp_path_factory, tmp_path, lint_cache):
    spec_path = copy_example(tmp_path_factory.mktemp("offerings"))
    accepted: list[tuple[str, list[LintJob]]] = []
    refused: list[str] = []

    @settings(
        max_examples=GENERATED_SPECS * 8,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(offering_specs())
    def draw(data: dict) -> None:
        if len(accepted) >= GENERATED_SPECS:
            return
        text = yaml.safe_dump(data, sort_keys=False)
        spec_path.write_text(text, encoding="utf-8")
        try:
            load_and_validate(spec_path)
        except SpecError as error:
            refused.append(str(error))
            return
        out = tmp_path / f"spec-{len(accepted)}"
        accepted.append((text, lint_jobs(spec_path, out, GENERATED_KINDS)))

    draw()
    COUNTS["generated offering specs validated and linted"] += len(accepted)
    COUNTS["generated offering specs refused by validate"] += len(refused)
    assert len(accepted) == GENERATED_SPECS, refused[:3]
    jobs = [job for _, specs_jobs in accepted for job in specs_jobs]
    findings = lint_templates(jobs, cache_dir=lint_cache)
    texts = {job.path: text for text, specs_jobs in accepted for job in specs_jobs}
    assert findings == [], "\n".join(
        f"{finding}\n--- spec ---\n{texts[Path(finding.template)]}" for finding in findings
    )


def test_the_strategy_reaches_values_validate_refuses():
    # without refusals the test above would prove nothing about the checks
    regions = [r for r in REGIONS if offerings.instance_types(r)]
    assert any(
        offerings.instance_types(regions[0]) - offerings.instance_types(other)
        for other in regions[1:]
    )
    assert any(offerings.is_deprecated(v) for v in all_known_versions())
