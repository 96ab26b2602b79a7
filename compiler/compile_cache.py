"""Skipping a compile that would change nothing.

After a successful compile the pipeline records what it read and what it left behind:
the hash of the bytes it read from every input file (the spec, and the task sources the
spec names), a fingerprint of the compiler (its own source files, the Python version and
every installed package's name and version) and the hash and executable bit of every
file in the output directory. A later compile of the same spec path, environment and
output directory is skipped when all of that still holds: output is deterministic, so
the same inputs through the same compiler give the same bytes, and those bytes are
still on disk. Any difference (an edited task source, an upgraded library, a template
edited or a file added in the output directory) compiles as usual.

Inputs are hashed as the compile read them, not re-read afterwards, so a file saved
while a compile runs is never taken for compiled; paths are absolute but not resolved,
so a symbolic link pointed elsewhere is followed afresh.

The check reads a few hundred kilobytes and imports neither pydantic nor troposphere,
which are most of a compile's start-up (docs/speed.md). `infra compile --no-cache`
skips it; so does a compile through the Python API (`pipeline.compile_spec`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from compiler.caches import cache_root, write_entry

FORMAT_VERSION = 1
COMPILER_DIR = Path(__file__).resolve().parent
METADATA = (".dist-info", ".egg-info", ".egg-link")  # how installers mark a package


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def compiler_fingerprint() -> str:
    """Changes whenever the code that compiles could: our sources, Python, any package."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}\n{sys.version}\n".encode())
    # Shell files too: deploy.sh is assembled from them (deploy_failover.sh).
    sources = [*COMPILER_DIR.rglob("*.py"), *COMPILER_DIR.rglob("*.sh")]
    for path in sorted(sources):
        digest.update(path.relative_to(COMPILER_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    # Installed distributions by name and version (their metadata directories), so an
    # upgrade of troposphere, pydantic, cfn-lint or anything they use invalidates it. A
    # package changed in place at the same version (an editable checkout of a library,
    # `cfn-lint --update-specs`) is not seen: `--no-cache` is for that.
    distributions: set[str] = set()
    for entry in sys.path:
        try:
            distributions.update(n for n in os.listdir(entry or ".") if n.endswith(METADATA))
        except OSError:
            continue
    digest.update("\n".join(sorted(distributions)).encode())
    return digest.hexdigest()


def entry_path(spec_path: Path, environment: str | None, output: Path | None) -> Path:
    """One entry per way of calling compile: the same spec with another -o is another.
    Paths are absolute but not resolved: task sources are found next to the spec path
    as given, so two links to one spec in different directories are different specs."""
    key = json.dumps(
        [
            str(spec_path.absolute()),
            environment,
            str(output.absolute()) if output else None,
            os.getcwd(),  # the default output directory is relative to it
        ]
    )
    return cache_root() / "compile" / f"{_sha256(key.encode())}.json"


def file_state(content: bytes, executable: bool) -> str:
    """What must match for a file to count as unchanged: its bytes and its mode bit."""
    return _sha256(content) + (" executable" if executable else "")


def states_under(directory: Path) -> dict[str, str]:
    """`file_state` of every file under `directory`, by relative path with forward slashes."""
    found = {}
    for path in directory.rglob("*"):
        if path.is_file():
            executable = bool(path.stat().st_mode & 0o111)
            found[path.relative_to(directory).as_posix()] = file_state(
                path.read_bytes(), executable
            )
    return found


def record(
    spec_path: Path,
    environment: str | None,
    output: Path | None,
    *,
    read: dict[str, str],
    out_dir: Path,
    written: Iterable[tuple[str, bytes, bool]],
    stacks: list[dict],
    linted_clean: bool,
) -> None:
    """Remember a successful compile. `read` is every file it read (absolute path ->
    SHA-256 of the bytes read, so an edit made while it ran is not taken for compiled);
    `written` every file it left in `out_dir`: relative path, bytes, executable."""
    entry = {
        "format": FORMAT_VERSION,
        "fingerprint": compiler_fingerprint(),
        "inputs": dict(sorted(read.items())),
        "out_dir": str(out_dir.absolute()),
        "outputs": {path: file_state(content, x) for path, content, x in sorted(written)},
        "linted_clean": linted_clean,
        "stacks": stacks,
    }
    write_entry(
        entry_path(spec_path, environment, output), json.dumps(entry, indent=1).encode("utf-8")
    )


# Larger than any input a compile accepts (a spec is at most 1 MB, a task source 32 KiB).
MAX_INPUT_BYTES = 2_000_000


def _entry_shape_ok(entry: object) -> bool:
    """An entry this version wrote; anything else (another version's, a hand edit, a
    truncated or foreign file that happens to be JSON) is ignored, never trusted."""
    if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION:
        return False
    inputs, outputs, stacks = entry.get("inputs"), entry.get("outputs"), entry.get("stacks")
    return (
        isinstance(entry.get("fingerprint"), str)
        and isinstance(entry.get("out_dir"), str)
        and isinstance(entry.get("linted_clean"), bool)
        and _strings_to_strings(inputs)
        and _strings_to_strings(outputs)
        and isinstance(stacks, list)
        and all(_stack_shape_ok(stack) for stack in stacks)
    )


def _strings_to_strings(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _stack_shape_ok(stack: object) -> bool:
    """What `summary.unchanged_rows` reads of a stack recorded by `pipeline._remember`."""
    if not isinstance(stack, dict):
        return False
    fields = {"stack_name": str, "template": str, "resources": int, "size": int}
    return all(
        isinstance(stack.get(name), kind) and not isinstance(stack.get(name), bool)
        for name, kind in fields.items()
    )


def _out_dir_plausible(recorded: Path, output: Path | None) -> bool:
    """Whether an entry's output directory is one this call could have written: `-o`
    itself, or (by default) a directory inside the working directory."""
    if output is not None:
        return recorded == output.absolute()
    cwd = Path(os.getcwd())
    return recorded.is_absolute() and recorded != cwd and recorded.is_relative_to(cwd)


def unchanged(
    spec_path: Path, environment: str | None, output: Path | None, *, lint: bool
) -> tuple[Path, list[dict]] | None:
    """The output directory and its stacks (as `record` got them) when compiling again
    would change nothing, and with `lint` the templates linted clean; else None.
    Never raises: a cache that cannot be read or checked only means compiling."""
    # read_bounded refuses a FIFO or device put in an input's place, unread
    from compiler.bounded_read import InputTooLarge, NotARegularFile, read_bounded

    unusable = (OSError, ValueError, RecursionError, InputTooLarge, NotARegularFile)
    try:
        entry = json.loads(read_bounded(entry_path(spec_path, environment, output), 10_000_000))
    except unusable:  # unreadable, not a regular file, too large, not JSON: compile
        return None
    if not _entry_shape_ok(entry) or (lint and not entry["linted_clean"]):
        return None
    if not _out_dir_plausible(Path(entry["out_dir"]), output):
        return None  # hand-edited or foreign: never walk and hash `/` or another tree
    try:
        for path, digest in entry["inputs"].items():
            if _sha256(read_bounded(Path(path), MAX_INPUT_BYTES)) != digest:
                return None
        out_dir = Path(entry["out_dir"])
        on_disk = states_under(out_dir)
    except unusable:  # a missing, special or oversized file: compile
        return None
    if on_disk != entry["outputs"] or entry["fingerprint"] != compiler_fingerprint():
        return None
    return out_dir, entry["stacks"]
