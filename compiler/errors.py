"""Error types and the one formatter for `FILE:LINE:COL: spec.path: message`.

Errors are collected and raised once (like sqlglot's ErrorLevel.RAISE), so a user
sees every problem of a spec in one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SpecPath = tuple[str | int, ...]


def format_spec_path(path: SpecPath) -> str:
    """`('regions', 1, 'cidr')` -> `regions[1].cidr`; the empty path is the document."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


@dataclass(frozen=True)
class SpecProblem:
    """One located problem in a spec file. Lines and columns are 1-based."""

    file: str
    line: int
    column: int
    path: SpecPath
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}: {format_spec_path(self.path)}: {self.message}"
        )


class SpecError(Exception):
    """Every problem found in a spec, raised once after validation has collected them all."""

    def __init__(self, problems: Iterable[SpecProblem]):
        self.problems: Sequence[SpecProblem] = sorted(
            set(problems),
            key=lambda p: (p.file, p.line, p.column, format_spec_path(p.path), p.message),
        )
        super().__init__("\n".join(str(p) for p in self.problems))


class LintFailed(Exception):
    """cfn-lint found problems in templates the compiler wrote."""
