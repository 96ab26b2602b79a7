"""Error types and the one formatter for `FILE:LINE:COL: spec.path: message`.

Errors are collected and raised once (like sqlglot's ErrorLevel.RAISE), so a user
sees every problem of a spec in one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

SpecPath = tuple[str | int, ...]


def format_spec_path(path: SpecPath) -> str:
    """`('regions', 1, 'cidr')` -> `regions[1].cidr`; the empty path is the document."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            if not part or part != part.strip():  # an empty or space-edged key: show it
                part = repr(part)
            text += f".{part}" if text else str(part)
    return text or "(document)"


def one_line(text: str) -> str:
    """`text` with control characters and line breaks escaped: keys and values quoted in a
    message come from the spec, and one of those would split or garble the problem's line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class SpecProblem(NamedTuple):
    """One located problem in a spec file. Lines and columns are 1-based."""

    file: str
    line: int
    column: int
    path: SpecPath
    message: str

    def __str__(self) -> str:
        return one_line(
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


class OutputError(Exception):
    """The output directory is one `compile` must not replace, or writing it failed: one
    line, `PATH: message`, and the directory is as it was."""

    def __init__(self, path: object, message: str):
        self.path, self.message = str(path), message
        super().__init__(one_line(f"{self.path}: {self.message}"))


def os_error_text(error: OSError) -> str:
    """`No space left on device (ENOSPC)`: the system's words and the name to search for."""
    import errno

    name = errno.errorcode.get(error.errno or 0)
    reason = error.strerror or str(error)
    return f"{reason} ({name})" if name else reason


class LintFailed(Exception):
    """cfn-lint found problems in templates the compiler wrote."""


class GraphvizError(Exception):
    """Graphviz `dot`, which `infra graph --format svg` needs, is missing or failed."""


class CheckToolError(Exception):
    """checkov, which `infra check` runs on the compiled templates, is missing where it
    was asked for, or failed: one line naming what happened."""
