"""No traceback, ever: each class of filesystem fault and hostile input is one located
line with the README's exit code (2: nothing was written; `infra diff` 1: different),
and the spec and the output directory are left exactly as they were.

Faults a test machine cannot produce on demand (a full or read-only disk, a busy mount)
are injected into a child process running the real command: a small wrapper (FAULTY,
below) makes one operating-system call fail, the way the kernel would, and then runs
`infra`. Nothing in the product knows about it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler import compile_cache
from compiler.caches import is_empty_entry
from compiler.lint import LintJob, known_clean
from compiler.write import MARKER
from tests.builders.example import copy_example
from tests.infra_command import infra_in_process, one_line_error, run_infra
from tests.test_crash_safety import hashes

EXIT_REFUSED, EXIT_DIFFERENT = 2, 1

# argv: errno name, the call to fail (open | fsync | mkdir | rename | exchange), which
# call of it fails (1 = the first), then the command's arguments.
FAULTY = """
import builtins, errno, os, sys
import compiler.write as write

name, call, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
code = getattr(errno, name)
calls = 0

# The caches are best effort (an unwritable cache never fails a command, tested on its
# own): calls under the cache directory are not counted, so `nth` means the output's.
cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")

def failing(real, writes_only=False):
    def replacement(*args, **kwargs):
        global calls
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
        in_cache = bool(args) and str(args[0]).startswith(cache)
        if (not writes_only or "w" in str(mode)) and not in_cache:
            calls += 1
            if calls == nth:
                raise OSError(code, os.strerror(code), str(args[0]) if args else None)
        return real(*args, **kwargs)
    return replacement

if call == "open":
    write.open = failing(builtins.open, writes_only=True)  # compiler.write's writes only
elif call == "exchange":
    write._exchange = failing(write._exchange)
else:  # os.fsync, os.mkdir, os.rename: in this child process only
    setattr(os, call, failing(getattr(os, call)))

from compiler.cli import main
sys.argv = ["infra", *sys.argv[4:]]
main()
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Path, Path]:
    """A project whose templates_out/ holds the example's output."""
    spec = copy_example(tmp_path_factory.mktemp("faults") / "project")
    result = infra_in_process("compile", "--no-lint", "-q", str(spec), cwd=spec.parent)
    assert result.exit_code == 0, result.stderr
    return spec, spec.parent / "templates_out"


def run_faulty(fault: str, call: str, nth: int, *args: str, cwd: Path):
    return subprocess.run(
        [sys.executable, "-c", FAULTY, fault, call, str(nth), *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "call", "nth"),
    [
        ("ENOSPC", "fsync", 3),  # the disk fills up mid-write
        ("ENOSPC", "open", 5),
        ("EDQUOT", "open", 2),
        ("EROFS", "mkdir", 2),  # a read-only filesystem (the 1st: its parent, which exists)
        ("EROFS", "open", 1),
        ("EACCES", "open", 1),
        ("EIO", "fsync", 1),
        ("EBUSY", "exchange", 1),  # the output directory is a mount point, or in use
        ("EBUSY", "rename", 1),
    ],
)
def test_a_filesystem_fault_while_writing_is_one_line(compiled, fault, call, nth):
    spec, out = compiled
    target = out if call != "rename" else spec.parent / "fresh_out"  # rename: a new directory
    before, spec_before = hashes(out), spec.read_bytes()
    result = run_faulty(
        fault, call, nth, "compile", "--no-lint", "--no-cache", str(spec), "-o", str(target),
        cwd=spec.parent,
    )  # fmt: skip
    line = one_line_error(result, EXIT_REFUSED)
    code = getattr(errno, fault)
    assert line == (
        f"infra compile: {target}: cannot write: {os.strerror(code)} ({fault}); "
        "it keeps what it held before"
    )
    assert hashes(out) == before and spec.read_bytes() == spec_before
    assert not target.exists() or target == out
    assert sorted(p.name for p in spec.parent.iterdir() if p.name.startswith(".")) == []


def spec_problem(result, spec: str, message: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output and result.returncode == EXIT_REFUSED, output
    assert result.stderr.splitlines() == [
        f"{spec}:1:1: (document): {message}",
        "1 problem in the spec; nothing was written.",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("fifo", "cannot read the spec: it is a named pipe (FIFO), not a regular file"),
        ("/dev/zero", "cannot read the spec: it is a character device, not a regular file"),
        ("missing", "cannot read the spec: No such file or directory (ENOENT)"),
        ("sparse 10 GB", "the file is 10,000,000,000 bytes; a spec may be at most 1,000,000 bytes"),
        ("x" * 300, "cannot read the spec: File name too long (ENAMETOOLONG)"),
    ],
)
def test_a_spec_that_is_not_a_readable_regular_file_is_refused_unread(tmp_path, make, message):
    spec = tmp_path / "infra.yaml"
    if make == "fifo":
        os.mkfifo(spec)
    elif make == "/dev/zero":
        spec = Path("/dev/zero")
    elif make == "sparse 10 GB":
        with open(spec, "wb") as handle:
            handle.truncate(10_000_000_000)  # reading it whole would take the memory
    elif make != "missing":
        spec = tmp_path / make
    for command in ("validate", "compile"):
        result = run_infra(command, str(spec), cwd=tmp_path, timeout=60)
        spec_problem(result, str(spec), message)
    assert not (tmp_path / "templates_out").exists()


def task_source_problem(tmp_path: Path, source: str, message: str) -> None:
    spec = tmp_path / "project" / "infra.yaml"
    if not spec.exists():
        copy_example(spec.parent)
    text = spec.read_text()
    spec.write_text(text.replace("source: tasks/bucket_report.py", f"source: {source}", 1))
    line_number = next(n for n, line in enumerate(text.splitlines(), 1) if "source:" in line)
    result = run_infra("validate", str(spec), cwd=spec.parent, timeout=60)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and result.returncode == EXIT_REFUSED, output
    assert result.stderr.splitlines() == [
        f"{spec}:{line_number}:13: scheduled_tasks[0].source: {message}",
        "1 problem in the spec; nothing was written.",
    ]


def test_a_task_source_that_is_a_fifo_is_refused_unread(tmp_path):
    copy_example(tmp_path / "project")
    os.mkfifo(tmp_path / "project" / "tasks" / "fifo.py")
    task_source_problem(
        tmp_path, "tasks/fifo.py",
        "task source file 'tasks/fifo.py': it is a named pipe (FIFO), not a regular file",
    )  # fmt: skip


def test_a_task_source_name_too_long(tmp_path):
    name = "tasks/" + "a" * 300 + ".py"
    task_source_problem(
        tmp_path, name, "cannot read task source file: File name too long (ENAMETOOLONG)"
    )


def test_a_task_source_nested_too_deeply_for_python(tmp_path):
    copy_example(tmp_path / "project")
    code = "def handler(event, context):\n    return " + "-" * 30_000 + "1\n"
    (tmp_path / "project" / "tasks" / "deep.py").write_text(code)
    task_source_problem(
        tmp_path, "tasks/deep.py",
        "task source file 'tasks/deep.py' nests too deeply for Python to parse",
    )  # fmt: skip


# Each wrongly shaped dict is refused field by field in-process by
# test_compile_cache_entry_validation_rejects_each_wrong_field (fast); through a process,
# the fast tier runs one entry of each kind (not JSON, not a dict, nested too deeply for
# the parser) and the full tier every one.
every_field = pytest.mark.full  # a compile process per entry (1.5 s of CPU): the full tier's


@pytest.mark.parametrize(
    "entry",
    [
        [],
        "text",
        pytest.param({"format": 1}, marks=every_field),
        pytest.param(
            {"format": 1, "fingerprint": 5, "inputs": [], "outputs": {}, "stacks": {}},
            marks=every_field,
        ),
        pytest.param(
            {"format": 1, "fingerprint": "f", "inputs": {"a": 1}, "outputs": {}, "out_dir": "x",
             "linted_clean": True, "stacks": []},
            marks=every_field,
        ),
        pytest.param(
            {"format": 1, "fingerprint": "f", "inputs": {}, "outputs": {}, "out_dir": "x",
             "linted_clean": "yes", "stacks": [{"stack_name": 1}]},
            marks=every_field,
        ),
        "[" * 100_000,
    ],
)  # fmt: skip
def test_a_compile_cache_entry_of_the_wrong_shape_is_ignored(tmp_path, entry):
    spec = copy_example(tmp_path / "project")
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    first = infra_in_process("compile", "--no-lint", "-q", str(spec), cwd=spec.parent, env=env)
    assert first.exit_code == 0, first.stderr
    (entry_file,) = (cache / "infra-compiler" / "compile").glob("*.json")
    entry_file.write_text(entry if isinstance(entry, str) else json.dumps(entry))
    for _ in range(2):  # the wrong entry is ignored, then replaced by a good one
        again = run_infra("compile", "--no-lint", str(spec), cwd=spec.parent, env=env)
        assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "nothing changed since the last compile" in again.stdout
    assert isinstance(json.loads(entry_file.read_text()), dict)


def test_compile_cache_entry_validation_rejects_each_wrong_field():
    good = {
        "format": compile_cache.FORMAT_VERSION, "fingerprint": "f", "inputs": {"a": "b"},
        "outputs": {"c": "d"}, "out_dir": "/x", "linted_clean": False,
        "stacks": [{"stack_name": "s", "template": "t.json", "resources": 1, "size": 2}],
    }  # fmt: skip
    assert compile_cache._entry_shape_ok(good)
    wrong = {
        "format": 0, "fingerprint": None, "inputs": {"a": 1}, "outputs": [],
        "out_dir": 1, "linted_clean": 1, "stacks": [{"stack_name": "s"}],
    }  # fmt: skip
    for field, value in wrong.items():
        assert not compile_cache._entry_shape_ok({**good, field: value}), field
    assert not compile_cache._entry_shape_ok(
        {**good, "stacks": [{**good["stacks"][0], "size": True}]}
    )


def test_a_lint_cache_entry_of_the_wrong_shape_vouches_for_nothing(tmp_path):
    template = tmp_path / "t.json"
    template.write_text("{}")
    job = LintJob(template, ("us-east-1",))
    from compiler.lint import clean_marker

    marker = clean_marker(job, tmp_path / "cache")
    marker.parent.mkdir(parents=True)
    for wrong in ("directory", "content", "fifo", "link"):
        if wrong == "directory":
            marker.mkdir()
        elif wrong == "content":
            marker.write_text("clean? no")
        elif wrong == "fifo":
            os.mkfifo(marker)
        else:
            (tmp_path / "empty").touch()
            marker.symlink_to(tmp_path / "empty")
        assert not is_empty_entry(marker) and known_clean([job], tmp_path / "cache") == set()
        marker.rmdir() if marker.is_dir() and not marker.is_symlink() else marker.unlink()
    marker.touch()
    assert known_clean([job], tmp_path / "cache") == {template}


def test_names_that_make_one_logical_id_are_an_error_at_both(tmp_path):
    spec = copy_example(tmp_path / "project")
    text = spec.read_text()
    old = "    - name: assets\n"
    assert old in text
    spec.write_text(text.replace(old, old + "    - name: a-1b\n    - name: a1b\n", 1))
    lines = spec.read_text().splitlines()
    first = lines.index("    - name: a-1b") + 1
    result = run_infra("compile", "--no-lint", str(spec), cwd=spec.parent)
    assert result.returncode == EXIT_REFUSED and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{spec}:{first}:13: storage.buckets[1].name: 'a-1b' and storage.buckets[2].name "
        "'a1b' make the same CloudFormation logical ID (A1bBucket); rename one",
        f"{spec}:{first + 1}:13: storage.buckets[2].name: 'a1b' and storage.buckets[1].name "
        "'a-1b' make the same CloudFormation logical ID (A1bBucket); rename one",
        "2 problems in the spec; nothing was written.",
    ]
    assert not (spec.parent / "templates_out").exists()


def test_non_string_keys_and_binary_values_are_located(tmp_path):
    spec = copy_example(tmp_path / "project")
    text = spec.read_text()
    old = "  Team: platform\n"
    assert text.count(old) == 1
    spec.write_text(text.replace(old, old + "  80: http\n  Owner: !!binary aGVsbG8=\n", 1))
    line = spec.read_text().splitlines().index("  80: http") + 1
    result = run_infra("validate", str(spec), cwd=spec.parent)
    assert result.returncode == EXIT_REFUSED and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{spec}:{line}:3: tags.80: the key '80' is read as int, not text; quote it ('80') if "
        "you mean the name",
        f"{spec}:{line + 1}:10: tags.Owner: binary values (!!binary) have no place in a spec; "
        "write text",
        "2 problems in the spec; nothing was written.",
    ]


@pytest.mark.parametrize(
    ("garbage", "note"),
    [
        ("{not json", "on disk is not JSON"),
        ("[1, 2]", "on disk is not a template: not a JSON object"),
        ('{"Resources": []}', "on disk is not a template: Resources is not an object"),
        ('{"Resources": {"X": 5}}', "on disk is not a template: Resources.X is not an object"),
        ('{"Mappings": {"a": 1}}', "on disk is not a template: Mappings is not an object"),
        ("[" * 100_000 + "]" * 100_000, "on disk is JSON nested too deeply"),
    ],
)
def test_diff_against_a_hand_edited_template(compiled, tmp_path, garbage, note):
    spec, out = compiled
    against = tmp_path / "against"
    against.mkdir()
    for path in hashes(out):
        (against / path).parent.mkdir(parents=True, exist_ok=True)
        (against / path).write_bytes((out / path).read_bytes())
    (against / "stackset.json").write_text(garbage)
    result = run_infra("diff", str(spec), "--against", str(against), cwd=spec.parent)
    assert result.returncode == EXIT_DIFFERENT and "Traceback" not in result.stderr, result.stderr
    assert any(
        line.startswith("~ stackset.json") and note in line for line in result.stdout.splitlines()
    ), result.stdout


def test_graph_into_a_path_under_a_file_is_one_line(compiled, tmp_path):
    spec, _ = compiled
    (tmp_path / "afile").write_text("x")
    result = run_infra("graph", str(spec), "-o", str(tmp_path / "afile" / "g.mmd"), cwd=tmp_path)
    line = one_line_error(result, EXIT_REFUSED)
    assert line == f"infra: {tmp_path / 'afile'}: File exists (EEXIST)"


def test_a_fifo_in_the_output_directory_is_never_read(tmp_path):
    """diff and compile read the old output (manifest, templates, marker): a FIFO put in
    a file's place would block them forever if opened for reading."""
    spec = copy_example(tmp_path / "project")
    out = spec.parent / "templates_out"
    first = infra_in_process("compile", "--no-lint", "-q", str(spec), cwd=spec.parent)
    assert first.exit_code == 0, first.stderr
    for name in ("manifest.json", "global.json"):
        (out / name).unlink()
        os.mkfifo(out / name)
    diff = run_infra("diff", str(spec), cwd=spec.parent, timeout=60)
    assert diff.returncode == EXIT_DIFFERENT and "Traceback" not in diff.stderr, diff.stderr
    assert "+ global.json (storefront-production-global): not on disk" in diff.stdout
    again = run_infra("compile", "--no-lint", str(spec), cwd=spec.parent, timeout=60)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert (out / "manifest.json").is_file() and (out / "global.json").is_file()


def test_a_reader_that_goes_away_ends_the_command_quietly(compiled, tmp_path):
    """`infra graph | head`: the pipe closes before the drawing is written. That is the
    reader's choice, not a fault: no message, no traceback, the shell's SIGPIPE status."""
    spec, _ = compiled
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first byte
    try:
        command = [str(Path(sys.executable).with_name("infra")), "graph", str(spec)]
        result = subprocess.run(
            command, cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141


@pytest.mark.parametrize("command", [["graph", "{spec}"], ["schema"]])
def test_a_full_disk_leaves_the_file_graph_or_schema_would_replace_whole(
    compiled, tmp_path, command
):
    """`-o FILE` over an existing file: the disk fills while writing. The old file stays
    whole (not truncated to what fit), and the one line names the file."""
    spec, _ = compiled
    target = tmp_path / "picture.mmd"
    target.write_text("kept: written by hand\n")
    args = [a.format(spec=spec) for a in command]
    result = run_faulty("ENOSPC", "fsync", 1, *args, "-o", str(target), cwd=tmp_path)
    line = one_line_error(result, EXIT_REFUSED)
    assert line == f"infra: {target}: No space left on device (ENOSPC)"
    assert target.read_text() == "kept: written by hand\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.mmd"]


def test_ctrl_c_is_one_line_and_exit_130_not_1(tmp_path):
    """Exit 1 means lint findings (or, for diff, templates that differ): an interrupted
    compile must not say that. Ctrl-C sends SIGINT to the whole process group, as a
    terminal does; the old output stays, or the complete new one is in place."""
    spec = copy_example(tmp_path / "project")
    out = tmp_path / "out"
    command = [str(Path(sys.executable).with_name("infra")), "compile", "--no-cache", str(spec)]
    process = subprocess.Popen(
        [*command, "-o", str(out)], cwd=spec.parent, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    time.sleep(0.5)  # loading, building, writing or linting, as the machine's speed has it
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr) == (130, "infra: interrupted\n"), stderr
    assert not list(tmp_path.glob(".out*"))
    if out.exists():  # written before the interrupt: completely
        listed = json.loads((out / MARKER).read_text())["files"]
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == (
            sorted([*listed, MARKER])
        )


@pytest.mark.parametrize("given_o", [False, True])
def test_a_compile_cache_entry_naming_another_output_directory_is_ignored(tmp_path, given_o):
    """An entry of the right shape whose `out_dir` is elsewhere (a copy of the output,
    or `/`, which the check would walk and hash whole): the compile compiles instead of
    saying nothing changed while its own output is gone."""
    spec = copy_example(tmp_path / "project")
    out = spec.parent / "templates_out"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["compile", "--no-lint", "-q", str(spec), *(["-o", str(out)] if given_o else [])]
    assert infra_in_process(*args, cwd=spec.parent, env=env).exit_code == 0
    elsewhere = tmp_path / "copy"
    out.rename(elsewhere)
    (entry_file,) = (tmp_path / "cache" / "infra-compiler" / "compile").iterdir()
    entry = json.loads(entry_file.read_text())
    entry["out_dir"] = str(elsewhere)
    entry_file.write_text(json.dumps(entry))
    again = run_infra(*args, cwd=spec.parent, env=env)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert hashes(out) == hashes(elsewhere)  # compiled again: the output is back
