"""Stage 6, lint: cfn-lint over the written templates, through its Python API.

cfn-lint is imported only here and only when linting runs: its import alone takes
over a second, which `validate` and `compile --no-lint` should not pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Rules we switch off, each with the reason. Empty: every template lints clean with
# cfn-lint's defaults, and a new finding should fail the build rather than hide here.
IGNORED_RULES: dict[str, str] = {}


@dataclass(frozen=True)
class LintFinding:
    template: str
    line: int
    column: int
    rule: str
    level: str  # error | warning | informational
    message: str

    def __str__(self) -> str:
        return (
            f"{self.template}:{self.line}:{self.column}: {self.level} {self.rule}: {self.message}"
        )


def lint_template(path: Path, regions: list[str]) -> list[LintFinding]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(
        path.read_text(encoding="utf-8"),
        config=ManualArgs(regions=regions, ignore_checks=sorted(IGNORED_RULES)),
    )
    return [
        LintFinding(
            template=str(path),
            line=match.linenumber,
            column=match.columnnumber,
            rule=match.rule.id,
            level=match.rule.severity,
            message=match.message,
        )
        for match in matches
    ]
