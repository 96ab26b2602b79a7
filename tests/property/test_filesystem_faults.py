"""Filesystem faults at any point of `infra compile`'s write: a full disk, a read-only
or busy filesystem, an I/O error, on any call the write makes (open, fsync, rename, the
atomic exchange, chmod, the copy of another compile's folder it keeps). Whatever fails
and when, the command exits 0 with the complete new output, or 2 with one line naming
the directory and the fault, and the directory exactly as it was; never a traceback,
never a staging directory left behind, never another environment's folder lost.

The fault is injected into `compiler.write`'s view of the operating system for the one
command, through click's runner (in-process, fast); `tests/test_no_traceback.py` does
the same in a child process for each class of fault.
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import pipeline, write
from compiler.cli import EXIT_OK, EXIT_SPEC, main
from compiler.write import write_output
from tests.builders.example import copy_example
from tests.property.tally import COUNTS
from tests.test_crash_safety import hashes

pytestmark = pytest.mark.full  # hundreds of generated inputs: the full tier's

FAULTS = ("ENOSPC", "EDQUOT", "EROFS", "EBUSY", "EIO", "EACCES", "EMFILE", "EPERM")
CALLS = ("open", "fsync", "os.open", "rename", "chmod", "exchange", "copytree")
EXAMPLES = 60
NESTED = "staging"  # an environment's folder from an older layout, inside the output


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, list, pipeline.CompileResult]:
    """The example spec, the files of an older version of it, and its compile (done once:
    the test is about writing, so each example reuses it)."""
    spec = copy_example(tmp_path_factory.mktemp("faults") / "project")
    old_spec = spec.with_name("old.yaml")
    old_spec.write_text(spec.read_text().replace("t3.small", "t3.medium", 1))
    old_files = pipeline.compile_in_memory(old_spec).files
    compiled = pipeline.compile_in_memory(spec)
    assert [f.content for f in compiled.files] != [f.content for f in old_files]
    return spec, old_files, compiled


class Fault:
    """Makes the `nth` call of one operation fail with `code`; counts whether it did."""

    def __init__(self, code: int, nth: int):
        self.code, self.nth, self.calls, self.fired = code, nth, 0, False

    def wrap(self, real, *, writes_only: bool = False):
        def failing(*args, **kwargs):
            mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
            if not writes_only or (isinstance(mode, str) and "w" in mode):
                self.calls += 1
                if self.calls == self.nth:
                    self.fired = True
                    raise OSError(self.code, os.strerror(self.code), str(args[0]))
            return real(*args, **kwargs)

        return failing


def _module_with(module, name: str, replacement):
    copy = type(sys)(f"{module.__name__}_with_a_fault")
    copy.__dict__.update(module.__dict__)
    setattr(copy, name, replacement)
    return copy


def inject(patch: pytest.MonkeyPatch, call: str, fault: Fault) -> None:
    if call == "open":
        patch.setattr(write, "open", fault.wrap(builtins.open, writes_only=True), raising=False)
    elif call == "exchange":
        patch.setattr(write, "_exchange", fault.wrap(write._exchange))
    elif call == "copytree":
        patch.setattr(
            write, "shutil", _module_with(shutil, "copytree", fault.wrap(shutil.copytree))
        )
    else:
        name = call.removeprefix("os.") if call == "os.open" else call
        patch.setattr(write, "os", _module_with(os, name, fault.wrap(getattr(os, name))))


def reset(out: Path, old_files: list, *, existing: bool, nested: bool) -> None:
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    if existing:
        write_output(old_files, out)
        if nested:
            write_output(old_files, out / NESTED)


def test_a_fault_anywhere_in_the_write_leaves_old_or_new_and_says_which(project, tmp_path_factory):
    spec, old_files, compiled = project
    out = tmp_path_factory.mktemp("fault-lanes") / "lane" / "templates_out"
    new = {f.path: f.content for f in compiled.files}
    outcomes = {"written": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        fault_name=st.sampled_from(FAULTS),
        call=st.sampled_from(CALLS),
        nth=st.integers(1, 10),
        existing=st.booleans(),
        nested=st.booleans(),
    )
    def check(fault_name: str, call: str, nth: int, existing: bool, nested: bool) -> None:
        nested = nested and existing
        reset(out, old_files, existing=existing, nested=nested)
        before = hashes(out) if existing else None
        fault = Fault(getattr(errno, fault_name), nth)
        with pytest.MonkeyPatch.context() as patch:
            # the compile itself is the module's: only the write is under test
            patch.setattr(
                pipeline, "compile_in_memory", lambda *a, **k: dataclasses.replace(compiled)
            )
            inject(patch, call, fault)
            result = CliRunner().invoke(
                main, ["compile", "--no-lint", "--no-cache", "-q", str(spec), "-o", str(out)]
            )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        assert not list(out.parent.glob(".templates_out.*")), "a staging directory was left"
        if result.exit_code == EXIT_OK:
            on_disk = {
                p: (out / p).read_bytes() for p in hashes(out) if not p.startswith(f"{NESTED}/")
            }
            assert on_disk == new
            outcomes["written"] += 1
        else:
            assert fault.fired, result.output
            assert result.exit_code == EXIT_SPEC
            assert result.stderr.splitlines() == [
                f"infra compile: {out}: cannot write: {os.strerror(fault.code)} "
                f"({fault_name}); it keeps what it held before"
            ]
            assert (hashes(out) if existing else out.exists()) == (before if existing else False)
            outcomes["refused"] += 1
        if nested:  # the older layout's folder survives either way
            assert {
                p.removeprefix(f"{NESTED}/"): (out / p).read_bytes()
                for p in hashes(out)
                if p.startswith(f"{NESTED}/")
            } == {f.path: f.content for f in old_files}

    check()
    COUNTS["filesystem faults injected into a compile's write"] += sum(outcomes.values())
    assert outcomes["written"] and outcomes["refused"], outcomes
