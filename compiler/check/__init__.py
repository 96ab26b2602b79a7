"""`infra check`: cfn-lint and checkov on what the spec compiles to, reported in spec terms.

    compile in memory -> write the templates to a scratch directory -> cfn-lint (and
    checkov, when installed) -> place each finding on its spec key (`spec_map`) -> apply
    the spec's waivers -> report (text, or SARIF for code-scanning UIs)

The output directory is never touched: the check is of the spec as it is now, whatever
`templates_out/` holds. Findings the compiler itself waives in the templates
(`builders.skip_check`, with the reason) are reported as built-in waivers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.check.findings import (
    BUILT_IN,
    CFN_LINT,
    CHECKOV,
    Finding,
    TemplatePlace,
    Waiver,
    apply_waivers,
    merge_places,
)
from compiler.errors import CheckToolError

if TYPE_CHECKING:
    from compiler.check.checkov import CheckovResult
    from compiler.errors import SpecProblem
    from compiler.lint import LintFinding
    from compiler.pipeline import CompileResult
    from compiler.spec_map import SpecIndex

LEVELS = {"error": "error", "warning": "warning", "informational": "note"}  # cfn-lint -> SARIF


@dataclass
class CheckReport:
    spec_file: str
    findings: list[Finding]
    tools: dict[str, str]  # the tools that ran -> their version
    checkov_missing: bool = False  # not installed, so it did not run
    warnings: list[SpecProblem] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.waived]


def run_check(
    spec_path: Path,
    environment: str | None = None,
    *,
    checkov: Path | None = None,
    use_checkov: bool = True,
    require_checkov: bool = False,
    lint_cache: bool = True,
) -> CheckReport:
    """Check what `spec_path` compiles to. Raises `SpecError` for a spec with errors and
    `CheckToolError` when checkov was named (`checkov`) or required but is missing, or
    failed."""
    from compiler import pipeline
    from compiler.check import checkov as checkov_tool
    from compiler.lint import cfn_lint_version
    from compiler.spec_map import SpecIndex

    result = pipeline.compile_in_memory(spec_path, environment)
    program = checkov_tool.find_checkov(checkov) if use_checkov else None
    if use_checkov and program is None and require_checkov:
        # Before linting: the run fails anyway, and its report must not be written.
        raise CheckToolError(f"--require-checkov: {checkov_tool.INSTALL_HINT}")
    assert result.loaded is not None  # compile_in_memory sets it
    index = SpecIndex.build(result.spec, result.stacks, result.loaded, environment)
    tools = {CFN_LINT: cfn_lint_version()}
    with tempfile.TemporaryDirectory(prefix="infra-check-") as scratch:
        directory = Path(scratch)
        _write_templates(result, directory)
        findings = [
            cfn_lint_finding(finding, directory, index)
            for finding in _lint(result, directory, lint_cache)
        ]
        if program is not None:
            tools[CHECKOV] = checkov_tool.checkov_version(program)
            findings += [
                checkov_finding(found, index)
                for found in checkov_tool.run_checkov(program, directory)
            ]
    waivers = result.spec.checks.waivers
    locations = [index.locator.locate(("checks", "waivers", i)) for i in range(len(waivers))]
    findings, unused = apply_waivers(findings, waivers, locations)
    return CheckReport(
        spec_file=result.loaded.file,
        findings=merge_places(findings),
        tools=tools,
        checkov_missing=use_checkov and program is None,
        warnings=[
            *result.warnings,
            *_unused_waivers(unused, waivers, locations, program, findings),
        ],
    )


def _write_templates(result: CompileResult, directory: Path) -> None:
    """Only the templates: checkov scans every file under the directory it is given."""
    templates = {stack.path for stack in result.stacks}
    for file in result.files:
        if file.path in templates:
            target = directory / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.content)


def _lint(result: CompileResult, directory: Path, lint_cache: bool) -> list[LintFinding]:
    from compiler.lint import LintJob, default_cache_dir, lint_templates
    from compiler.pipeline import lint_regions

    jobs = [
        LintJob(directory / stack.path, tuple(lint_regions(result.spec, stack)))
        for stack in result.stacks
    ]
    return lint_templates(jobs, cache_dir=default_cache_dir() if lint_cache else None)


def cfn_lint_finding(finding: LintFinding, directory: Path, index: SpecIndex) -> Finding:
    template = Path(finding.template).relative_to(directory).as_posix()
    path = finding.path
    resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else None
    return Finding(
        tool=CFN_LINT,
        rule=finding.rule,
        level=LEVELS.get(finding.level, "warning"),
        message=finding.message,
        resource=resource,
        spec=index.locate(template, path) or index.locator.locate(()),
        places=(TemplatePlace(template, finding.line),),
    )


def checkov_finding(found: CheckovResult, index: SpecIndex) -> Finding:
    where: tuple[str | int, ...] = ()
    if found.resource:
        where = ("Resources", found.resource)
        if found.properties:
            where += ("Properties", *found.properties)
    waiver = None
    if found.skipped_because is not None:
        waiver = Waiver(found.skipped_because or "(no reason given)", BUILT_IN)
    return Finding(
        tool=CHECKOV,
        rule=found.check_id,
        level="error",  # checkov gives no severity without its vendor's platform
        message=found.check_name,
        resource=found.resource,
        spec=index.locate(found.template, where) or index.locator.locate(()),
        places=(TemplatePlace(found.template, found.line),),
        waiver=waiver,
        help_uri=found.guideline,
    )


def _unused_waivers(
    unused: list[int],
    waivers: Sequence,
    locations: Sequence,
    program: Path | None,
    findings: Sequence[Finding],
) -> list[SpecProblem]:
    """A waiver that waives nothing is stale (the weakness was fixed, or a typo in its
    resource), or repeats one of the compiler's own; told only when checkov ran, since
    only its findings can be waived."""
    from compiler.errors import SpecProblem

    if program is None:
        return []
    problems = []
    for number in unused:
        waiver, where = waivers[number], locations[number]
        on = f" on {waiver.resource}" if waiver.resource else ""
        built_in = any(
            finding.waiver is not None and finding.waiver.source == BUILT_IN
            and finding.rule == waiver.id and waiver.resource in (None, finding.resource)
            for finding in findings
        )  # fmt: skip
        why = (
            f"the compiler already waives {waiver.id}{on} (built-in)"
            if built_in
            else f"checkov reported no {waiver.id} finding{on}"
        )
        problems.append(
            SpecProblem(
                where.file,
                where.line,
                where.column,
                where.path,
                f"warning: waives nothing: {why}; remove the waiver",
            )  # fmt: skip
        )
    return problems
