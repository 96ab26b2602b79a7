"""Stage 6, lint: cfn-lint over the written templates, through its Python API.

cfn-lint is imported only here and only when linting runs: its import alone takes
over a second, which `validate` and `compile --no-lint` should not pay.

A template that linted clean is remembered by the hash of its bytes, the regions, the
cfn-lint version and our rule configuration, so an unchanged template is not linted
again. Templates that do need linting are spread over the machine's cores.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from compiler.caches import cache_root, is_empty_entry

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


@dataclass(frozen=True)
class LintJob:
    path: Path
    regions: tuple[str, ...]


def default_cache_dir() -> Path:
    return cache_root() / "lint"


@functools.cache
def cfn_lint_version() -> str:
    return version("cfn-lint")  # reads installed packages' metadata: once per process


def clean_marker(job: LintJob, cache_dir: Path) -> Path:
    """Where the fact "these exact bytes lint clean under this configuration" is kept."""
    digest = hashlib.sha256()
    digest.update(job.path.read_bytes())
    configuration = [job.regions, cfn_lint_version(), sorted(IGNORED_RULES)]
    digest.update(json.dumps(configuration).encode())
    return cache_dir / f"{digest.hexdigest()}.clean"


def known_clean(jobs: list[LintJob], cache_dir: Path) -> set[Path]:
    """Paths of the jobs the cache already knows to be clean (asked before linting)."""
    return {job.path for job in jobs if is_empty_entry(clean_marker(job, cache_dir))}


def _lint_job(job: LintJob) -> list[LintFinding]:
    return lint_template(job.path, list(job.regions))


def lint_templates(jobs: list[LintJob], *, cache_dir: Path | None = None) -> list[LintFinding]:
    """Lint every job, skipping those the cache knows to be clean; `cache_dir=None` lints all."""
    markers = {job: clean_marker(job, cache_dir) for job in jobs} if cache_dir else {}
    pending = [job for job in jobs if not (cache_dir and is_empty_entry(markers[job]))]
    results = _run(pending)
    findings: list[LintFinding] = []
    for job, job_findings in zip(pending, results, strict=True):
        findings += job_findings
        if cache_dir and not job_findings:
            try:
                markers[job].parent.mkdir(parents=True, exist_ok=True)
                markers[job].touch()
            except OSError:
                pass  # an unwritable cache only means linting this template again next time
    return findings


def parallel_workers(job_count: int) -> int:
    """One process per core, at most one per template; 1 where fork is unavailable."""
    import multiprocessing  # here, not at the top: a fully cached compile never lints

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(job_count, os.cpu_count() or 1))


def _run(jobs: list[LintJob]) -> list[list[LintFinding]]:
    if not jobs:
        return []
    workers = parallel_workers(len(jobs))
    if workers <= 1:
        return [_lint_job(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import cfnlint.api  # noqa: F401  (imported once here, then shared by the forked workers)

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_lint_job, jobs))
