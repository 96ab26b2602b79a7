"""Bad specs through the real CLI: `infra compile` exits 2 and names FILE:LINE:COL for
every problem, never prints a traceback, answers in bounded time, and leaves an existing
output directory exactly as it was.

Most inputs go through click's runner (in-process, fast); a few of each kind through
the installed `infra` command in a process of its own.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings

from compiler.cli import EXIT_SPEC, main
from compiler.errors import SpecProblem
from tests.builders.example import copy_example
from tests.infra_command import INFRA
from tests.property.mutations import COLLISIONS, MUTATIONS, Mutant, bases, mutants
from tests.property.tally import COUNTS

pytestmark = pytest.mark.full  # hundreds of generated inputs: the full tier's

BAD_INPUTS = 1000
# Generous: a bad spec is answered in milliseconds (a 10 MB file or an alias bomb in
# well under a second); this catches a hang or an exponential blow-up, not slowness.
DEADLINE = timedelta(seconds=10)
SUBPROCESS_TIMEOUT_SECONDS = 60
SUMMARY = re.compile(r"^\d+ problems? in the spec; nothing was written\.$")


def problem_line(file: str) -> re.Pattern[str]:
    """`FILE:LINE:COL: spec.path: message`, the path starting with a non-space."""
    return re.compile(rf"^{re.escape(file)}:(\d+):(\d+): (\S.*: .+)$")


def as_printed(path) -> str:
    """A spec path as a problem line shows it (escaped where a key needs it)."""
    return str(SpecProblem("F", 1, 1, path, "m")).removeprefix("F:1:1: ").removesuffix(": m")


def tree_hashes(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def check_report(mutant: Mutant, spec: Path, exit_code: int, stdout: str, stderr: str) -> None:
    """Exit 2; every problem located, inside the file; the expected one among them."""
    context = f"{mutant.kind}\n--- stderr ---\n{stderr[:3000]}"
    assert exit_code == EXIT_SPEC, context
    assert "Traceback" not in stdout + stderr, context
    assert stdout == "", context
    *problems, summary = stderr.splitlines()
    assert SUMMARY.match(summary), context
    assert problems, context
    pattern = problem_line(str(spec))
    last_line = mutant.content.count(b"\n") + 1
    located: list[tuple[int, int, str]] = []  # line, column, "path: message"
    for line in problems:
        match = pattern.match(line)
        assert match, f"not FILE:LINE:COL: path: message: {line[:300]!r}\n{context}"
        line_number, column = int(match[1]), int(match[2])
        assert 1 <= line_number <= last_line and column >= 1, line
        located.append((line_number, column, match[3]))
    if mutant.path is not None:
        wanted = as_printed(mutant.path) + ": "
        assert any(rest.startswith(wanted) for *_, rest in located), f"not at {wanted}\n{context}"
    if mutant.line is not None:
        lines = {line for line, *_ in located}
        assert mutant.line in lines, f"nothing on line {mutant.line}\n{context}"
    if mutant.column is not None:
        places = {(line, column) for line, column, _ in located}
        assert (mutant.line, mutant.column) in places, context
    if mutant.message is not None:
        assert any(mutant.message in rest for *_, rest in located), context


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """A spec file beside tasks/, and an output directory compiled from the valid example."""
    spec = copy_example(tmp_path_factory.mktemp("mutated") / "project")
    out = spec.parent / "templates_out"
    result = CliRunner().invoke(main, ["compile", "--no-lint", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return spec, out, tree_hashes(out)


def test_every_base_spec_is_valid(project):
    spec, _, _ = project
    for base in bases():
        spec.write_text(base.text, encoding="utf-8")
        result = CliRunner().invoke(main, ["validate", str(spec)])
        assert result.exit_code == 0, f"{base.name}: {result.output}"


def test_bad_specs_through_the_cli(project):
    spec, out, before = project
    runner = CliRunner()
    seen: dict[str, int] = dict.fromkeys(MUTATIONS, 0)

    @settings(
        max_examples=BAD_INPUTS,
        derandomize=True,
        database=None,
        deadline=DEADLINE,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutants())
    def check(mutant: Mutant) -> None:
        spec.write_bytes(mutant.content)
        result = runner.invoke(main, ["compile", "--no-lint", str(spec), "-o", str(out)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a crash: let pytest show its traceback
        check_report(mutant, spec, result.exit_code, result.stdout, result.stderr)
        assert tree_hashes(out) == before, "the output directory changed"
        assert not list(out.parent.glob(f".{out.name}.*")), "a staging directory was left"
        seen[mutant.kind.replace("deeply nested ", "")] += 1

    check()
    for kind, count in seen.items():
        COUNTS[f"bad inputs through CliRunner: {kind}"] += count
    COUNTS["bad inputs through CliRunner (all kinds)"] += sum(seen.values())
    assert sum(seen.values()) >= BAD_INPUTS
    # every kind ran (those with few distinct mutants, like emptying one of the few
    # required lists, run fewer times: hypothesis does not repeat an input)
    assert min(seen.values()) >= 1, seen


def _compile_in_a_process(mutant: Mutant, spec: Path, out: Path, before) -> None:
    """Compile `mutant` with the installed `infra` command: reported, nothing written."""
    spec.write_bytes(mutant.content)
    completed = subprocess.run(
        [str(INFRA), "compile", "--no-lint", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    check_report(mutant, spec, completed.returncode, completed.stdout, completed.stderr)
    assert tree_hashes(out) == before
    COUNTS["bad inputs through the infra command (a process each)"] += 1


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_bad_specs_through_a_process(project, kind):
    spec, out, before = project

    @settings(max_examples=1, derandomize=True, database=None, deadline=None)
    @given(mutants((kind,)))
    def check(mutant: Mutant) -> None:
        _compile_in_a_process(mutant, spec, out, before)

    check()


COLLIDING_INPUTS = 100


def test_names_making_one_logical_id_through_the_cli(project):
    """Two bucket or task names that differ only in hyphens a logical ID drops: both
    reported (the mutant names one of them), nothing written."""
    spec, out, before = project
    runner = CliRunner()
    count = 0

    @settings(max_examples=COLLIDING_INPUTS, derandomize=True, database=None, deadline=DEADLINE)
    @given(mutants(tuple(COLLISIONS)))
    def check(mutant: Mutant) -> None:
        nonlocal count
        spec.write_bytes(mutant.content)
        result = runner.invoke(main, ["compile", "--no-lint", str(spec), "-o", str(out)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        check_report(mutant, spec, result.exit_code, result.stdout, result.stderr)
        # reported at both names: the two items appended, each naming the other
        section, index = mutant.path[:-2], mutant.path[-2]
        pair = sorted(
            {
                index,
                index + 1 if f"{as_printed((*section, index + 1))}" in result.stderr else index - 1,
            }
        )
        wanted = [as_printed((*section, i, "name")) for i in pair]
        found = [
            line.split(": ")[1]
            for line in result.stderr.splitlines()
            if "make the same CloudFormation logical ID" in line
        ]
        assert found == wanted, result.stderr
        assert tree_hashes(out) == before
        count += 1

    check()
    COUNTS["bad inputs through CliRunner: names making one logical ID"] += count
    assert count >= COLLIDING_INPUTS // 2


def test_names_making_one_logical_id_through_a_process(project):
    spec, out, before = project

    @settings(max_examples=2, derandomize=True, database=None, deadline=None)
    @given(mutants(tuple(COLLISIONS)))
    def check(mutant: Mutant) -> None:
        _compile_in_a_process(mutant, spec, out, before)

    check()
