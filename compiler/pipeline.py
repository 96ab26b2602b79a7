"""The compiler as one function per command, stages in order:

    load -> validate -> assemble (builders) -> render -> write -> lint

Each stage is a module of its own; this file only wires them, the way stacker's
config pipeline reads as render -> parse -> validate -> load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.load import load_spec_file
from compiler.spec import InfraSpec, validate_spec
from compiler.write import write_output

if TYPE_CHECKING:
    from compiler.assemble import StackTemplate
    from compiler.lint import LintFinding
    from compiler.render import RenderedFile

# Later stages are imported where they run: `infra validate` never needs troposphere
# and the builders, nor `--no-lint` cfn-lint, and start-up time is what users feel most.


@dataclass
class CompileResult:
    spec: InfraSpec
    stacks: list[StackTemplate]
    files: list[RenderedFile]
    lint_findings: list[LintFinding] = field(default_factory=list)
    linted: bool = False


def load_and_validate(spec_path: Path) -> InfraSpec:
    """Stages 1-2; raises `SpecError` with every problem of the spec."""
    return validate_spec(load_spec_file(spec_path))


def compile_in_memory(spec_path: Path) -> CompileResult:
    """Stages 1-4: everything but touching the output directory."""
    from compiler.assemble import assemble
    from compiler.render import render

    spec = load_and_validate(spec_path)
    stacks = assemble(spec)
    return CompileResult(spec=spec, stacks=stacks, files=render(stacks))


def compile_spec(
    spec_path: Path, out_dir: Path, *, lint: bool = True, lint_cache: bool = True
) -> CompileResult:
    """All stages. A spec error raises before anything is written."""
    result = compile_in_memory(spec_path)
    write_output(result.files, out_dir)
    if lint:
        from compiler.lint import LintJob, default_cache_dir, lint_templates

        jobs = [
            LintJob(out_dir / stack.path, tuple(lint_regions(result.spec, stack)))
            for stack in result.stacks
        ]
        result.lint_findings = lint_templates(
            jobs, cache_dir=default_cache_dir() if lint_cache else None
        )
        result.linted = True
    return result


def lint_regions(spec: InfraSpec, stack: StackTemplate) -> list[str]:
    """A StackSet template is checked against every region it may be instantiated in."""
    if stack.kind == "stackset":
        return [region.name for region in spec.regions]
    return [stack.region]
