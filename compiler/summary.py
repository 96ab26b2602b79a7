"""What a compile did, per stack, as the table `infra compile` prints.

A row per stack: its name and template, resource count, size, the cfn-lint result and
whether the template changed since the last compile. "Changed" compares with the bytes
the output directory held before the atomic swap, which the pipeline reads with
`previous_output` just before writing; nothing else remembers earlier compiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

if TYPE_CHECKING:
    from compiler.pipeline import CompileResult
    from compiler.render import RenderedFile

DEPLOY_SCRIPT = "deploy.sh"


def previous_output(out_dir: Path, files: list[RenderedFile]) -> dict[str, bytes | None]:
    """The bytes each file had in `out_dir` before this compile; None where it did not exist."""
    from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded

    previous: dict[str, bytes | None] = {}
    for file in files:
        try:  # bounded, regular files only: a FIFO put in a template's place would block
            previous[file.path] = read_bounded(out_dir / file.path, 100 * len(file.content) + 10**6)
        except (OSError, NotARegularFile, InputTooLarge):
            previous[file.path] = None
    return previous


class StackRow(NamedTuple):
    stack_name: str
    template: str  # relative to the output directory
    resources: int
    size: int  # bytes
    lint: str  # "clean" | "N findings" | "cached" | "skipped"
    since_last: str  # "new" | "changed" | "unchanged"

    @property
    def lint_failed(self) -> bool:
        return self.lint.endswith(("finding", "findings"))


def lint_status(findings: int, *, linted: bool, cached: bool) -> str:
    if not linted:
        return "skipped"
    if findings:
        return f"{findings} finding{'s' if findings != 1 else ''}"
    return "cached" if cached else "clean"


def change_status(previous: bytes | None, content: bytes) -> str:
    if previous is None:
        return "new"
    return "unchanged" if previous == content else "changed"


def stack_rows(result: CompileResult, out_dir: Path) -> list[StackRow]:
    """One row per stack of a `CompileResult` written to `out_dir`."""
    contents = {file.path: file.content for file in result.files}
    findings_by_path: dict[Path, int] = {}
    # A StackSet finding for one region is counted on that region's template, when the
    # StackSet template was linted in its stead.
    regional = {
        (via, stack.region): stack.path for stack in result.stacks
        if (via := result.lint_via.get(stack.path))
    }  # fmt: skip
    for finding in result.lint_findings:
        path = Path(finding.template)
        for (via, region), stack_path in regional.items():
            if finding.region == region and path == out_dir / via:
                path = out_dir / stack_path
        findings_by_path[path] = findings_by_path.get(path, 0) + 1
    rows = []
    for stack in result.stacks:
        content = contents[stack.path]
        rows.append(
            StackRow(
                stack_name=stack.stack_name,
                template=stack.path,
                resources=len(stack.template.resources),
                size=len(content),
                lint=lint_status(
                    findings_by_path.get(out_dir / stack.path, 0),
                    linted=result.linted,
                    cached=stack.path in result.lint_cached,
                ),
                since_last=change_status(result.previous.get(stack.path), content),
            )
        )
    return rows


def unchanged_rows(stacks: list[dict], *, linted: bool) -> list[StackRow]:
    """The rows of a compile that was skipped because nothing changed (`compile_cache`):
    the stacks as the last compile recorded them; with lint, their clean result cached."""
    return [
        StackRow(
            stack_name=stack["stack_name"],
            template=stack["template"],
            resources=stack["resources"],
            size=stack["size"],
            lint=lint_status(0, linted=linted, cached=True),
            since_last="unchanged",
        )
        for stack in stacks
    ]


_COLOURS = {
    "clean": "green",
    "cached": "green",
    "skipped": "yellow",
    "new": "cyan",
    "changed": "yellow",
    "unchanged": None,
}


def _cell(text: str, width: int, *, right: bool = False, status: bool = False) -> str:
    """Padded first, styled after, so escape codes never skew the columns."""
    padded = text.rjust(width) if right else text.ljust(width)
    if not status:
        return padded
    colour = "red" if text.endswith(("finding", "findings")) else _COLOURS.get(text)
    return click.style(padded, fg=colour) if colour else padded


def table_lines(rows: list[StackRow]) -> list[str]:
    """The table, with ANSI colours that `click.echo` strips when not writing to a terminal."""
    header = ("stack", "template", "resources", "bytes", "lint", "since last compile")
    cells = [
        (r.stack_name, r.template, str(r.resources), f"{r.size:,}", r.lint, r.since_last)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    widths[-1] = 0  # the last column is not padded: no trailing blanks
    right = (False, False, True, True, False, False)
    status = (False, False, False, False, True, True)
    return [
        "  ".join(
            _cell(text, widths[i], right=right[i], status=status[i] and row is not header)
            for i, text in enumerate(row)
        )
        for row in [header, *cells]
    ]


def next_step(rows: list[StackRow], files: list[RenderedFile], out_dir: Path) -> str:
    """The command a user most likely runs next."""
    if any(row.lint_failed for row in rows):
        return "next: fix the cfn-lint findings above, then run `infra compile` again"
    if all(row.since_last == "unchanged" for row in rows):
        return "next: nothing changed since the last compile; after editing the spec, `infra diff` previews the change"
    review = f"review with `git diff -- {out_dir}`"
    if any(file.path == DEPLOY_SCRIPT for file in files):
        return f"next: {review}, then deploy with `bash {out_dir / DEPLOY_SCRIPT}`"
    return f"next: {review}, then deploy the stacks in {out_dir / 'manifest.json'} order"
