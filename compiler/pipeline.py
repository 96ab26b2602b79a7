"""The compiler as one function per command, stages in order:

    load -> validate -> (data hazards) -> assemble (builders) -> render -> write -> lint

Each stage is a module of its own; this file only wires them, the way stacker's
config pipeline reads as render -> parse -> validate -> load.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from compiler.assemble import StackTemplate
    from compiler.errors import SpecProblem
    from compiler.lint import LintFinding, LintJob
    from compiler.lint_processes import LintProcess
    from compiler.load import LoadedSpec
    from compiler.render import RenderedFile
    from compiler.spec import InfraSpec
    from compiler.write import Owner

# Stages are imported where they run: `infra validate` never needs troposphere and the
# builders, nor `--no-lint` cfn-lint, nor an unchanged compile even pydantic; start-up
# time is what users feel most.


@dataclass
class CompileResult:
    spec: InfraSpec
    stacks: list[StackTemplate]
    files: list[RenderedFile]
    lint_findings: list[LintFinding] = field(default_factory=list)
    linted: bool = False
    # What the compile replaced, for "changed since last compile": path -> old bytes.
    previous: dict[str, bytes | None] = field(default_factory=dict)
    lint_cached: set[str] = field(default_factory=set)  # stack paths the lint cache vouched for
    # Regional template -> the StackSet template whose lint in its region stands for its own.
    lint_via: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None  # where compile_spec wrote
    # What the user should know about the output directory (see `write.plan_output`).
    notes: list[str] = field(default_factory=list)
    # Every file the compile read, by absolute path as named (symlinks not resolved), with
    # the SHA-256 of the bytes it read: what `compile_cache` checks a later compile against.
    read: dict[str, str] = field(default_factory=dict)
    loaded: LoadedSpec | None = None  # the spec as read, for positions (`spec_map`)
    # What the spec quietly loses though it is legal (see spec/quiet_losses.py).
    warnings: list[SpecProblem] = field(default_factory=list)


def owner_of(spec: InfraSpec) -> Owner:
    from compiler.write import Owner

    return Owner(spec.project, spec.environment)


def load_and_validate(
    spec_path: Path,
    environment: str | None = None,
    warnings: list[SpecProblem] | None = None,
    *,
    hazards: bool = False,
    allow_data_loss: bool = False,
) -> InfraSpec:
    """Stages 1-2 for the base or one environment; raises `SpecError` with every problem.
    The spec's warnings are added to `warnings` if given. With `hazards`, also what it
    would destroy against the last compile in its default output directory (see
    `check_data_hazards`)."""
    loaded, spec = _loaded_and_validated(spec_path, environment, warnings)
    if hazards:
        from compiler.environments import output_dir

        found = check_data_hazards(
            loaded, environment, spec, output_dir(loaded, spec), allow_data_loss=allow_data_loss
        )
        if warnings is not None:
            warnings.extend(found)
    return spec


def check_data_hazards(
    loaded: LoadedSpec,
    environment: str | None,
    spec: InfraSpec,
    out_dir: Path,
    *,
    allow_data_loss: bool,
) -> list[SpecProblem]:
    """What deploying `spec` over the stacks of the last compile into `out_dir` would
    destroy (compiler/data_hazards.py), each located at its spec key. Errors raise
    `SpecError`, unless `allow_data_loss`, which turns them into warnings; the warnings
    are returned. Nothing to say when `out_dir` holds no manifest of this project's."""
    from compiler.data_hazards import data_hazards, read_previous_layout
    from compiler.environments import locate
    from compiler.errors import SpecError

    errors, warnings = [], []
    for hazard in data_hazards(read_previous_layout(out_dir), spec):
        if hazard.level == "error" and not allow_data_loss:
            message = f"{hazard.message} (compared with {out_dir}; --allow-data-loss to go on)"
            errors.append(locate(loaded, environment, hazard.path, message))
        else:
            allowed = " (allowed by --allow-data-loss)" if hazard.level == "error" else ""
            message = f"warning: {hazard.message}{allowed}"
            warnings.append(locate(loaded, environment, hazard.path, message))
    if errors:
        raise SpecError(errors)
    return warnings


def _loaded_and_validated(
    spec_path: Path, environment: str | None, warnings: list[SpecProblem] | None = None
) -> tuple[LoadedSpec, InfraSpec]:
    from compiler import environments
    from compiler.load import load_spec_file

    loaded = load_spec_file(spec_path)
    return loaded, environments.validate_environment(loaded, environment, warnings)


def validate_every_environment(
    spec_path: Path,
    warnings: list[SpecProblem] | None = None,
    *,
    hazards: bool = False,
    allow_data_loss: bool = False,
) -> dict[str | None, InfraSpec]:
    """Stages 1-2 for the base (key None) and each of its environments, problems of all at
    once; their warnings are added to `warnings` if given. With `hazards`, each is also
    checked against the last compile in its default output directory."""
    from compiler import environments
    from compiler.errors import SpecError
    from compiler.load import load_spec_file

    loaded = load_spec_file(spec_path)
    specs = environments.validate_every_environment(loaded, warnings)
    if not hazards:
        return specs
    problems: list[SpecProblem] = []
    for name, spec in specs.items():
        out_dir = environments.output_dir(loaded, spec)
        try:
            found = check_data_hazards(loaded, name, spec, out_dir, allow_data_loss=allow_data_loss)
        except SpecError as error:
            problems += error.problems
            continue
        if warnings is not None:
            warnings.extend(found)
    if problems:
        raise SpecError(problems)
    return specs


def compile_in_memory(spec_path: Path, environment: str | None = None) -> CompileResult:
    """Stages 1-4: everything but touching the output directory."""
    from compiler.assemble import assemble
    from compiler.render import RenderedFile, render
    from compiler.write import MARKER, marker_content

    warnings: list[SpecProblem] = []
    loaded, spec = _loaded_and_validated(spec_path, environment, warnings)
    stacks = assemble(spec)
    files = render(stacks, spec)
    # The marker that lets a later compile replace the directory (see `write.plan_output`).
    marker = marker_content(owner_of(spec), [file.path for file in files])
    files.append(RenderedFile(MARKER, marker))
    result = CompileResult(spec=spec, stacks=stacks, files=files, loaded=loaded, warnings=warnings)
    # The spec and the files it names (read relative to it, see spec.files).
    result.read[str(spec_path.absolute())] = loaded.sha256
    named = [task.source for task in spec.scheduled_tasks]
    if spec.compute.user_data:
        named.append(spec.compute.user_data)
    for path in named:
        code = path.code.encode("utf-8")  # decoded strictly: the same bytes
        result.read[str((spec_path.parent / path).absolute())] = sha256(code).hexdigest()
    return result


class UnchangedCompile(NamedTuple):
    out_dir: Path
    stacks: list[dict]  # stack_name, template, resources, size: as `remember` recorded them


def unchanged_compile(
    spec_path: Path, out_dir: Path | None = None, *, environment: str | None = None, lint: bool
) -> UnchangedCompile | None:
    """What the last `compile_spec(..., remember=True)` with these arguments left, if
    compiling again would write the same bytes (and with `lint`, they linted clean);
    None when a compile is needed. See `compile_cache`."""
    from compiler import compile_cache

    found = compile_cache.unchanged(spec_path, environment, out_dir, lint=lint)
    return UnchangedCompile(*found) if found else None


def compile_spec(
    spec_path: Path,
    out_dir: Path | None = None,
    *,
    environment: str | None = None,
    lint: bool = True,
    lint_cache: bool = True,
    lint_every_template: bool = False,
    remember: bool = False,
    force: bool = False,
    allow_data_loss: bool = False,
) -> CompileResult:
    """All stages. A spec error (`SpecError`) or an output directory that must not or
    cannot be replaced (`OutputError`) raises before anything is written. Without
    `out_dir`, the environment's default directory (see `environments.output_dir`).
    `force` replaces another project's output or files no compile wrote (never the
    directories `write.plan_output` protects). With `remember`, a later
    `unchanged_compile` with the same arguments can skip the work. A spec that would
    destroy data deployed over the last compile in the output directory raises
    `SpecError` unless `allow_data_loss` (see `check_data_hazards`). Lint checks the
    global and the StackSet template (in every spec region, see `lint_jobs`); with
    `lint_every_template`, each regional template on its own as well. cfn-lint gets
    ready in a process of its own while the templates are built (`start_lint_process`)."""
    with _lint_process(lint) as lint_process:
        from compiler import environments
        from compiler.summary import previous_output
        from compiler.write import check_not_protected, plan_output, write_output

        requested_out_dir = out_dir
        if out_dir is not None:  # answered at once, before the work (asked again below)
            check_not_protected(out_dir, spec_path)
        result = compile_in_memory(spec_path, environment)
        out_dir = result.out_dir = out_dir or environments.output_dir(result.loaded, result.spec)
        assert result.loaded is not None  # compile_in_memory sets it
        # Against the manifest this compile replaces: read before anything is written.
        result.warnings += check_data_hazards(
            result.loaded, environment, result.spec, out_dir, allow_data_loss=allow_data_loss
        )
        owner = owner_of(result.spec)
        plan = plan_output(
            out_dir,
            owner=owner,
            writes=[file.path for file in result.files],
            spec_path=spec_path,
            force=force,
        )
        result.notes = plan.notes
        result.previous = previous_output(out_dir, result.files)
        write_output(result.files, out_dir, keep=plan.keep, owner=owner, new=plan.new)
        if lint:
            from compiler.lint import default_cache_dir, known_clean, lint_templates

            jobs = lint_jobs(
                result.spec, result.stacks, out_dir, every_template=lint_every_template
            )
            cache_dir = default_cache_dir() if lint_cache else None
            result.lint_via = _linted_via(result.stacks, jobs, out_dir)
            cached = known_clean(jobs, cache_dir) if cache_dir else set()
            if cache_dir:
                result.lint_cached = {
                    s.path
                    for s in result.stacks
                    if out_dir / result.lint_via.get(s.path, s.path) in cached
                }
            if lint_process is None and any(job.path not in cached for job in jobs):
                # cfn-lint will run here. The templates are written: what is asked of them
                # from here on is each resource's type. Letting their troposphere objects go
                # before cfn-lint is imported lets it reuse that memory, and every lint run
                # forked afterwards starts that much smaller. (A lint process was forked
                # before the templates existed: its runs never held them.)
                result.stacks = [
                    stack._replace(template=_TypesOnly(stack.template)) for stack in result.stacks
                ]
                gc.collect()
            result.lint_findings = confirmed_in_region(
                lint_templates(jobs, cache_dir=cache_dir, process=lint_process),
                result.stacks,
                out_dir,
                lint_process,
            )
            if result.lint_findings:
                result.lint_findings = _in_spec_terms(result, out_dir, environment)
            result.linted = True
        # A spec with warnings is not remembered: an unchanged compile skips validation, and
        # the warnings must be printed by every compile until the spec is changed.
        if remember and not result.warnings:
            _remember(spec_path, environment, requested_out_dir, result)
        return result


@contextlib.contextmanager
def _lint_process(lint: bool) -> Iterator[LintProcess | None]:
    """With `lint`, the process in which cfn-lint gets ready while the compile builds the
    templates (`lint.start_lint_process`), ended when the compile ends, however it ends."""
    from compiler.interrupts import interrupts_deferred

    lint_process = None
    try:
        # A Ctrl-C while it is forked is delivered once it is known here, so that the
        # `finally` below ends it.
        with interrupts_deferred():
            if lint:
                from compiler.lint import start_lint_process

                lint_process = start_lint_process()
        yield lint_process
    finally:
        if lint_process is not None:
            lint_process.close()


class _TypesOnly:
    """What a compile reads of a written template after writing it: its resources' logical
    IDs and types (`resources[name].resource_type`), as troposphere's `Template` has them."""

    def __init__(self, template) -> None:
        self.resources = {
            name: _ResourceType(resource.resource_type)
            for name, resource in template.resources.items()
        }


class _ResourceType(NamedTuple):
    resource_type: str


def _in_spec_terms(
    result: CompileResult, out_dir: Path, environment: str | None
) -> list[LintFinding]:
    """The lint findings, each at the spec key that produced what it is about."""
    from compiler.lint import in_spec_terms
    from compiler.spec_map import SpecIndex

    assert result.loaded is not None  # compile_in_memory sets it
    index = SpecIndex.build(result.spec, result.stacks, result.loaded, environment)
    templates = {str(out_dir / stack.path): stack.path for stack in result.stacks}
    return in_spec_terms(
        result.lint_findings,
        lambda finding: index.locate(
            templates.get(finding.template, ""), finding.path, finding.region
        ),
    )


def _remember(
    spec_path: Path, environment: str | None, requested_out_dir: Path | None, result: CompileResult
) -> None:
    from compiler import compile_cache

    sizes = {file.path: len(file.content) for file in result.files}
    compile_cache.record(
        spec_path,
        environment,
        requested_out_dir,
        read=result.read,
        out_dir=result.out_dir,
        written=[(file.path, file.content, file.executable) for file in result.files],
        stacks=[
            {
                "stack_name": stack.stack_name,
                "template": stack.path,
                "resources": len(stack.template.resources),
                "size": sizes[stack.path],
            }
            for stack in result.stacks
        ],
        linted_clean=result.linted and not result.lint_findings,
    )


def lint_jobs(
    spec: InfraSpec, stacks: list[StackTemplate], out_dir: Path, *, every_template: bool = False
) -> list[LintJob]:
    """What to lint: the global template in its region and the StackSet template in every
    spec region, which checks each regional template (tests/test_lint_once.py proves it:
    a regional template is the StackSet template with one region's values, see
    `lint_view`); with `every_template`, each regional template as well. Last, deploy.sh's
    bootstrap template (`deploy_bootstrap`), in every region a stack goes to."""
    from compiler.deploy_bootstrap import BOOTSTRAP_TEMPLATE
    from compiler.lint import LintJob

    jobs = [
        LintJob(out_dir / stack.path, tuple(lint_regions(spec, stack)))
        for stack in stacks
        if every_template or stack.kind != "region"
    ]
    # deploy.sh's own stack: small, it lints beside the StackSet template in the time the
    # global one leaves (a process of its own, see `lint.run_jobs`).
    regions = dict.fromkeys(region for stack in stacks for region in lint_regions(spec, stack))
    return [*jobs, LintJob(out_dir / BOOTSTRAP_TEMPLATE, tuple(regions))]


def confirmed_in_region(
    findings: list[LintFinding],
    stacks: list[StackTemplate],
    out_dir: Path,
    lint_process: LintProcess | None = None,
) -> list[LintFinding]:
    """StackSet findings made for one region, replaced by what linting that region's own
    template finds. The lint view checks a region's copy of a resource in every region's
    context, and a region-dependent branch (a condition on `AWS::Region`) can then be
    taken that the region never takes; its own template is the ground truth. Only
    regions with such findings are linted again: nothing, when the lint is clean."""
    from compiler.lint import LintJob, lint_templates

    stacksets = {str(out_dir / s.path) for s in stacks if s.kind == "stackset"}
    regional = {s.region: out_dir / s.path for s in stacks if s.kind == "region"}
    suspect = {f.region for f in findings if f.template in stacksets and f.region in regional}
    if not suspect:
        return findings
    kept = [f for f in findings if not (f.template in stacksets and f.region in suspect)]
    jobs = [LintJob(regional[region], (region,)) for region in sorted(suspect)]
    linted = lint_templates(jobs, process=lint_process)
    return list(dict.fromkeys(kept + linted))  # once, if linted before too


def _linted_via(stacks: list[StackTemplate], jobs: list[LintJob], out_dir: Path) -> dict[str, str]:
    """Regional template -> the StackSet template, for each regional template not linted
    on its own: the StackSet template's lint in that region vouches for it."""
    linted = {job.path for job in jobs}
    stacksets = [stack.path for stack in stacks if stack.kind == "stackset"]
    return {
        stack.path: stacksets[0]
        for stack in stacks
        if stack.kind == "region" and out_dir / stack.path not in linted and stacksets
    }


def lint_regions(spec: InfraSpec, stack: StackTemplate) -> list[str]:
    """A StackSet template is checked against every region it may be instantiated in."""
    if stack.kind == "stackset":
        return [region.name for region in spec.regions]
    return [stack.region]
