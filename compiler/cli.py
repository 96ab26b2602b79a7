"""`infra`: parse arguments, call the pipeline, print, set the exit code. No logic here."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click

from compiler import pipeline
from compiler.errors import OutputError, SpecError, os_error_text

EXIT_OK, EXIT_LINT, EXIT_SPEC = 0, 1, 2
EXIT_DIFFERENT = 1  # `infra diff`: the templates on disk are not what the spec compiles to
EXIT_TOOL = 3  # a program the command needs (Graphviz `dot`) is missing or failed
EXIT_STATEFUL = 4  # `infra diff --fail-on-replace`: a database, bucket, key, VPC or zone goes
EXIT_PIPE = 141  # what a shell reports for a command that SIGPIPE ended: 128 + 13
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT (128 + 2); 1 means lint findings

spec_argument = click.argument(
    "spec", type=click.Path(path_type=Path, dir_okay=False), default="infra.yaml", required=False
)
env_option = click.option(
    "-e", "--env", "environment", metavar="NAME",
    help="Merge the spec's environments.NAME overlay over the base first.",
)  # fmt: skip


def _report_spec_error(error: SpecError) -> None:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    count = len(error.problems)
    click.echo(
        f"{count} problem{'s' if count != 1 else ''} in the spec; nothing was written.", err=True
    )


def _report_warnings(warnings: list) -> None:
    for warning in warnings:
        click.echo(str(warning), err=True)


class _Commands(click.Group):
    """Every command: a filesystem fault nothing more specific reported is one line, not a
    traceback (the commands report the faults they expect, naming what they were doing)."""

    def invoke(self, ctx: click.Context):
        interrupted: list[bool] = []

        def on_interrupt(signum, frame):
            # Remembered as well as raised: a KeyboardInterrupt raised while Python runs a
            # `__del__` (cfn-lint's imports have some) is printed and dropped, and the
            # command would finish as if no Ctrl-C had come.
            interrupted.append(True)
            raise KeyboardInterrupt

        def unraisable(report) -> None:
            # That dropped KeyboardInterrupt is also printed ("Exception ignored in ...",
            # with a traceback) by Python's default hook; `interrupted` reports it instead.
            if isinstance(report.exc_value, KeyboardInterrupt):
                interrupted.append(True)
                return
            previous_unraisable(report)

        previous = _install_interrupt_handler(on_interrupt)
        previous_unraisable, sys.unraisablehook = sys.unraisablehook, unraisable
        try:
            result = super().invoke(ctx)
        except OutputError as error:
            click.echo(f"infra: {error}", err=True)
            sys.exit(EXIT_SPEC)
        except KeyboardInterrupt:
            # click would print "Aborted!" and exit 1, which a script reads as lint
            # findings or templates that differ. Writes are atomic: nothing is half done.
            interrupted.clear()  # reported here, once
            click.echo("infra: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`infra graph | head`): quiet, as other Unix tools are.
            # stdout now points at /dev/null, or the interpreter's last flush fails again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_PIPE)
        except OSError as error:
            where = f"{error.filename}: " if error.filename is not None else ""
            click.echo(f"infra: {where}{os_error_text(error)}", err=True)
            sys.exit(EXIT_SPEC)
        finally:
            _install_interrupt_handler(previous)
            sys.unraisablehook = previous_unraisable
            if interrupted:  # a Ctrl-C that was swallowed: never report success after it
                click.echo("infra: interrupted", err=True)
                sys.exit(EXIT_INTERRUPTED)
        return result


def _install_interrupt_handler(handler):
    """Set the SIGINT handler, returning the previous one; in a thread other than the main
    one (a library caller), Python allows no handler: nothing is changed there."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infra-compiler")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Compile infra.yaml into AWS CloudFormation templates."""
    from compiler.terminal import colour_setting

    ctx.color = colour_setting(os.environ)  # subcommands' contexts inherit it


allow_data_loss_option = click.option(
    "--allow-data-loss", is_flag=True,
    help="Go on though deploying the spec over the last compile's stacks would destroy "
    "data (e.g. the writer region moved without a promotion): errors become warnings.",
)  # fmt: skip


@main.command()
@spec_argument
@env_option
@allow_data_loss_option
def validate(spec: Path, environment: str | None, allow_data_loss: bool) -> None:
    """Check SPEC and print every problem found in it; without --env, in every environment.
    Also what it would destroy deployed over the last compile in its default output
    directory, as `infra compile` would refuse it."""
    warnings: list = []
    hazards = {"hazards": True, "allow_data_loss": allow_data_loss}
    try:
        if environment:
            result = pipeline.load_and_validate(spec, environment, warnings, **hazards)
            _report_warnings(warnings)
            click.echo(f"{spec} ({environment}): valid ({len(result.regions)} regions)")
            return
        specs = pipeline.validate_every_environment(spec, warnings, **hazards)
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    _report_warnings(warnings)
    names = [name for name in specs if name]
    also = f"; environments: {', '.join(names)}" if names else ""
    click.echo(f"{spec}: valid ({len(specs[None].regions)} regions{also})")


@main.command(name="compile")
@spec_argument
@env_option
@click.option(
    "-o", "--output", "output", type=click.Path(path_type=Path, file_okay=False),
    help="Directory the templates replace. [default: templates_out, or templates_out/ENV "
    "when the spec has environments]",
)  # fmt: skip
@click.option("--lint/--no-lint", default=True, help="Run cfn-lint on the written templates.")
@click.option(
    "--lint-every-template", is_flag=True,
    help="Also lint each regional template on its own. By default the StackSet template is "
    "linted once in every spec region, with each region's values, which covers them.",
)  # fmt: skip
@click.option(
    "--no-cache", "no_cache", is_flag=True,
    help="Compile and lint everything, even when nothing changed since the last compile.",
)  # fmt: skip
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only problems: spec errors, lint findings."
)
@click.option(
    "--force", is_flag=True,
    help="Replace OUTPUT even when it holds another project's or environment's templates, "
    "or files infra compile did not write. Never the working directory, the spec's, $HOME "
    "or a directory containing one of them.",
)  # fmt: skip
@allow_data_loss_option
def compile_command(
    spec: Path,
    environment: str | None,
    output: Path | None,
    lint: bool,
    lint_every_template: bool,
    no_cache: bool,
    quiet: bool,
    force: bool,
    allow_data_loss: bool,
) -> None:
    """Compile SPEC into CloudFormation templates under OUTPUT.

    When the spec, its task sources, the compiler and the output directory are all as
    the last compile left them, nothing is rebuilt: the output is already what this
    compile would write. A spec that would destroy data deployed over the stacks of the
    last compile in OUTPUT (its manifest.json) is refused, unless --allow-data-loss."""
    from compiler.summary import stack_rows, unchanged_rows

    # An unchanged compile is skipped only as it was linted: not with every template.
    unchanged = None if no_cache or lint_every_template else pipeline.unchanged_compile(
        spec, output, environment=environment, lint=lint
    )  # fmt: skip
    if unchanged:
        rows = unchanged_rows(unchanged.stacks, linted=lint)
        _report_compile(rows, [], linted=lint, files=[], out_dir=unchanged.out_dir, quiet=quiet)
        return
    try:
        result = pipeline.compile_spec(
            spec,
            output,
            environment=environment,
            lint=lint,
            lint_cache=not no_cache,
            lint_every_template=lint_every_template,
            remember=not no_cache,
            force=force,
            allow_data_loss=allow_data_loss,
        )
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    except OutputError as error:
        click.echo(f"infra compile: {error}", err=True)
        sys.exit(EXIT_SPEC)
    _report_warnings(result.warnings)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    rows = stack_rows(result, result.out_dir)
    _report_compile(
        rows,
        result.lint_findings,
        linted=result.linted,
        files=result.files,
        out_dir=result.out_dir,
        quiet=quiet,
    )
    if result.lint_findings:
        sys.exit(EXIT_LINT)


def _report_compile(rows, findings, *, linted: bool, files, out_dir: Path, quiet: bool) -> None:
    """The summary table, the lint result and the next step; with `quiet`, problems only."""
    from compiler.summary import next_step, table_lines

    if not quiet:
        for line in table_lines(rows):
            click.echo(line)
    for finding in findings:
        click.echo(str(finding), err=True)
    if findings:
        click.echo(f"cfn-lint: {len(findings)} finding(s)", err=True)
    elif linted and not quiet:
        click.echo(f"cfn-lint: {len(rows)} templates, no findings")
    if not quiet:
        click.echo(next_step(rows, files, out_dir))


@main.command()
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="schemas/infra.schema.json", show_default=True, help="Where to write; - for stdout.",
)  # fmt: skip
def schema(output: Path) -> None:
    """Write the JSON Schema of infra.yaml, for editor completion and checks."""
    from compiler.schema import schema_bytes, write_schema

    if str(output) == "-":
        click.echo(schema_bytes().decode("utf-8"), nl=False)
        return
    changed = write_schema(output)
    click.echo(f"{output}: {'written' if changed else 'already up to date'}")


@main.command()
@spec_argument
@env_option
@click.option(
    "--against", type=click.Path(path_type=Path, file_okay=False),
    help="Directory of earlier compiled templates to compare with. [default: where "
    "compile writes: templates_out, or templates_out/ENV when the spec has environments]",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.option(
    "--fail-on-replace", is_flag=True,
    help="Exit 4 if the change would replace or remove a database, bucket, KMS key, VPC or "
    "hosted zone (what deploy.sh's stack policy refuses without --allow-stateful-changes).",
)  # fmt: skip
@click.option(
    "--expected-changes", "expected", type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the changes per stack as deploy.sh plan --expect FILE reads them "
    "(logical ID and Add, Modify, Replace or Remove), to compare with CloudFormation's "
    "change sets. Run it before compiling, against the templates that are deployed.",
)  # fmt: skip
def diff(
    spec: Path,
    environment: str | None,
    against: Path | None,
    as_json: bool,
    fail_on_replace: bool,
    expected: Path | None,
) -> None:
    """Compare what SPEC compiles to with the templates in AGAINST; exit 1 if they differ."""
    import json

    from compiler.diff import (
        diff_against,
        expected_changes,
        human_lines,
        stateful_replacements,
        to_json,
    )

    try:
        result = diff_against(spec, against, environment)
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    if expected is not None:
        from compiler.graph.output_format import is_the_spec
        from compiler.write import replace_file

        if is_the_spec(expected, spec):
            raise OutputError(expected, "is the spec; give --expected-changes another file")
        replace_file(expected, expected_changes(result).encode("utf-8"))
    if as_json:
        click.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False))
    else:
        for line in human_lines(result):
            click.echo(line)
    stateful = stateful_replacements(result) if fail_on_replace else []
    if stateful:
        click.echo("infra diff: the change would replace or remove stateful resources:", err=True)
        for line in stateful:
            click.echo(f"  {line}", err=True)
        sys.exit(EXIT_STATEFUL)
    sys.exit(EXIT_DIFFERENT if result.different else EXIT_OK)


@main.command()
@spec_argument
@env_option
@click.option(
    "--format", "output_format", type=click.Choice(["mermaid", "dot", "svg"]),
    help="[default: from the suffix of -o FILE (.svg, .dot/.gv, .mmd/.md), else mermaid] "
    "svg needs Graphviz `dot` installed.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-", show_default=True, help="File to write; - for stdout.",
)  # fmt: skip
def graph(spec: Path, environment: str | None, output_format: str | None, output: Path) -> None:
    """Draw the architecture SPEC compiles to: regions, tiers, traffic, DNS, alarms."""
    from compiler.errors import GraphvizError
    from compiler.graph import draw
    from compiler.graph.output_format import GraphFormatError, file_content, is_the_spec
    from compiler.graph.output_format import output_format as format_for
    from compiler.write import replace_file

    to_stdout = str(output) == "-"
    try:
        chosen = format_for(output_format, None if to_stdout else output)  # type: ignore[arg-type]
    except GraphFormatError as error:
        raise click.UsageError(str(error)) from None
    if not to_stdout and is_the_spec(output, spec):
        raise OutputError(output, "is the spec being drawn; give -o another file")
    try:
        picture = draw(spec, environment, chosen)
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    except GraphvizError as error:
        click.echo(f"infra graph: {error}", err=True)
        sys.exit(EXIT_TOOL)
    if to_stdout:
        click.echo(picture, nl=False)
        return
    replace_file(output, file_content(picture, output))
    click.echo(f"{output}: written")


@main.command()
@spec_argument
@env_option
@click.option(
    "--format", "output_format", type=click.Choice(["text", "sarif"]), default="text",
    show_default=True, help="sarif: SARIF 2.1.0 for code-scanning UIs.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-", show_default=True, help="File to write the report to; - for stdout.",
)  # fmt: skip
@click.option(
    "--checkov", "checkov", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH",
    help="The checkov program. [default: checkov on the PATH, else .venv-checkov/bin/checkov]",
)  # fmt: skip
@click.option("--no-checkov", is_flag=True, help="Run cfn-lint only.")
@click.option("--require-checkov", is_flag=True, help="Exit 3 when checkov is not installed.")
def check(
    spec: Path,
    environment: str | None,
    output_format: str,
    output: Path,
    checkov: Path | None,
    no_checkov: bool,
    require_checkov: bool,
) -> None:
    """Run cfn-lint and checkov on what SPEC compiles to; report each finding at its spec key.

    Exit 0: no finding that is not waived. 1: findings. 2: the spec has errors.
    3: checkov failed, or is missing and --checkov or --require-checkov asked for it.
    Without checkov installed, cfn-lint runs alone (exit 0 or 1) and a note says how to
    install it."""
    from compiler.check import run_check
    from compiler.check.checkov import INSTALL_HINT
    from compiler.check.report import text_lines
    from compiler.check.sarif import sarif_text
    from compiler.errors import CheckToolError
    from compiler.write import replace_file

    if no_checkov and (require_checkov or checkov is not None):
        other = "--require-checkov" if require_checkov else "--checkov"
        raise click.UsageError(f"--no-checkov contradicts {other}")
    if str(output) != "-" and output.resolve() == spec.resolve():
        raise OutputError(output, "is the spec being checked; give -o another file")
    try:
        report = run_check(
            spec, environment, checkov=checkov, use_checkov=not no_checkov,
            require_checkov=require_checkov,
        )  # fmt: skip
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    except CheckToolError as error:
        click.echo(f"infra check: {error}", err=True)
        sys.exit(EXIT_TOOL)
    _report_warnings(report.warnings)
    if report.checkov_missing:
        click.echo(f"note: {INSTALL_HINT}", err=True)
    text = sarif_text(report) if output_format == "sarif" else "\n".join(text_lines(report)) + "\n"
    if str(output) == "-":
        click.echo(text, nl=False)
    else:
        replace_file(output, text.encode("utf-8"))
        click.echo(f"{output}: written", err=True)
    sys.exit(EXIT_LINT if report.failed else EXIT_OK)
