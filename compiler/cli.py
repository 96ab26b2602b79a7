"""`infra`: parse arguments, call the pipeline, print, set the exit code. No logic here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from compiler import pipeline
from compiler.errors import SpecError

EXIT_OK, EXIT_LINT, EXIT_SPEC = 0, 1, 2

spec_argument = click.argument(
    "spec", type=click.Path(path_type=Path, dir_okay=False), default="infra.yaml", required=False
)


def _report_spec_error(error: SpecError) -> None:
    for problem in error.problems:
        click.echo(str(problem), err=True)
    count = len(error.problems)
    click.echo(
        f"{count} problem{'s' if count != 1 else ''} in the spec; nothing was written.", err=True
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infra-compiler")
def main() -> None:
    """Compile infra.yaml into AWS CloudFormation templates."""


@main.command()
@spec_argument
def validate(spec: Path) -> None:
    """Check SPEC and print every problem found in it."""
    try:
        result = pipeline.load_and_validate(spec)
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    click.echo(f"{spec}: valid ({len(result.regions)} regions)")


@main.command(name="compile")
@spec_argument
@click.option(
    "-o", "--output", "output", type=click.Path(path_type=Path, file_okay=False),
    default="templates_out", show_default=True, help="Directory the templates replace.",
)  # fmt: skip
@click.option("--lint/--no-lint", default=True, help="Run cfn-lint on the written templates.")
@click.option(
    "--no-cache", "no_cache", is_flag=True,
    help="Lint every template, even those unchanged since they last linted clean.",
)  # fmt: skip
def compile_command(spec: Path, output: Path, lint: bool, no_cache: bool) -> None:
    """Compile SPEC into CloudFormation templates under OUTPUT."""
    try:
        result = pipeline.compile_spec(spec, output, lint=lint, lint_cache=not no_cache)
    except SpecError as error:
        _report_spec_error(error)
        sys.exit(EXIT_SPEC)
    for file in result.files:
        click.echo(f"wrote {output / file.path}")
    for finding in result.lint_findings:
        click.echo(str(finding), err=True)
    if result.lint_findings:
        click.echo(f"cfn-lint: {len(result.lint_findings)} finding(s)", err=True)
        sys.exit(EXIT_LINT)
    if result.linted:
        click.echo(f"cfn-lint: {len(result.stacks)} templates, no findings")
