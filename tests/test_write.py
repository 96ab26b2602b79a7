"""The output directory is replaced all at once, or not at all, and compiles are reproducible."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import write
from compiler.errors import OutputError, SpecError
from compiler.pipeline import compile_in_memory, compile_spec
from compiler.render import RenderedFile
from compiler.write import MARKER, write_output
from tests.builders.example import EXAMPLE_SPEC, copy_example
from tests.conftest import REPO_ROOT

# Larger than any real process id (Linux caps pid_max at 2**22), so never alive.
DEAD_PID = 99_999_999


def snapshot(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `directory`."""
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def siblings(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.parent.iterdir() if p.name != out_dir.name)


def files(**contents: str) -> list[RenderedFile]:
    return [RenderedFile(path.replace("__", "/"), text.encode()) for path, text in contents.items()]


@pytest.fixture(scope="module")
def rendered() -> list[RenderedFile]:
    return compile_in_memory(EXAMPLE_SPEC).files


@pytest.fixture
def bad_spec(tmp_path: Path) -> Path:
    text = EXAMPLE_SPEC.read_text(encoding="utf-8")
    assert "min_size: 2" in text
    return copy_example(tmp_path / "project", text.replace("min_size: 2", "min_size: 0", 1))


def test_failing_compile_leaves_the_previous_output_byte_identical(tmp_path, bad_spec):
    out = tmp_path / "work" / "templates_out"
    compile_spec(EXAMPLE_SPEC, out, lint=False)
    (out / "notes.txt").write_text("a file the compiler did not write")
    before = snapshot(out)
    assert len(before) >= 4
    with pytest.raises(SpecError):
        compile_spec(bad_spec, out, lint=False)
    assert snapshot(out) == before
    assert siblings(out) == []


def test_failing_compile_creates_no_output(tmp_path, bad_spec):
    out = tmp_path / "templates_out"
    with pytest.raises(SpecError):
        compile_spec(bad_spec, out, lint=False)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


def test_failure_while_writing_keeps_the_old_output(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_output(files(a="old a", sub__b="old b"), out)
    before = snapshot(out)
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file: the first one is already on disk
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(write.os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match=r"No space left on device \(ENOSPC\)"):
        write_output(files(a="new a", sub__b="new b", c="new c"), out)
    assert snapshot(out) == before
    assert siblings(out) == []  # the staging directory was removed


def test_output_holds_exactly_the_new_files(tmp_path, rendered):
    out = tmp_path / "templates_out"
    out.mkdir()
    (out / "regions").mkdir()
    (out / "regions" / "eu-west-9.json").write_text("{}")  # a region since removed
    (out / "stale.json").write_text("{}")
    (out / "old" / "deep").mkdir(parents=True)
    (out / "old" / "deep" / "x").write_text("x")
    write_output(rendered, out)
    assert snapshot(out) == {f.path: hashlib.sha256(f.content).hexdigest() for f in rendered}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_dir()) == sorted(
        {Path(f.path).parent.as_posix() for f in rendered} - {"."}
    )
    assert siblings(out) == []


def test_output_is_replaced_without_the_atomic_exchange_too(tmp_path, monkeypatch):
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)  # e.g. macOS
    out = tmp_path / "out"
    write_output(files(a="1", stale="x"), out)
    write_output(files(a="2", b="3"), out)
    assert snapshot(out) == snapshot_of(a="2", b="3")
    assert siblings(out) == []


def snapshot_of(**contents: str) -> dict[str, str]:
    return {path: hashlib.sha256(text.encode()).hexdigest() for path, text in contents.items()}


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_a_symlinked_output_keeps_its_link_and_replaces_its_target(
    tmp_path, monkeypatch, atomic_exchange
):
    if not atomic_exchange:
        monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    target = tmp_path / "elsewhere" / "templates"
    target.mkdir(parents=True)
    link = tmp_path / "templates_out"
    link.symlink_to(target, target_is_directory=True)
    write_output(files(a="1", stale="x"), link)
    write_output(files(a="2", b="3"), link)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert snapshot(target) == snapshot_of(a="2", b="3")
    assert siblings(target) == []


def test_leftovers_of_a_killed_run_are_cleaned(tmp_path):
    out = tmp_path / "out"
    write_output(files(a="1"), out)
    for leftover in (f".out.new-{DEAD_PID}", ".out.old"):
        (tmp_path / leftover / "regions").mkdir(parents=True)
        (tmp_path / leftover / "regions" / "x.json").write_text("{}")
        (tmp_path / leftover / MARKER).write_text("{}")  # a compile writes it first
    (tmp_path / f".out.new-{DEAD_PID + 1}").mkdir()  # killed before its first file
    (tmp_path / ".out.keep").mkdir()  # not ours: never touched
    (tmp_path / "other").mkdir()
    write_output(files(a="2"), out)
    assert snapshot(out) == snapshot_of(a="2")
    assert siblings(out) == [".out.keep", "other"]


def test_staging_of_a_running_compile_is_left_alone(tmp_path):
    out = tmp_path / "out"
    running = tmp_path / f".out.new-{os.getppid()}"  # the parent process is alive
    running.mkdir()
    write_output(files(a="1"), out)
    assert running.is_dir()
    shutil.rmtree(running)


def test_writing_into_a_new_nested_directory(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    write_output(files(x="1"), out)
    assert snapshot(out) == snapshot_of(x="1")


def test_compiling_twice_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    compile_spec(EXAMPLE_SPEC, first, lint=False)
    compile_spec(EXAMPLE_SPEC, second, lint=False)
    assert snapshot(first) == snapshot(second)
    assert len(snapshot(first)) >= 3


def test_output_does_not_depend_on_hash_seed_or_working_directory(tmp_path):
    # Sets and dicts keyed by strings iterate in hash order; a template built from one
    # would differ between runs. Run the CLI in fresh interpreters with other seeds.
    outputs = []
    for seed in ("1", "2"):
        cwd = tmp_path / f"cwd{seed}"
        cwd.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [
            sys.executable, "-c", "from compiler.cli import main; main()",
            "compile", "--no-lint", str(EXAMPLE_SPEC), "-o", "out",
        ]  # fmt: skip
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        outputs.append(snapshot(cwd / "out"))
    assert outputs[0] == outputs[1]
    assert outputs[0] == snapshot_of_rendered(compile_in_memory(EXAMPLE_SPEC).files)
    assert str(REPO_ROOT) not in str(outputs)


def snapshot_of_rendered(rendered: list[RenderedFile]) -> dict[str, str]:
    return {f.path: hashlib.sha256(f.content).hexdigest() for f in rendered}


def test_no_absolute_path_or_timestamp_in_the_output(rendered):
    for file in rendered:
        text = file.content.decode()
        assert str(REPO_ROOT) not in text, file.path
        assert str(Path.home()) not in text, file.path
