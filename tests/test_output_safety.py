"""`infra compile` replaces only a directory it may: never the working directory, the
spec's directory or one containing it, $HOME or `/`; otherwise an empty directory or one
holding only what a compile of the same project and environment wrote (its
`.infra-compiler` marker lists the files). Anything else is one line, exit 2, and every
file as it was. Through the installed command, in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.write import MARKER
from tests.builders.example import copy_example
from tests.infra_command import infra_in_process, one_line_error, run_infra
from tests.test_crash_safety import hashes
from tests.test_environments import with_environments

EXIT_REFUSED = 2


def tree(directory: Path) -> dict[str, str]:
    """Every file under `directory` (the spec and task sources too, when it holds them)."""
    return hashes(directory)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "project")


def compile_ok(spec: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = run_infra("compile", "--no-lint", "-q", str(spec), *args, cwd=cwd or spec.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def set_up_by_compiling(spec: Path, *args: str) -> None:
    """A compile that only sets the test up (an output to refuse to replace), in this
    process (`infra_in_process`): the compiles the tests are about run as processes."""
    result = infra_in_process("compile", "--no-lint", "-q", str(spec), *args, cwd=spec.parent)
    assert result.exit_code == 0, result.stdout + result.stderr


def refused(spec: Path, *args: str, cwd: Path, watch: Path) -> str:
    """The one-line refusal of `infra compile SPEC ARGS`; nothing under `watch` changed."""
    before = tree(watch)
    line = one_line_error(
        run_infra("compile", "--no-lint", str(spec), *args, cwd=cwd), EXIT_REFUSED
    )
    assert tree(watch) == before
    assert not [p for p in watch.rglob(".*") if ".new-" in p.name]
    return line


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (".", "it is the working directory"),
        ("spec-dir", "it is the spec's directory"),
        ("spec-parent", "it contains the spec's directory"),
        ("home", "it is your home directory"),
        ("/", "it is the root directory"),
    ],
)
def test_never_the_working_spec_or_home_directory_not_even_with_force(project, where, reason):
    root = project.parent.parent
    home, elsewhere = root / "home", root / "elsewhere"
    for directory in (home, elsewhere):
        directory.mkdir()
        (directory / "notes.txt").write_text("mine\n")
    out = {
        ".": ".",
        "spec-dir": str(project.parent),
        "spec-parent": str(root),
        "home": str(home),
        "/": "/",
    }[where]
    for force in ((), ("--force",)):
        before = tree(root)
        result = run_infra(
            "compile", "--no-lint", str(project), "-o", out, *force,
            cwd=elsewhere, env={"HOME": str(home)},
        )  # fmt: skip
        line = one_line_error(result, EXIT_REFUSED)
        assert "infra compile never replaces this directory" in line and reason in line, line
        assert tree(root) == before


def test_a_directory_with_files_no_compile_wrote_needs_force(project):
    out = project.parent / "templates_out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    line = refused(project, "-o", str(out), cwd=project.parent, watch=project.parent)
    assert line == (
        f"infra compile: {out}: not replaced: it is not empty and has no {MARKER} file, so "
        "infra compile did not write it (notes.txt); move them away, give -o another "
        "directory, or --force to replace it"
    )
    compile_ok(project, "-o", str(out), "--force")
    assert not (out / "notes.txt").exists() and (out / MARKER).is_file()


def test_a_file_added_to_an_output_stops_the_next_compile(project):
    out = project.parent / "templates_out"
    set_up_by_compiling(project)
    (out / "regions" / "notes.md").write_text("mine\n")
    line = refused(project, "--no-cache", cwd=project.parent, watch=project.parent)
    assert "holds files infra compile did not write (regions/notes.md)" in line


def test_another_projects_spec_asks_for_o_or_force(project):
    out = project.parent / "templates_out"
    set_up_by_compiling(project)
    other = project.with_name("other.yaml")
    other.write_text(project.read_text().replace("project: storefront", "project: other", 1))
    line = refused(other, cwd=project.parent, watch=project.parent)
    assert line == (
        f"infra compile: {out.absolute()}: holds the templates of project storefront, "
        "environment production, not of this spec (project other, environment production); "
        "give -o another directory, or --force to replace them"
    )
    compile_ok(other, "-o", str(project.parent / "other_out"))
    compile_ok(other, "--force")
    assert json.loads((out / MARKER).read_text())["project"] == "other"


def test_the_marker_names_the_project_environment_and_files(project):
    out = project.parent / "templates_out"
    compile_ok(project)
    marker = json.loads((out / MARKER).read_text())
    written = sorted(p for p in tree(out) if p != MARKER)
    assert marker["project"] == "storefront" and marker["environment"] == "production"
    assert marker["files"] == written
    # the same spec recompiles over it, with or without the cache
    compile_ok(project, "--no-cache")
    # and diff reads the marked directory as the templates it holds
    same = run_infra("diff", str(project), cwd=project.parent)
    assert same.returncode == 0 and "no differences" in same.stdout, same.stdout


def test_an_output_from_before_markers_is_recognised_by_its_manifest(project):
    out = project.parent / "templates_out"
    set_up_by_compiling(project)
    (out / MARKER).unlink()
    compile_ok(project, "--no-cache")
    assert (out / MARKER).is_file()


def test_removing_environments_keeps_their_folders_and_says_so(project):
    out = project.parent / "templates_out"
    plain = project.read_text()
    project.write_text(with_environments(plain))
    set_up_by_compiling(project)
    set_up_by_compiling(project, "--env", "staging")
    staged = tree(out)
    assert {"production/global.json", "staging/global.json"} <= set(staged)
    project.write_text(plain)
    result = compile_ok(project)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: {out.absolute()}/{env}/ holds the templates of another compile (project "
        f"storefront, environment {env}); kept as it is. Delete it when you no longer need it"
        for env in ("production", "staging")
    ]
    after = tree(out)
    assert {k: v for k, v in after.items() if k in staged} == staged  # kept byte for byte
    assert "global.json" in after and "production/global.json" in after
    # back to environments: the base layout's files are reported, not removed
    project.write_text(with_environments(plain))
    result = compile_ok(project)
    assert (
        f"note: {out.absolute()}/ still holds 8 files of an earlier compile into it "
        "(bootstrap.json, deploy.sh, global.json and more), which this compile no longer "
        "updates; delete them when you no longer need them"
    ) in result.stderr.splitlines()
    assert {k: v for k, v in tree(out).items() if "/" not in k} == {
        k: v for k, v in after.items() if "/" not in k
    }


def test_an_output_path_that_is_a_file_or_under_one(project):
    afile = project.parent / "afile"
    afile.write_text("x\n")
    before = tree(project.parent)
    usage = run_infra("compile", "--no-lint", str(project), "-o", str(afile), cwd=project.parent)
    assert usage.returncode == EXIT_REFUSED and "Traceback" not in usage.stderr
    assert f"Directory '{afile}' is a file." in usage.stderr  # click checks this one
    assert tree(project.parent) == before
    line = refused(project, "-o", str(afile / "out"), cwd=project.parent, watch=project.parent)
    assert line == (
        f"infra compile: {afile / 'out'}: cannot be made: {afile} is a file, not a directory"
    )


def test_an_output_name_too_long(project):
    long = project.parent / ("x" * 300)
    line = refused(project, "-o", str(long), cwd=project.parent, watch=project.parent)
    assert "File name too long (ENAMETOOLONG)" in line and line.startswith(f"infra compile: {long}")


@pytest.mark.parametrize("out_name", ["templates_out", "out[1]", "*"])
def test_directories_named_like_leftovers_but_not_a_compiles_are_never_deleted(project, out_name):
    """`.templates_out.old` (a backup of the user's) or `.templates_out.new-<pid>`
    beside the output: a compile cleans up only the staging directories it made (they
    hold its marker), and `-o '*'` is a name, not a pattern matching other directories."""
    parent = project.parent
    mine = [f".{out_name}.old", f".{out_name}.new-99999999", ".other.old", ".x.new-99999999"]
    for name in mine:
        (parent / name / "keep").mkdir(parents=True)
        (parent / name / "keep" / "notes.txt").write_text("mine\n")
    before = {name: tree(parent / name) for name in mine}
    compile_ok(project, "-o", out_name)
    assert {name: tree(parent / name) for name in mine} == before


# Runs `infra compile` with the rename of a finished output into a new directory held
# until a file appears, so that two compiles reach it together. argv: the barrier file,
# then the command's arguments.
RACER = """
import os, sys, time
from pathlib import Path
import compiler.write as write

barrier = Path(sys.argv[1])
real_rename = os.rename

def held_rename(source, target):
    if ".new-" in str(source):
        print("ready", flush=True)
        while not barrier.exists():
            time.sleep(0.01)
    return real_rename(source, target)

write.os = type(sys)("os_with_held_rename")
write.os.__dict__.update(os.__dict__)
write.os.rename = held_rename

from compiler.cli import main
sys.argv = ["infra", *sys.argv[2:]]
main()
"""


def race(specs: list[Path], out: Path) -> list[subprocess.CompletedProcess]:
    barrier = out.parent / "go"
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACER,
                str(barrier),
                "compile",
                "--no-lint",
                "-q",
                str(spec),
                "-o",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=spec.parent,
        )  # fmt: skip
        for spec in specs
    ]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    time.sleep(0.1)
    barrier.touch()
    results = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(racer.args, racer.returncode, stdout, stderr))
    return results


def test_two_compiles_of_one_spec_into_a_new_directory_both_succeed(project):
    out = project.parent / "new" / "templates_out"
    results = race([project, project], out)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert json.loads((out / MARKER).read_text())["project"] == "storefront"
    assert not list(out.parent.glob(".templates_out.*"))


def test_of_two_projects_racing_into_a_new_directory_one_says_the_other_won(project):
    other = project.with_name("other.yaml")
    other.write_text(project.read_text().replace("project: storefront", "project: other", 1))
    out = project.parent / "new" / "templates_out"
    results = race([project, other], out)
    assert sorted(r.returncode for r in results) == [0, EXIT_REFUSED], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode)
    winner = "other" if loser.args[-3].endswith("infra.yaml") else "storefront"
    line = one_line_error(loser, EXIT_REFUSED)
    assert line == (
        f"infra compile: {out}: another command created this directory while this compile "
        f"was writing it (project {winner}, environment production); that one won and this "
        "compile changed nothing"
    )
    assert json.loads((out / MARKER).read_text())["project"] == winner
    assert not list(out.parent.glob(".templates_out.*"))


# Runs `infra compile` held after it has planned a new output directory and written its
# files, just before it moves them into place, until a file appears. argv: the barrier
# file, then the command's arguments.
HELD_BEFORE_RENAME = """
import sys, time
from pathlib import Path
import compiler.write as write

barrier = Path(sys.argv[1])
real_fsync_dir = write._fsync_dir

def held_fsync_dir(path):
    print("ready", flush=True)
    while not barrier.exists():
        time.sleep(0.01)
    write._fsync_dir = real_fsync_dir
    return real_fsync_dir(path)

write._fsync_dir = held_fsync_dir

from compiler.cli import main
sys.argv = ["infra", *sys.argv[2:]]
main()
"""


def test_a_project_finishing_first_into_a_new_directory_is_not_replaced_by_another(project):
    """The slower compile planned the directory as new, then found another project's
    output there when it came to move its own in: it says the other won, not replace it."""
    other = project.with_name("other.yaml")
    other.write_text(project.read_text().replace("project: storefront", "project: other", 1))
    out = project.parent / "new" / "templates_out"
    barrier = project.parent / "go"
    slow = subprocess.Popen(
        [sys.executable, "-c", HELD_BEFORE_RENAME, str(barrier), "compile", "--no-lint", "-q",
         "--no-cache", str(other), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.parent,
    )  # fmt: skip
    assert slow.stdout.readline().strip() == "ready"
    compile_ok(project, "-o", str(out))  # storefront's compile creates it meanwhile
    before = tree(out)
    barrier.touch()
    stdout, stderr = slow.communicate(timeout=120)
    line = one_line_error(subprocess.CompletedProcess(slow.args, slow.returncode, "", stderr), 2)
    assert line == (
        f"infra compile: {out}: another command created this directory while this compile "
        "was writing it (project storefront, environment production); that one won and this "
        "compile changed nothing"
    )
    assert tree(out) == before
    assert not list(out.parent.glob(".templates_out.*"))


def test_one_environment_never_replaces_anothers_folder(project):
    project.write_text(with_environments(project.read_text()))
    set_up_by_compiling(project)
    production = project.parent / "templates_out" / "production"
    line = refused(
        project, "--env", "staging", "-o", str(production), cwd=project.parent, watch=project.parent
    )
    assert line == (
        f"infra compile: {production}: holds the templates of project storefront, environment "
        "production, not of this spec (project storefront, environment staging); give -o "
        "another directory, or --force to replace them"
    )
